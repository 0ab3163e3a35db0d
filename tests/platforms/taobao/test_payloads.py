"""Every fact of a real Taobao payload (issue 12, Build 5), through the public doors:
``orders.ingest.ingest_native`` (webhooks, seed, connectors) and the bulk-upsert API
with ``format``; refunds through the case ingest API. Payloads are TOP responses with
their envelopes (``trade_fullinfo_get_response``, ``trades_sold_get_response``,
``error_response``), field names as TOP spells them (platforms.md §2.5)."""

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from aftersales.models import Case
from oms.core.errors import PlatformErrorResponse
from orders.choices import Stage
from orders.ingest import ingest_native
from orders.models import Order
from tests.factories import ShopFactory
from tests.ingest.helpers import bulk, post_case

pytestmark = pytest.mark.django_db

TID = "4012345678901234567"


def trade(**overrides):
    """A shipped trade of two sub-orders: a 20.00 shop voucher is divided over the
    lines (divide_order_fee), one line also got a 5.00 seller price adjustment."""
    body = {
        "tid": TID,
        "status": "WAIT_BUYER_CONFIRM_GOODS",
        "created": "2026-11-11 00:01:02",
        "modified": "2026-11-12 09:30:00",
        "pay_time": "2026-11-11 00:02:30",
        "consign_time": "2026-11-12 09:30:00",
        "buyer_nick": "t**1",
        "receiver_name": "张*",
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "西湖区",
        "receiver_address": "文三路**号",
        "receiver_zip": "310000",
        "receiver_mobile": "138****1234",
        "post_fee": "8.00",
        "total_fee": "199.70",
        "discount_fee": "20.00",
        "payment": "182.70",
        "orders": {
            "order": [
                {
                    "oid": "4012345678901234568",
                    "title": "T-shirt",
                    "outer_sku_id": "TS-BLK-L",
                    "sku_properties_name": "颜色:黑色;尺码:L",
                    "num": 2,
                    "price": "49.90",
                    "total_fee": "99.80",
                    "payment": "89.80",
                    "divide_order_fee": "89.80",
                    "status": "WAIT_BUYER_CONFIRM_GOODS",
                    "refund_status": "NO_REFUND",
                },
                {
                    "oid": "4012345678901234569",
                    "title": "Cap",
                    "outer_sku_id": "CAP-RED",
                    "num": 1,
                    "price": "99.90",
                    "total_fee": "99.90",
                    "adjust_fee": "-5.00",
                    "payment": "94.90",
                    "divide_order_fee": "84.90",
                    "status": "WAIT_BUYER_CONFIRM_GOODS",
                    "refund_status": "NO_REFUND",
                },
            ]
        },
    }
    body.update(overrides)
    return body


def fullinfo(body=None):
    return {"trade_fullinfo_get_response": {"trade": body or trade()}}


@pytest.fixture
def shop(db):
    return ShopFactory(platform="taobao")


def lines(order: Order):
    return {item.line_id: item for item in order.items.all()}


# --- a. whole API responses -----------------------------------------------------------


def test_a_fullinfo_response_with_its_envelope_is_ingested(shop):
    order = ingest_native(shop=shop, payload=fullinfo()).order
    assert order.platform_order_id == TID
    assert order.stage == Stage.SHIPPED
    assert set(lines(order)) == {"4012345678901234568", "4012345678901234569"}


