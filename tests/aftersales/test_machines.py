"""Every after-sales machine, generically: each declared transition for each actor kind
allowed to take it, and every action a status does not allow refused with nothing
changed (case, order, both timelines). Parametrized over ``aftersales.platforms.case_specs()``,
so a new platform rule is covered as soon as it is declared."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseState, Outcome
from aftersales.models import Case
from aftersales.platforms import case_specs
from oms.core.errors import InvalidTransition, ValidationFailed
from orders.choices import ActorKind, EventType, Stage
from orders.ingest import ingest_order
from orders.machine import CANCEL_ORDER, END_DISPUTE, KEEP_ORDER, REFUND
from orders.models import Order
from orders.services import Actor, apply_event, policy_for
from tests.aftersales.helpers import (
    actor_of,
    case_in,
    compatible,
    default_has_return,
    entry_of,
    snapshot,
    spec_id,
)
from tests.factories import ShopFactory, make_order, order_payload

pytestmark = pytest.mark.django_db

SPEC_LIST = [case_specs()[key] for key in sorted(case_specs())]


def has_return_of(spec, transition) -> bool:
    if transition.with_return is not None:
        return transition.with_return
    return default_has_return(spec)


def transition_cases():
    for spec in SPEC_LIST:
        for index, transition in enumerate(spec.transitions):
            for source in sorted(transition.sources):
                for actor in sorted(transition.actors):
                    yield pytest.param(
                        spec.platform,
                        spec.kind,
                        index,
                        source,
                        actor,
                        id=f"{spec_id(spec)}-{transition.action}-{source}-{actor}",
                    )


@pytest.mark.parametrize(
    ("platform", "kind", "index", "source", "actor_kind"), list(transition_cases())
)
def test_every_declared_transition(platform, kind, index, source, actor_kind):
    # given a case in the transition's source status
    spec = case_specs()[(platform, kind)]
    transition = spec.transitions[index]
    shop = ShopFactory(platform=platform)
    case = case_in(shop, spec, source, has_return=has_return_of(spec, transition))
    before = snapshot(case)
    order_before = Order.objects.get(pk=case.order_id)
    actor = actor_of(actor_kind, shop)
    now = timezone.now() + timedelta(minutes=5)

    if transition.needs_reason:
        # (a reason is required: without one it is refused and nothing changes)
        with pytest.raises(ValidationFailed):
            services.act(case, transition.action, actor, now=now)
        assert snapshot(case) == before

    # when someone allowed to takes it
    services.act(case, transition.action, actor, reason="test reason", now=now)

    # then the case is in the target status, with its task, outcome and deadline
    case = Case.objects.get(pk=case.pk)
    target = spec.status(transition.target)
    assert case.native_status == transition.target
    assert case.version == before["case"]["version"] + 1
    if target.is_open:
        assert (case.state, case.task, case.outcome) == (
            CaseState.OPEN,
            target.task,
            "",
        )
    else:
        assert case.state == CaseState.CLOSED
        assert case.task == ""
        assert case.outcome == (transition.outcome or target.outcome)
        assert case.resolved_at == now
    policy = policy_for(shop)
    if transition.extends_due:
        window = policy[target.due.policy]
        assert case.due_at == before["case"]["due_at"] + window
        assert case.due_extended
    elif target.is_open and target.due:
        assert case.due_at == now + policy[target.due.policy]
        assert case.due_action == target.due.on_expiry
    else:
        assert case.due_at is None
        assert case.due_action == ""

    # and one entry on each timeline, by this actor
    events = list(case.events.order_by("id"))
    assert len(events) == len(before["case_events"]) + 1
    last = events[-1]
    assert (last.action, last.from_status, last.to_status, last.actor_kind) == (
        transition.action,
        source,
        transition.target,
        actor_kind,
    )
    order = Order.objects.get(pk=case.order_id)
    aftersales_events = order.events.filter(type=EventType.AFTERSALES).exclude(
        pk__in=before["order_events"]
    )
    assert [(e.action, e.actor_kind) for e in aftersales_events] == [
        (f"{kind}.{transition.action}", actor_kind)
    ]

    # and the order shows the transition's effect
    paid = services.paid_amount(order)
    if transition.effect == CANCEL_ORDER:
        assert order.stage == Stage.CLOSED
        assert case.refunded_amount == paid
    elif transition.effect == REFUND:
        assert case.refunded_amount == case.amount > 0
        assert services.money_of(order).refunded <= paid
    elif transition.effect in (KEEP_ORDER, END_DISPUTE):
        assert case.refunded_amount == 0
        assert order.stage == order_before.stage != Stage.CLOSED
        assert not order.cancel_requested
        assert not order.in_dispute
    else:
        assert order.native_status == order_before.native_status
        assert case.refunded_amount == before["case"]["refunded_amount"]
    if not target.is_open and order.stage != Stage.CLOSED:
        # no open case is left on the order: its overlays are down again
        assert not (order.cancel_requested)
        assert not (order.refund_open)
        assert not order.in_dispute


def quick(case: Case) -> tuple:
    """The case row and its order's version (the full snapshot is compared at the end)."""
    row = Case.objects.filter(pk=case.pk).values().get()
    row.pop("updated_at")
    return row, Order.objects.values_list("version", flat=True).get(pk=case.order_id)


