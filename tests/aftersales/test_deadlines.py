"""Frozen-time tests for every after-sales deadline on every platform (platforms.md
Part 1): one second before it the ``aftersales`` job changes nothing; one second after,
the case is where the platform puts it, the order shows the platform's outcome, and both
timelines say the system did it. Driven from ``aftersales.platforms.case_specs()``: every status
with a ``CaseDue`` is covered."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.models import Case
from aftersales.platforms import case_specs
from orders.choices import ActorKind, EventType, Stage
from orders.ingest import ingest_order
from orders.jobs import run_job
from orders.machine import CANCEL_ORDER, END_DISPUTE, REFUND
from orders.models import Order
from orders.services import Actor, policy_for
from tests.aftersales.helpers import (
    case_in,
    compatible,
    default_has_return,
    new_order,
    path_to,
    snapshot,
    spec_id,
)
from tests.factories import ShopFactory, order_payload

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)

# platforms.md Part 1, "Default deadlines" (TikTok Shop: MY, the factories' market).
WINDOWS = {
    ("taobao", "refund_response_window"): 48 * H,
    ("taobao", "return_ship_window"): 7 * D,
    ("taobao", "return_confirm_window"): 10 * D,
    ("aliexpress", "cancel_response_window"): 48 * H,
    ("aliexpress", "dispute_response_window"): 5 * D,
    ("aliexpress", "dispute_intervention_window"): 7 * D,
    ("aliexpress", "return_ship_window"): 10 * D,
    ("aliexpress", "return_confirm_window"): 7 * D,
    ("tiktok", "cancel_response_window"): 48 * H,
    ("tiktok", "refund_response_window"): 48 * H,
    ("tiktok", "return_ship_window"): 5 * D,
    ("tiktok", "return_confirm_window"): 8 * D,
}

ALL, NONE = "all", "none"
# What the platform does when each deadline passes: (platform, status, has_return) →
# (the case's status, its outcome, the order's status, what is refunded). The case
# covers every line of the order (shipping is not part of a refund), so a refund of it
# closes the order.
EXPIRY = {
    ("taobao", "WAIT_SELLER_AGREE", False):
        ("SUCCESS", Outcome.REFUNDED, "TRADE_CLOSED", ALL),
    ("taobao", "WAIT_SELLER_AGREE", True):
        ("WAIT_BUYER_RETURN_GOODS", None, "WAIT_BUYER_CONFIRM_GOODS", NONE),
    ("taobao", "WAIT_BUYER_RETURN_GOODS", None):
        ("CLOSED", Outcome.EXPIRED, "WAIT_BUYER_CONFIRM_GOODS", NONE),
    ("taobao", "WAIT_SELLER_CONFIRM_GOODS", None):
        ("SUCCESS", Outcome.REFUNDED, "TRADE_CLOSED", ALL),
    ("aliexpress", "IN_CANCEL", None):
        ("CANCELLED", Outcome.APPROVED, "FINISH", ALL),
    ("aliexpress", "WAIT_SELLER_CONFIRM_REFUND", None):
        ("SELLER_RESPONSE_ISSUE_TIMEOUT", Outcome.REFUNDED, "FINISH", ALL),
    ("aliexpress", "SELLER_REFUSE_REFUND", None):
        ("ARBITRATING", None, "IN_ISSUE", NONE),
    ("aliexpress", "WAIT_BUYER_SEND_GOODS", None):
        ("finish", Outcome.EXPIRED, "WAIT_BUYER_ACCEPT_GOODS", NONE),
    ("aliexpress", "WAIT_SELLER_RECEIVE_GOODS", None):
        ("finish", Outcome.REFUNDED, "FINISH", ALL),
    ("tiktok", "CANCELLATION_REQUEST_PENDING", None):
        ("CANCELLATION_REQUEST_SUCCESS", Outcome.APPROVED, "CANCELLED", ALL),
    ("tiktok", "RETURN_OR_REFUND_REQUEST_PENDING", False):
        ("RETURN_OR_REFUND_REQUEST_SUCCESS", Outcome.REFUNDED, "CANCELLED", ALL),
    ("tiktok", "RETURN_OR_REFUND_REQUEST_PENDING", True):
        ("AWAITING_BUYER_SHIP", None, "DELIVERED", NONE),
    ("tiktok", "AWAITING_BUYER_SHIP", None):
        ("RETURN_OR_REFUND_REQUEST_CANCEL", Outcome.EXPIRED, "DELIVERED", NONE),
    ("tiktok", "BUYER_SHIPPED_ITEM", None):
        ("RETURN_OR_REFUND_REQUEST_SUCCESS", Outcome.REFUNDED, "CANCELLED", ALL),
    ("tiktok", "REPLACEMENT_REQUEST_PENDING", None):
        ("REPLACEMENT_REQUEST_COMPLETE", Outcome.REPLACED, "DELIVERED", NONE),
}  # fmt: skip


def expected(platform: str, status: str, has_return: bool):
    return EXPIRY.get((platform, status, has_return)) or EXPIRY.get(
        (platform, status, None)
    )


def expiry_transition(spec, status, has_return):
    """The one transition the system takes when ``status``'s deadline passes."""
    due = spec.status(status).due
    found = [
        t
        for t in spec.transitions_from(status)
        if t.action == due.on_expiry
        and ActorKind.SYSTEM in t.actors
        and compatible(t, has_return)
    ]
    assert len(found) == 1, f"{spec.platform} {status}: {len(found)} expiry steps"
    return found[0]


