"""Ingest: idempotent upserts, out-of-order payloads, skipped steps, native payloads."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from oms.core.errors import UnknownNativeStatus, ValidationFailed
from orders.choices import EventType, Stage
from orders.ingest import ingest_native, ingest_order
from orders.models import Order, OrderEvent
from tests.factories import ShopFactory, order_payload

pytestmark = pytest.mark.django_db


def later(payload, minutes=1, **changes):
    when = datetime.fromisoformat(payload["platform_updated_at"]) + timedelta(
        minutes=minutes
    )
    return {**payload, "platform_updated_at": when.isoformat(), **changes}


def test_the_same_payload_twice_gives_one_order_and_one_event():
    # given
    shop = ShopFactory(platform="taobao")
    payload = order_payload(shop, "WAIT_SELLER_SEND_GOODS")

    # when
    first = ingest_order(shop=shop, payload=payload)
    second = ingest_order(shop=shop, payload=payload)

    # then
    assert (first.outcome, second.outcome) == ("created", "unchanged")
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    order = Order.objects.get()
    assert order.version == 1
    assert order.items.count() == 1
    assert order.total == Decimal("107.80")


def test_an_older_payload_after_a_newer_one_changes_nothing():
    # given an order the platform has since shipped
    shop = ShopFactory(platform="taobao")
    old = order_payload(shop, "WAIT_SELLER_SEND_GOODS")
    new = later(old, native_status="WAIT_BUYER_CONFIRM_GOODS", buyer_message="快点发货")
    ingest_order(shop=shop, payload=old)
    ingest_order(shop=shop, payload=new)
    order = Order.objects.get()
    before = (
        order.native_status,
        order.version,
        order.buyer_message,
        order.events.count(),
    )

    # when the older snapshot arrives late
    result = ingest_order(shop=shop, payload=old)

    # then nothing moves backwards
    order.refresh_from_db()
    assert result.outcome == "stale"
    assert (
        order.native_status,
        order.version,
        order.buyer_message,
        order.events.count(),
    ) == before
    assert order.native_status == "WAIT_BUYER_CONFIRM_GOODS"


def test_a_newer_status_one_step_on_is_a_normal_transition():
    shop = ShopFactory(platform="tiktok")
    payload = order_payload(shop, "UNPAID")
    ingest_order(shop=shop, payload=payload)

    ingest_order(shop=shop, payload=later(payload, native_status="AWAITING_SHIPMENT"))

    order = Order.objects.get()
    assert (order.native_status, order.stage) == (
        "AWAITING_SHIPMENT",
        Stage.AWAITING_SHIPMENT,
    )
    event = order.events.latest("id")
    assert (event.type, event.action, event.actor_kind) == (
        EventType.STATUS_CHANGED,
        "pay",
        "platform",
    )
    assert set(order.deadlines.filter(state="pending").values_list("kind", flat=True)) == {
        "ship_by", "ship_warning_early", "ship_warning_late",
    }  # fmt: skip
    assert order.deadlines.get(kind="pay_by").state == "met"


def test_a_payload_that_skips_states_lands_there_with_a_correction_event():
    # given an unpaid order
    shop = ShopFactory(platform="tiktok")
    payload = order_payload(shop, "UNPAID")
    ingest_order(shop=shop, payload=payload)

    # when the platform next reports it delivered (paid, shipped, collected were missed)
    ingest_order(shop=shop, payload=later(payload, native_status="DELIVERED"))

    # then it is delivered, and the timeline says the platform forced it
    order = Order.objects.get()
    assert (order.native_status, order.stage) == ("DELIVERED", Stage.DELIVERED)
    assert order.paid_at is not None
    assert order.delivered_at is not None
    event = order.events.latest("id")
    assert event.type == EventType.STATUS_CORRECTED
    assert (event.from_status, event.to_status) == ("UNPAID", "DELIVERED")
    assert order.events.count() == 2
    assert list(
        order.deadlines.filter(state="pending").values_list("kind", flat=True)
    ) == ["complete_by"]


def test_a_status_behind_a_local_change_is_not_applied():
    # given an order shipped here, which the platform has not heard of yet
    from orders.services import Actor, apply_event

    shop = ShopFactory(platform="taobao")
    payload = order_payload(shop, "WAIT_SELLER_SEND_GOODS")
    order = ingest_order(shop=shop, payload=payload).order
    apply_event(
        order, "ship", Actor.api_client("erp", organisation_id=shop.organisation_id)
    )

    # when a newer payload still says "waiting to ship" (but a new buyer message)
    ingest_order(shop=shop, payload=later(payload, minutes=5, buyer_message="请用顺丰"))

    # then the status stays, the new message is kept
    order.refresh_from_db()
    assert order.native_status == "WAIT_BUYER_CONFIRM_GOODS"
    assert order.buyer_message == "请用顺丰"
    assert order.events.latest("id").type == EventType.SYNCED


def test_a_platform_status_against_a_closed_order_is_recorded_not_applied():
    # given an order closed here at its pay deadline
    from orders.services import Actor, apply_event

    shop = ShopFactory(platform="tiktok")
    payload = order_payload(shop, "UNPAID")
    order = ingest_order(shop=shop, payload=payload).order
    apply_event(order, "auto_cancel", Actor.system("deadlines"))

    # when the platform reports it paid after all
    ingest_order(
        shop=shop, payload=later(payload, minutes=2, native_status="AWAITING_SHIPMENT")
    )

    # then it stays cancelled and the conflict is on the timeline for a person
    order.refresh_from_db()
    assert order.native_status == "CANCELLED"
    event = order.events.latest("id")
    assert event.type == EventType.STATUS_CONFLICT
    assert event.to_status == "AWAITING_SHIPMENT"


def test_a_platform_deadline_wins_over_the_policy():
    shop = ShopFactory(platform="tiktok")
    due = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    order = ingest_order(
        shop=shop,
        payload=order_payload(shop, "UNPAID", deadlines={"pay_by": due.isoformat()}),
    ).order

    deadline = order.deadlines.get(kind="pay_by")
    assert (deadline.due_at, deadline.source) == (due, "platform")
    assert order.next_deadline_at == due
    # the reminders still follow the policy (the platform sent none)
    created = order.created_at
    assert order.deadlines.get(kind="pay_reminder_first").due_at == created + timedelta(
        minutes=15
    )


def test_a_shop_override_changes_the_computed_deadline():
    shop = ShopFactory(platform="taobao", policy_overrides={"pay_window": "24h"})
    order = ingest_order(shop=shop, payload=order_payload(shop, "WAIT_BUYER_PAY")).order
    assert order.deadlines.get(kind="pay_by").due_at == order.created_at + timedelta(
        hours=24
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"native_status": "NOT_A_STATUS"}, "native_status"),
        ({"created_at": "2026-11-20 10:00:00"}, "created_at"),
        ({"total": 12.5}, "total"),
        ({"items": []}, "items"),
        ({"items": [{"title": "x", "quantity": 0, "unit_price": "1"}]}, "items[0]"),
        ({"currency": "yuan"}, "currency"),
        ({"channel": "tv"}, "channel"),
        (
            {"deadlines": {"whenever": "2026-11-20T10:00:00+00:00"}},
            "deadlines.whenever",
        ),
    ],
)
def test_a_bad_payload_is_refused_with_the_field_and_nothing_is_created(change, field):
    shop = ShopFactory(platform="taobao")
    with pytest.raises(ValidationFailed) as refused:
        ingest_order(shop=shop, payload=order_payload(shop, "WAIT_BUYER_PAY", **change))
    assert refused.value.code == "invalid_input"
    assert field in refused.value.details["fields"]
    assert not Order.objects.exists()


# --- Native payloads ----------------------------------------------------------------


def test_taobao_trade_beijing_times_and_yuan_strings():
    shop = ShopFactory(platform="taobao")
    trade = {
        "tid": "4012345678901234567",
        "status": "WAIT_SELLER_SEND_GOODS",
        "created": "2026-11-20 10:00:00",
        "modified": "2026-11-20 10:05:00",
        "pay_time": "2026-11-20 10:03:00",
        "buyer_nick": "小明",
        "receiver_name": "王小明",
        "receiver_mobile": "13912345678",
        "receiver_state": "广东省",
        "receiver_city": "深圳市",
        "receiver_district": "南山区",
        "receiver_address": "科技园路 1 号",
        "receiver_zip": "518000",
        "payment": "198.00",
        "post_fee": "0.00",
        "discount_fee": "10.00",
        "seller_flag": 1,
        "seller_memo": "送小礼物",
        "orders": {
            "order": [
                {"oid": "1", "outer_sku_id": "TEE-BLK-L", "title": "纯棉T恤",
                 "sku_properties_name": "颜色:黑色;尺码:L", "num": 2, "price": "104.00",
                 "discount_fee": "0", "status": "WAIT_SELLER_SEND_GOODS",
                 "timeout_action_time": "2026-11-22 10:03:00"},
            ]
        },
    }  # fmt: skip
    order = ingest_native(shop=shop, payload=trade, channel="paid_ads").order

    assert order.created_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 20, 2, 3, tzinfo=UTC)
    assert (order.total, order.currency, order.flag) == (
        Decimal("198.00"),
        "CNY",
        "red",
    )
    assert (order.channel, order.seller_memo) == ("paid_ads", "送小礼物")
    item = order.items.get()
    assert (item.sku, item.quantity, item.unit_price) == (
        "TEE-BLK-L",
        2,
        Decimal("104.00"),
    )
    ship_by = order.deadlines.get(kind="ship_by")
    assert (ship_by.due_at, ship_by.source) == (
        datetime(2026, 11, 22, 2, 3, tzinfo=UTC),
        "platform",
    )


def test_aliexpress_pacific_times_money_objects_and_finish_by_end_reason():
    shop = ShopFactory(platform="aliexpress")
    payload = {
        "id": "3012345678901234",
        "order_status": "FINISH",
        "order_end_reason": "buyer_pay_timeout",
        "gmt_create": "2026-07-01 09:00:00",  # PDT, UTC-7
        "gmt_modified": "2026-07-21 09:00:00",
        "order_amount": {"amount": "25.80", "currency_code": "USD"},
        "logistics_amount": {"cent": 300, "cent_factor": 100, "currency_code": "USD"},
        "buyer_info": {"login_id": "us1234", "first_name": "Ann", "last_name": "Lee", "country": "US"},
        "receipt_address": {"contact_person": "Ann Lee", "country": "US", "city": "Austin",
                            "detail_address": "1 Main St", "zip": "73301", "mobile_no": "5125550100"},
        "child_order_list": [{"child_order_id": "1", "sku_code": "CASE-01", "product_name": "Phone case",
                              "product_count": 2, "product_price": {"amount": "11.40", "currency_code": "USD"}}],
    }  # fmt: skip
    order = ingest_native(shop=shop, payload=payload).order

    assert order.created_at == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert (order.stage, order.end_reason) == (Stage.CLOSED, "buyer_pay_timeout")
    assert (order.total, order.shipping_fee) == (Decimal("25.80"), Decimal("3.00"))
    assert order.buyer_nick == "us1234"


def test_tiktok_unix_times_one_line_per_unit_and_the_cancel_alias():
    shop = ShopFactory(
        platform="tiktok", market="GB", timezone="Europe/London", currency="GBP"
    )
    line = {"id": "L1", "sku_id": "999", "seller_sku": "MUG-RED", "product_name": "Mug",
            "sku_name": "Red", "original_price": "8.00", "sale_price": "7.50", "seller_discount": "0.50"}  # fmt: skip
    payload = {
        "id": "576123456789012345",
        "status": "AWAITING_SHIPMENT",
        "create_time": 1763600000,
        "update_time": 1763600600,
        "paid_time": 1763600300,
        "shipping_due_time": 1763859500,
        "payment": {"currency": "GBP", "total_amount": "17.99", "shipping_fee": "2.99",
                    "seller_discount": "1.00", "tax": "0"},
        "recipient_address": {"name": "Sam", "phone_number": "(+44)7700900123", "region_code": "GB",
                              "postal_code": "SW1A 1AA", "address_detail": "10 Downing St",
                              "district_info": [{"address_level": "L1", "address_name": "England"}]},
        "line_items": [line, {**line, "id": "L2"}],
    }  # fmt: skip
    order = ingest_native(shop=shop, payload=payload).order

    assert order.created_at == datetime.fromtimestamp(1763600000, tz=UTC)
    item = order.items.get()
    assert (item.quantity, item.unit_price, item.discount) == (
        2,
        Decimal("8.00"),
        Decimal("1.00"),
    )
    assert order.discount == Decimal(
        "0.00"
    )  # the payment's discount is the lines' discounts
    assert (order.items_total, order.total) == (Decimal("15.00"), Decimal("17.99"))
    assert order.deadlines.get(kind="ship_by").due_at == datetime.fromtimestamp(
        1763859500, tz=UTC
    )

    cancelled = {**payload, "status": "CANCEL", "update_time": 1763601000}
    order = ingest_native(shop=shop, payload=cancelled).order
    assert (order.native_status, order.stage) == ("CANCELLED", Stage.CLOSED)


def test_an_unknown_native_status_is_reported_not_mapped():
    shop = ShopFactory(platform="tiktok")
    with pytest.raises((UnknownNativeStatus, ValidationFailed)):
        ingest_native(
            shop=shop, payload={"id": "1", "status": "TELEPORTED", "create_time": 1}
        )
    assert not Order.objects.exists()


def test_an_order_first_seen_in_a_dispute_returns_to_where_its_times_say_it_was():
    from orders.services import Actor, apply_event

    shop = ShopFactory(platform="aliexpress")
    shipped = (timezone.now() - timedelta(days=3)).isoformat()
    order = ingest_order(
        shop=shop, payload=order_payload(shop, "IN_ISSUE", shipped_at=shipped)
    ).order
    assert (order.stage, order.resume_status, order.in_dispute) == (
        Stage.SHIPPED, "WAIT_BUYER_ACCEPT_GOODS", True,
    )  # fmt: skip

    order = apply_event(order, "close_dispute", Actor.platform("aliexpress"))
    assert order.native_status == "WAIT_BUYER_ACCEPT_GOODS"

    unshipped = ingest_order(shop=shop, payload=order_payload(shop, "IN_FROZEN")).order
    assert (unshipped.stage, unshipped.resume_status) == (
        Stage.AWAITING_SHIPMENT, "WAIT_SELLER_SEND_GOODS",
    )  # fmt: skip