def status_cases():
    for spec in SPEC_LIST:
        returns = {True, False} if any(
            t.with_return is not None for t in spec.transitions
        ) else {default_has_return(spec)}  # fmt: skip
        for status in spec.statuses:
            for has_return in sorted(returns):
                try:
                    entry_of(spec, status.code, has_return)
                except AssertionError:
                    continue  # e.g. no return in ACCEPTISSUE (accepted without one)
                yield pytest.param(
                    spec.platform,
                    spec.kind,
                    status.code,
                    has_return,
                    id=f"{spec_id(spec)}-{status.code}"
                    + ("-return" if has_return else ""),
                )


@pytest.mark.parametrize(
    ("platform", "kind", "status", "has_return"), list(status_cases())
)
def test_illegal_actions_are_refused_and_change_nothing(
    platform, kind, status, has_return
):
    # given a case in each status
    spec = case_specs()[(platform, kind)]
    shop = ShopFactory(platform=platform)
    case = case_in(shop, spec, status, has_return=has_return)
    legal = {
        (t.action, actor)
        for t in spec.transitions_from(status)
        if compatible(t, has_return)
        for actor in t.actors
    }
    before = snapshot(case)
    quick_before = quick(case)
    actors = {kind: actor_of(kind, shop) for kind in ActorKind}

    # the seller's buttons are exactly the seller's legal actions
    assert services.actions_for(case) == sorted(
        {a for a, k in legal if k == ActorKind.MEMBER}
    )

    # when every action the status does not allow, or not for that actor, is attempted
    attempted = 0
    for action in sorted({t.action for t in spec.transitions} | {"teleport"}):
        for actor_kind in ActorKind:
            if (action, actor_kind) in legal:
                continue
            attempted += 1
            with pytest.raises(InvalidTransition) as refused:
                services.act(case, action, actors[actor_kind], reason="test reason",
                             amount=Decimal("1"))  # fmt: skip
            # then it is refused with the machine-readable code, and nothing changed
            assert refused.value.code == "invalid_transition"
            assert quick(case) == quick_before, (action, actor_kind)
    assert attempted > 0
    assert snapshot(case) == before