def due_cases():
    """(spec, status with a deadline, has_return, reached by acts or reported)."""
    for key in sorted(case_specs()):
        spec = case_specs()[key]
        differs = any(t.with_return is not None for t in spec.transitions)
        for status in spec.statuses:
            if status.due is None:
                continue
            for has_return in (False, True) if differs else (default_has_return(spec),):
                ways = ["reported"]
                if status.code != spec.initial and path_to(
                    spec, status.code, has_return
                ):
                    ways.append("acts")
                for way in ways:
                    yield pytest.param(
                        spec.platform, spec.kind, status.code, has_return, way,
                        id=f"{spec_id(spec)}-{status.code}"
                        f"{'-return' if has_return else ''}-{way}",
                    )  # fmt: skip


def open_due(shop, spec, status, has_return, way, at=T0):
    """A case entering ``status`` at ``at`` (opened an hour earlier when walked to)."""
    if way == "acts":
        order = new_order(shop, spec.kind)
        case = case_in(shop, spec, spec.initial, has_return=has_return,
                       now=at - H, order=order)  # fmt: skip
        for transition in path_to(spec, status, has_return):
            actor = (
                Actor.platform(shop.platform)
                if ActorKind.PLATFORM in transition.actors
                else Actor.system("test")
            )
            services.act(case, transition.action, actor, reason="test", now=at)
        case.refresh_from_db()
        assert case.native_status == status
        return case
    return case_in(shop, spec, status, has_return=has_return, now=at)