def test_a_sold_list_response_yields_every_trade_through_bulk_upsert(shop):
    second = trade(tid="4012345678901234999", status="WAIT_SELLER_SEND_GOODS")
    response = bulk(
        shop,
        {
            "format": "taobao",
            "shop": shop.pk,
            "orders": [
                {
                    "trades_sold_get_response": {
                        "total_results": 2,
                        "trades": {"trade": [trade(), second]},
                    }
                }
            ],
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ok"] == 2
    assert body["failed"] == 0
    assert [(r["index"], r["position"]) for r in body["results"]] == [(0, 0), (0, 1)]
    assert set(shop.orders.values_list("platform_order_id", flat=True)) == {
        TID,
        "4012345678901234999",
    }


def test_a_per_entry_native_format_with_payload(shop):
    response = bulk(
        shop,
        {"orders": [{"shop": shop.pk, "format": "taobao", "payload": fullinfo()}]},
    )
    assert response.json()["results"][0]["outcome"] == "created"


def test_a_top_error_response_is_a_clear_refusal(shop):
    error = {
        "error_response": {
            "code": 27,
            "msg": "Invalid session",
            "sub_code": "invalid-sessionkey",
            "sub_msg": "SessionKey非法",
        }
    }
    with pytest.raises(PlatformErrorResponse) as raised:
        ingest_native(shop=shop, payload=error)
    assert raised.value.http_status == 400
    assert raised.value.details["platform_code"] == "27"
    result = bulk(shop, {"format": "taobao", "shop": shop.pk, "orders": [error]})
    row = result.json()["results"][0]
    assert row["ok"] is False
    assert row["error"]["code"] == "platform_error_response"
    assert not shop.orders.exists()


def test_a_native_format_for_a_shop_of_another_platform_is_refused(shop):
    other = ShopFactory(platform="tiktok", organisation=shop.organisation)
    response = bulk(
        shop, {"format": "taobao", "shop": other.pk, "orders": [fullinfo()]}
    )
    assert response.json()["results"][0]["error"]["code"] == "invalid_input"
    assert not Order.objects.exists()


# --- b. line amounts -------------------------------------------------------------------


def test_line_amounts_are_what_the_buyer_paid_after_the_divided_discount(shop):
    order = ingest_native(shop=shop, payload=fullinfo()).order
    shirt, cap = (
        lines(order)["4012345678901234568"],
        lines(order)["4012345678901234569"],
    )
    assert shirt.unit_price * shirt.quantity - shirt.discount == Decimal("89.80")
    assert cap.unit_price * cap.quantity - cap.discount == Decimal("84.90")
    assert order.items_total == Decimal("174.70")
    assert order.total == Decimal("182.70")
    # The voucher is already in the lines: the order adds no second discount.
    assert order.items_total + order.shipping_fee - order.discount == order.total


# --- c. + d. line ids and a refund on one sub-order -------------------------------------


def test_a_sub_order_refund_opens_its_case_on_that_line_only(shop):
    body = trade()
    body["orders"]["order"][1]["refund_status"] = "WAIT_SELLER_AGREE"
    order = ingest_native(shop=shop, payload=fullinfo(body)).order
    order.refresh_from_db()
    case = Case.objects.get(order=order)
    assert [i.order_item.line_id for i in case.items.all()] == ["4012345678901234569"]
    assert case.native_status == "WAIT_SELLER_AGREE"
    assert order.stage == Stage.SHIPPED  # the trade is still shipped
    assert order.refund_open  # and the refund pauses the auto-confirm
    assert order.next_deadline_kind != "confirm_by"
    # The same refund pushed later names the sub-order: it is that case.
    response = post_case(
        shop,
        {
            "cases": [
                {
                    "refund_get_response": {
                        "refund": {
                            "refund_id": "7001",
                            "tid": TID,
                            "oid": "4012345678901234569",
                            "status": "WAIT_SELLER_AGREE",
                            "refund_fee": "84.90",
                            "has_good_return": False,
                            "created": "2026-11-12 10:00:00",
                            "modified": "2026-11-12 10:00:00",
                        }
                    }
                }
            ]
        },
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["ok"], response.json()
    assert Case.objects.filter(order=order).count() == 1


def test_a_refund_naming_a_sub_order_covers_that_line(shop):
    order = ingest_native(shop=shop, payload=fullinfo()).order
    response = post_case(
        shop,
        {
            "cases": [
                {
                    "refund_id": "7002",
                    "tid": TID,
                    "oid": "4012345678901234568",
                    "status": "WAIT_SELLER_AGREE",
                    "refund_fee": "44.90",
                    "num": 1,
                    "created": "2026-11-12 10:00:00",
                    "modified": "2026-11-12 10:00:00",
                }
            ]
        },
    )
    assert response.json()["results"][0]["ok"], response.json()
    case = Case.objects.get(order=order)
    assert [(i.order_item.line_id, i.quantity) for i in case.items.all()] == [
        ("4012345678901234568", 1)
    ]


# --- e. phones ---------------------------------------------------------------------------


def test_a_masked_mobile_stays_masked_with_its_country_code_apart(shop):
    order = ingest_native(shop=shop, payload=fullinfo()).order
    assert order.buyer_phone == "138****1234"
    assert order.buyer_phone_country_code == "+86"
    assert order.buyer_phone_e164 == ""  # never a number that looks real


def test_an_unmasked_mobile_gets_its_e164(shop):
    order = ingest_native(
        shop=shop, payload=fullinfo(trade(receiver_mobile="13812345678"))
    ).order
    assert order.buyer_phone == "13812345678"
    assert order.buyer_phone_e164 == "+8613812345678"


# --- f. currency -------------------------------------------------------------------------


def test_a_unified_order_without_currency_is_refused_not_stored_as_cny(shop):
    from tests.factories import order_payload

    payload = order_payload(shop, "WAIT_SELLER_SEND_GOODS")
    payload.pop("currency")
    payload["shop"] = shop.pk
    result = bulk(shop, {"orders": [payload]}).json()["results"][0]
    assert result["ok"] is False
    assert result["error"]["details"]["fields"]["currency"].startswith(
        "currency_required"
    )
    assert not shop.orders.exists()


# --- g. time zone ------------------------------------------------------------------------


def test_times_are_beijing_by_default_and_the_zone_is_a_setting(shop, settings):
    order = ingest_native(shop=shop, payload=fullinfo()).order
    assert order.created_at == datetime(2026, 11, 10, 16, 1, 2, tzinfo=UTC)
    settings.OMS_PLATFORM_TIMEZONES = {"taobao": "UTC"}
    other = copy.deepcopy(trade(tid="4012345678901230000"))
    order = ingest_native(shop=shop, payload=fullinfo(other)).order
    assert order.created_at == datetime(2026, 11, 11, 0, 1, 2, tzinfo=UTC)