def test_a_case_closed_with_its_order_takes_no_further_action():
    # given a Taobao refund request, still unanswered, when Taobao closes the trade
    shop = ShopFactory(platform="taobao")
    spec = case_specs()[("taobao", "refund")]
    case = case_in(shop, spec, "WAIT_SELLER_AGREE", amount="10")
    apply_event(case.order_id, "close_refunded", Actor.platform("taobao"))
    case = Case.objects.get(pk=case.pk)
    assert (case.state, case.outcome) == (CaseState.CLOSED, Outcome.ORDER_CLOSED)
    assert case.native_status == "WAIT_SELLER_AGREE"  # the platform's last word
    before = snapshot(case)

    # when the seller still acts on it, or anyone would reopen it, it is refused
    for action, kind in [("agree", ActorKind.MEMBER), ("refuse", ActorKind.API_CLIENT),
                         ("agree", ActorKind.SYSTEM)]:  # fmt: skip
        with pytest.raises(InvalidTransition):
            services.act(case, action, actor_of(kind, shop), reason="test reason")
        assert snapshot(case) == before
    assert services.actions_for(case) == []  # and the case page offers no button
    return_case = case_in(shop, case_specs()[("taobao", "return")], "WAIT_SELLER_AGREE")
    apply_event(return_case.order_id, "close_refunded", Actor.platform("taobao"))
    before = snapshot(return_case)
    with pytest.raises(InvalidTransition):  # agreed with a return: would reopen it
        services.act(return_case, "agree", Actor.platform("taobao"))
    assert snapshot(return_case) == before

    # but the platform may still report how it ended (Taobao refunded it)
    services.act(case, "succeed", Actor.platform("taobao"))
    case = Case.objects.get(pk=case.pk)
    assert (case.native_status, case.outcome) == ("SUCCESS", Outcome.REFUNDED)
    assert case.refunded_amount == Decimal("10.00")


def test_a_refused_request_is_not_reapplied_on_a_closed_order():
    shop = ShopFactory(platform="taobao")
    spec = case_specs()[("taobao", "refund")]
    case = case_in(shop, spec, "SELLER_REFUSE_BUYER", amount="10")
    apply_event(case.order_id, "close_refunded", Actor.platform("taobao"))
    before = snapshot(case)
    with pytest.raises(InvalidTransition):
        services.act(case, "reapply", Actor.platform("taobao"))
    assert snapshot(case) == before


def test_a_partly_shipped_tiktok_order_is_never_cancelled_by_request():
    # given a TikTok order that shipped part and is back to awaiting collection
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "PARTIALLY_SHIPPING")
    apply_event(order, "ship", Actor.platform("tiktok"))
    order.refresh_from_db()
    assert (order.native_status, order.stage) == ("AWAITING_COLLECTION",
                                                  Stage.AWAITING_SHIPMENT)  # fmt: skip
    assert order.shipped_at is not None

    # then the buyer's cancel request is refused, nothing opened
    with pytest.raises(InvalidTransition):
        services.open_case(order, "cancel", Actor.platform("tiktok"))
    assert not Case.objects.filter(order=order).exists()


def test_a_cancel_request_open_when_part_ships_is_not_approved():
    # given a TikTok cancel request, and the platform reports a partial shipment and
    # then the rest awaiting collection (the platform's word beats the shipping block)
    shop = ShopFactory(platform="tiktok")
    spec = case_specs()[("tiktok", "cancel")]
    case = case_in(shop, spec, "CANCELLATION_REQUEST_PENDING")
    order = Order.objects.get(pk=case.order_id)
    for status in ("PARTIALLY_SHIPPING", "AWAITING_COLLECTION"):
        ingest_order(shop=shop, payload=order_payload(
            shop, status, platform_order_id=order.platform_order_id,
            platform_updated_at=timezone.now().isoformat(),
            created_at=order.created_at.isoformat(),
        ))  # fmt: skip
    assert Order.objects.get(pk=order.pk).native_status == "AWAITING_COLLECTION"
    case = Case.objects.get(pk=case.pk)
    assert case.is_open
    before = snapshot(case)

    # when the seller approves it, it is refused and nothing changes
    with pytest.raises(InvalidTransition):
        services.act(case, "approve", actor_of(ActorKind.MEMBER, shop))
    assert snapshot(case) == before