@pytest.mark.parametrize(
    ("platform", "kind", "status", "has_return", "way"), list(due_cases())
)
def test_deadline_before_nothing_after_the_platforms_outcome(
    platform, kind, status, has_return, way
):
    spec = case_specs()[(platform, kind)]
    shop = ShopFactory(platform=platform)
    case = open_due(shop, spec, status, has_return, way)
    due = spec.status(status).due
    transition = expiry_transition(spec, status, has_return)
    target, outcome, order_status, refunded = expected(platform, status, has_return)
    assert transition.target == target

    # the deadline is the platform's window after entering the status
    assert case.due_at == T0 + WINDOWS[(platform, due.policy)]
    assert case.due_at == T0 + policy_for(shop)[due.policy]
    assert (case.due_action, case.due_source) == (due.on_expiry, "policy")

    # one second before it: the job does nothing at all
    before = snapshot(case)
    run = run_job("aftersales", now=case.due_at - SECOND)
    assert run.counts["applied"] == 0
    assert snapshot(case) == before

    # one second after: exactly the platform's outcome
    run = run_job("aftersales", now=case.due_at + SECOND)
    assert (run.counts["applied"], run.counts["failed"]) == (1, 0), run.errors
    case = Case.objects.get(pk=case.pk)
    order = Order.objects.get(pk=case.order_id)
    assert case.native_status == target
    target_status = spec.status(target)
    if target_status.is_open:
        assert case.state == CaseState.OPEN
        assert case.outcome == ""
    else:
        assert case.state == CaseState.CLOSED
        assert case.outcome == outcome
    assert order.native_status == order_status
    paid = services.paid_amount(order)
    if refunded == ALL:
        wanted = paid if transition.effect == CANCEL_ORDER else case.amount
        assert case.refunded_amount == wanted > 0
        assert order.stage == Stage.CLOSED
    else:
        assert case.refunded_amount == 0
        assert order.stage != Stage.CLOSED
    assert services.money_of(order).refunded <= paid
    if transition.effect == END_DISPUTE or transition.effect == REFUND:
        assert not order.in_dispute
    if not target_status.is_open and order.stage != Stage.CLOSED:
        assert not (order.cancel_requested)
        assert not (order.refund_open)
        assert not order.in_dispute

    # with a timeline entry on the case and on the order, by the system
    new_case_events = case.events.exclude(pk__in=before["case_events"])
    assert [(e.action, e.from_status, e.to_status, e.actor_kind, e.actor_label)
            for e in new_case_events] == [
        (due.on_expiry, status, target, ActorKind.SYSTEM, services.JOB)
    ]  # fmt: skip
    new_order_events = order.events.filter(type=EventType.AFTERSALES).exclude(
        pk__in=before["order_events"]
    )
    assert [(e.action, e.actor_kind) for e in new_order_events] == [
        (f"{kind}.{due.on_expiry}", ActorKind.SYSTEM)
    ]
    # the next deadline, if any, starts now
    if target_status.is_open and target_status.due:
        assert (
            case.due_at
            == case.status_changed_at + policy_for(shop)[target_status.due.policy]
        )
        assert case.status_changed_at == before["case"]["due_at"] + SECOND

    # running the job again does nothing more
    after = snapshot(case)
    run = run_job("aftersales", now=case.status_changed_at)
    assert run.counts["applied"] == 0
    assert snapshot(case) == after


@pytest.mark.parametrize(
    ("platform", "kind", "status", "has_return", "way"),
    [p for p in due_cases() if p.values[-1] == "reported"],
)
def test_a_shop_policy_override_changes_the_window(
    platform, kind, status, has_return, way
):
    spec = case_specs()[(platform, kind)]
    due = spec.status(status).due
    shop = ShopFactory(platform=platform, policy_overrides={due.policy: "90m"})
    case = open_due(shop, spec, status, has_return, way)
    assert case.due_at == T0 + timedelta(minutes=90)

    before = snapshot(case)
    run_job("aftersales", now=T0 + timedelta(minutes=90) - SECOND)
    assert snapshot(case) == before
    run_job("aftersales", now=T0 + timedelta(minutes=90) + SECOND)
    case = Case.objects.get(pk=case.pk)
    assert case.native_status == expiry_transition(spec, status, has_return).target


def test_every_deadline_has_an_expected_outcome():
    statuses = {
        (spec.platform, status.code)
        for spec in case_specs().values()
        for status in spec.statuses
        if status.due
    }
    assert statuses == {(platform, status) for platform, status, _ in EXPIRY}


@pytest.mark.parametrize(
    ("market", "window"),
    [("TH", 24 * H), ("US", 24 * H), ("MY", 48 * H), ("GB", 48 * H), ("SG", 48 * H)],
)
def test_tiktok_cancel_window_by_market(market, window):
    shop = ShopFactory(platform="tiktok", market=market)
    order = new_order(shop, CaseKind.CANCEL)
    # (frozen time: nothing is passed ``now``)
    with time_machine.travel(T0, tick=False):
        case, _ = services.open_case(order, CaseKind.CANCEL, Actor.platform("tiktok"))
    assert case.due_at == T0 + window
    with time_machine.travel(T0 + window - SECOND, tick=False):
        run_job("aftersales")
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    assert Order.objects.get(pk=order.pk).native_status == "AWAITING_SHIPMENT"
    with time_machine.travel(T0 + window + SECOND, tick=False):
        run_job("aftersales")
    case.refresh_from_db()
    assert (case.native_status, case.outcome) == (
        "CANCELLATION_REQUEST_SUCCESS",
        Outcome.APPROVED,
    )
    order.refresh_from_db()
    assert (order.native_status, order.stage) == ("CANCELLED", Stage.CLOSED)
    assert case.refunded_amount == order.total


