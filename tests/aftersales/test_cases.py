"""After-sales cases through the service: open, decide, effects on the order."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.models import Case
from oms.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from orders.choices import EventType, Role, Stage
from orders.jobs import run_job
from orders.models import Order
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order, order_in

pytestmark = pytest.mark.django_db


def platform(order: Order) -> Actor:
    return Actor.platform(order.platform)


def member(shop, role=Role.CUSTOMER_SERVICE) -> Actor:
    return Actor.member(MembershipFactory(organisation=shop.organisation, role=role))


def reload(obj):
    obj.refresh_from_db()
    return obj


def test_tiktok_cancel_request_blocks_shipping_and_approval_cancels(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, created = services.open_case(order, CaseKind.CANCEL, platform(order),
                                       reason="changed_mind")  # fmt: skip
    assert created
    assert case.native_status == "CANCELLATION_REQUEST_PENDING"
    assert case.amount == order.total
    assert reload(order).cancel_requested is True
    assert case.due_at == case.opened_at + timedelta(hours=48)
    with pytest.raises(InvalidTransition):
        services.open_case(order, CaseKind.CANCEL, platform(order))

    services.act(case, "approve", member(shop))
    case = reload(case)
    order = reload(order)
    assert (case.state, case.outcome) == (CaseState.CLOSED, Outcome.APPROVED)
    assert case.refunded_amount == order.total
    assert order.native_status == "CANCELLED"
    assert order.cancel_requested is False
    assert order.events.filter(type=EventType.AFTERSALES).count() == 2
    assert list(case.events.values_list("action", flat=True)) == ["open", "approve"]


def test_reject_needs_a_reason_and_keeps_the_order(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    with pytest.raises(ValidationFailed):
        services.act(case, "reject", member(shop))
    assert reload(case).state == CaseState.OPEN
    services.act(case, "reject", member(shop), reason="Already packed")
    assert reload(case).outcome == Outcome.REJECTED
    order = reload(order)
    assert order.native_status == "AWAITING_SHIPMENT"
    assert order.cancel_requested is False


def test_warehouse_may_not_decide(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    with pytest.raises(PermissionDenied):
        services.act(case, "approve", member(shop, Role.WAREHOUSE))
    assert reload(case).state == CaseState.OPEN


def test_tiktok_cancel_unanswered_is_cancelled_by_the_job_th_in_24h(db):
    shop = ShopFactory(platform="tiktok", market="TH")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    assert case.due_at - case.opened_at == timedelta(hours=24)
    run_job("aftersales", now=case.due_at - timedelta(seconds=1))
    assert reload(case).state == CaseState.OPEN
    run_job("aftersales", now=case.due_at + timedelta(seconds=1))
    assert reload(case).outcome == Outcome.APPROVED
    assert reload(order).native_status == "CANCELLED"
    assert reload(case).events.last().actor_kind == "system"


def test_aliexpress_cancel_moves_the_order_in_and_out_of_in_cancel(db):
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    assert reload(order).native_status == "IN_CANCEL"
    services.act(case, "reject", member(shop), reason="Shipped today")
    assert reload(order).native_status == "WAIT_SELLER_SEND_GOODS"
    assert reload(case).native_status == "CANCEL_REFUSED"


def test_aliexpress_order_deadline_closes_the_cancel_case_too(db):
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    run_job("deadlines", now=case.due_at + timedelta(seconds=1))
    order = reload(order)
    assert order.native_status == "FINISH"
    assert order.stage == Stage.CLOSED
    case = reload(case)
    assert case.state == CaseState.CLOSED
    assert case.outcome == Outcome.APPROVED
    # The case job then finds nothing left to do.
    run = run_job("aftersales", now=case.opened_at + timedelta(days=3))
    assert run.counts["applied"] == 0


def test_taobao_partial_refund_keeps_the_order_full_refund_closes_it(db):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    item = order.items.get()
    first, _ = services.open_case(order, CaseKind.REFUND, platform(order),
                                  items=[{"item": item.pk, "quantity": 1}])  # fmt: skip
    assert first.amount == Decimal("49.90")
    assert reload(order).refund_open is True
    services.act(first, "agree", member(shop))
    order = reload(order)
    assert order.native_status == "WAIT_BUYER_CONFIRM_GOODS"
    assert order.refund_open is False
    second, _ = services.open_case(order, CaseKind.REFUND, platform(order),
                                   amount="57.90")  # fmt: skip
    services.act(second, "agree", member(shop))
    order = reload(order)
    assert order.native_status == "TRADE_CLOSED"
    assert services.money_of(order).refunded == order.total


def test_refund_over_the_paid_amount_is_refused(db):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    with pytest.raises(ValidationFailed):
        services.open_case(order, CaseKind.REFUND, platform(order), amount="500")
    assert not Case.objects.exists()


def test_auto_confirm_waits_while_a_refund_is_open(db):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    assert order.next_deadline_kind == "confirm_by"
    services.open_case(order, CaseKind.REFUND, platform(order), amount="10")
    order = reload(order)
    assert order.next_deadline_kind != "confirm_by"
    run_job("deadlines", now=timezone.now() + timedelta(days=11))
    assert reload(order).native_status == "WAIT_BUYER_CONFIRM_GOODS"


def test_taobao_return_flow_and_its_deadlines(db):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    case, _ = services.open_case(order, CaseKind.RETURN, platform(order), amount="20")
    # Unanswered for 48 h: agreed, the buyer must return the goods within 7 days.
    run_job("aftersales", now=case.due_at + timedelta(seconds=1))
    case = reload(case)
    assert case.native_status == "WAIT_BUYER_RETURN_GOODS"
    services.act(case, "buyer_return", platform(order), return_tracking_number="SF1")
    case = reload(case)
    assert case.native_status == "WAIT_SELLER_CONFIRM_GOODS"
    # Not confirmed within 10 days: refunded.
    run_job("aftersales", now=case.due_at + timedelta(seconds=1))
    case = reload(case)
    assert case.native_status == "SUCCESS"
    assert case.refunded_amount == Decimal("20.00")


def test_aliexpress_dispute_timeout_executes_the_buyers_proposal(db):
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_BUYER_ACCEPT_GOODS")
    case, _ = services.open_case(order, CaseKind.DISPUTE, platform(order))
    order = reload(order)
    assert order.native_status == "IN_ISSUE"
    assert order.in_dispute
    assert case.due_at - case.opened_at == timedelta(days=5)
    run_job("aftersales", now=case.due_at + timedelta(seconds=1))
    case = reload(case)
    assert case.native_status == "SELLER_RESPONSE_ISSUE_TIMEOUT"
    # Every item refunded (shipping is not part of a dispute): the order closes.
    assert case.refunded_amount == Decimal("99.80")
    order = reload(order)
    assert order.native_status == "FINISH"
    assert order.stage == Stage.CLOSED


def test_aliexpress_dispute_refused_with_proposal_then_arbitrated_for_seller(db):
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_BUYER_ACCEPT_GOODS")
    case, _ = services.open_case(order, CaseKind.DISPUTE, platform(order))
    services.act(case, "refuse", member(shop), reason="Tracking shows delivered",
                 proposal={"amount": "5.00", "return": False},
                 evidence=["https://example.com/pod.jpg"])  # fmt: skip
    case = reload(case)
    assert case.native_status == "SELLER_REFUSE_REFUND"
    assert case.proposal == {"amount": "5.00", "return": False}
    services.act(case, "escalate", member(shop))
    services.act(case, "decide_for_seller", platform(order))
    case = reload(case)
    assert case.outcome == Outcome.SELLER_WON
    assert case.refunded_amount == 0
    order = reload(order)
    assert order.native_status == "WAIT_BUYER_ACCEPT_GOODS"
    assert not order.in_dispute


def test_platform_cancelling_the_order_closes_open_cases(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, _ = services.open_case(order, CaseKind.CANCEL, platform(order))
    from orders.services import apply_event

    apply_event(order, "ship_timeout", Actor.system("test"))
    case = reload(case)
    assert case.state == CaseState.CLOSED
    assert case.outcome == Outcome.ORDER_CLOSED


def test_tiktok_return_confirm_window_extends_once(db):
    shop = ShopFactory(platform="tiktok")
    order = order_in(shop, "DELIVERED")
    case, _ = services.open_case(order, CaseKind.RETURN, platform(order),
                                 status="BUYER_SHIPPED_ITEM")  # fmt: skip
    due = case.due_at
    services.act(case, "extend_confirm", member(shop))
    assert reload(case).due_at == due + timedelta(days=8)
    with pytest.raises(InvalidTransition):
        services.act(case, "extend_confirm", member(shop))


def test_same_platform_case_id_is_opened_once(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    first, created = services.open_case(order, CaseKind.CANCEL, platform(order),
                                        platform_case_id="C1")  # fmt: skip
    again, created_again = services.open_case(order, CaseKind.CANCEL, platform(order),
                                              platform_case_id="C1")  # fmt: skip
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Case.objects.count() == 1


def test_an_order_ingested_in_cancel_gets_its_case_and_loses_it_when_closed(db):
    from orders.ingest import ingest_order
    from tests.factories import order_payload

    shop = ShopFactory(platform="aliexpress")
    order = order_in(shop, "IN_CANCEL")  # reached through request_cancel
    case = Case.objects.get(order=order, kind=CaseKind.CANCEL)
    assert case.state == CaseState.OPEN
    assert case.due_at is not None

    fresh = make_order(shop, "IN_CANCEL")
    assert Case.objects.filter(order=fresh, state=CaseState.OPEN).count() == 1
    # The platform reports the order cancelled: the case closes with it.
    payload = order_payload(
        shop,
        "FINISH",
        platform_order_id=fresh.platform_order_id,
        end_reason="buyer_cancel_order",
        platform_updated_at=(timezone.now() + timedelta(minutes=5)).isoformat(),
    )
    ingest_order(shop=shop, payload=payload)
    case = Case.objects.get(order=fresh)
    assert case.state == CaseState.CLOSED
    assert reload(fresh).cancel_requested is False


def test_tiktok_buyer_cancel_flag_from_the_platform_opens_a_case(db):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT", cancel_requested=True)
    case = Case.objects.get(order=order)
    assert case.kind == CaseKind.CANCEL
    assert case.task == "respond"


def test_auto_confirm_resumes_with_the_time_it_had_left(db):
    from orders.models import OrderDeadline

    shop = ShopFactory(platform="taobao")
    start = timezone.now()
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    confirm = OrderDeadline.objects.get(order=order, kind="confirm_by")
    left = confirm.due_at - (start + timedelta(days=2))
    with time_machine.travel(start + timedelta(days=2), tick=False):
        case, _ = services.open_case(
            order, CaseKind.REFUND, platform(order), amount="5"
        )
    confirm.refresh_from_db()
    assert confirm.state == "paused"
    assert abs(confirm.remaining - left) < timedelta(seconds=5)
    # The refund takes 5 days; auto-confirm does not fire meanwhile.
    with time_machine.travel(start + timedelta(days=7), tick=False):
        run_job("deadlines")
        assert reload(order).native_status == "WAIT_BUYER_CONFIRM_GOODS"
        services.act(case, "refuse", member(shop), reason="Not as described? No.")
    confirm.refresh_from_db()
    assert confirm.state == "pending"
    assert abs(confirm.due_at - (start + timedelta(days=7) + left)) < timedelta(
        seconds=5
    )
    run_job("deadlines", now=confirm.due_at - timedelta(seconds=1))
    assert reload(order).native_status == "WAIT_BUYER_CONFIRM_GOODS"
    run_job("deadlines", now=confirm.due_at + timedelta(seconds=1))
    assert reload(order).native_status == "TRADE_FINISHED"


def test_the_order_page_shows_a_paused_auto_confirm(db, client, settings):
    settings.LANGUAGE_CODE = "en"
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    services.open_case(order, CaseKind.REFUND, platform(order), amount="5")
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client.force_login(membership.user)
    page = client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "paused while a refund is open" in page.content.decode()


def test_an_overlay_a_case_raises_is_committed_with_its_order_entry(db):
    # given an order without a cancel request
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    version, events = order.version, order.events.count()

    # when a cancel case opens (raising cancel_requested on the order)
    services.open_case(order, CaseKind.CANCEL, platform(order), reason="changed_mind")

    # then the version bump comes with exactly one order entry, which names the overlay
    order = reload(order)
    assert order.cancel_requested is True
    assert (order.version, order.events.count()) == (version + 1, events + 1)
    entry = order.events.latest("id")
    assert (entry.type, entry.action) == (EventType.AFTERSALES, "cancel.open")
    assert entry.data["overlays"] == {"cancel_requested": [False, True]}