def test_the_platforms_own_deadline_wins_over_the_policy():
    shop = ShopFactory(platform="taobao")
    order = new_order(shop, CaseKind.REFUND)
    platform_due = T0 + 20 * H
    line = order.items.get()
    case, _ = services.open_case(order, CaseKind.REFUND, Actor.platform("taobao"),
                                 items=[{"item": line.pk, "quantity": 1}], amount="10",
                                 due_at=platform_due, now=T0)  # fmt: skip
    assert (case.due_at, case.due_source) == (platform_due, "platform")
    run_job("aftersales", now=platform_due - SECOND)
    assert Case.objects.get(pk=case.pk).native_status == "WAIT_SELLER_AGREE"
    run_job("aftersales", now=platform_due + SECOND)
    case = Case.objects.get(pk=case.pk)
    assert (case.native_status, case.refunded_amount) == ("SUCCESS", Decimal("10.00"))
    # a partial refund (one of two units): the order goes on
    assert Order.objects.get(pk=order.pk).native_status == "WAIT_BUYER_CONFIRM_GOODS"


def test_an_answered_request_does_not_expire():
    shop = ShopFactory(platform="tiktok")
    order = new_order(shop, CaseKind.CANCEL)
    case, _ = services.open_case(order, CaseKind.CANCEL, Actor.platform("tiktok"),
                                 now=T0)  # fmt: skip
    due = case.due_at
    services.act(case, "reject", Actor.platform("tiktok"), reason="Packed", now=T0 + H)
    before = snapshot(case)
    run_job("aftersales", now=due + SECOND)
    assert snapshot(case) == before
    assert Order.objects.get(pk=order.pk).native_status == "AWAITING_SHIPMENT"


def test_an_expiry_the_order_no_longer_allows_fails_once_and_is_recorded():
    # given a TikTok cancel request whose order shipped meanwhile (the platform's
    # shipping does not end the case here, so the case is still open and due)
    shop = ShopFactory(platform="tiktok")
    order = new_order(shop, CaseKind.CANCEL)
    case, _ = services.open_case(order, CaseKind.CANCEL, Actor.platform("tiktok"),
                                 now=T0)  # fmt: skip
    ingest_order(shop=shop, payload=order_payload(
        shop, "IN_TRANSIT", platform_order_id=order.platform_order_id,
        platform_updated_at=(order.platform_updated_at + H).isoformat(),
        created_at=order.created_at.isoformat(),
    ))  # fmt: skip
    assert Order.objects.get(pk=order.pk).native_status == "IN_TRANSIT"
    assert Case.objects.get(pk=case.pk).state == CaseState.OPEN

    # when the deadline passes
    run = run_job("aftersales", now=case.due_at + SECOND)

    # then the cancel is not approved on a shipped order; the failure is on the case
    assert run.counts["failed"] == 1
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    assert case.due_at is None
    assert case.events.last().action == "expiry_failed"
    assert Order.objects.get(pk=order.pk).native_status == "IN_TRANSIT"
    again = run_job("aftersales", now=T0 + 10 * D)
    assert again.counts["due"] == 0


def test_a_case_closed_by_another_expiry_in_the_same_sweep_stays_closed():
    # given a TikTok return waiting for the seller's confirmation and a replacement
    # request on the same order, both past their deadlines at the same sweep
    shop = ShopFactory(platform="tiktok")
    order = new_order(shop, CaseKind.RETURN)
    platform = Actor.platform("tiktok")
    returned, _ = services.open_case(order, CaseKind.RETURN, platform,
                                     status="BUYER_SHIPPED_ITEM", now=T0)  # fmt: skip
    replacement, _ = services.open_case(order, CaseKind.REPLACEMENT, platform,
                                        now=T0 + 6 * D + H)  # fmt: skip
    assert returned.due_at < replacement.due_at

    # when the sweep refunds the return (every line: the order closes) first
    run = run_job("aftersales", now=replacement.due_at + SECOND)

    # then the replacement closed with the order and is not approved afterwards
    assert run.counts["applied"] == 1
    assert run.counts["skipped"] == 1
    assert Order.objects.get(pk=order.pk).stage == Stage.CLOSED
    replacement = Case.objects.get(pk=replacement.pk)
    assert (replacement.native_status, replacement.outcome) == (
        "REPLACEMENT_REQUEST_PENDING",
        Outcome.ORDER_CLOSED,
    )
    assert replacement.events.count() == replacement.version == 2
