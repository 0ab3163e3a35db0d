"""Shared set-up for the after-sales machine, deadline and stateful tests.

``case_in`` brings a case into any status of its platform's machine the way the platform
would: a request the platform reports in an open status is opened in it
(``open_case(status=…)``); a status only reached by acting (a closed one, or an open one
entered from another) is walked to from the case's first status by the acts the
platform reports.
"""

from collections import deque
from datetime import datetime
from decimal import Decimal

from aftersales import services
from aftersales.choices import CaseKind
from aftersales.models import Case, CaseEvent, CaseItem
from orders.choices import ActorKind, Role, Stage
from orders.machine import CaseSpec, CaseTransition
from orders.models import Order, OrderDeadline, OrderEvent, Shop
from orders.platforms import get_spec
from orders.services import Actor
from tests.factories import MembershipFactory, make_order

# The order status each kind of request is opened on, where the platform's first
# matching status is not the natural one (TikTok returns are asked for once delivered).
ORDER_STATUS = {
    ("taobao", CaseKind.REFUND): "WAIT_BUYER_CONFIRM_GOODS",
    ("taobao", CaseKind.RETURN): "WAIT_BUYER_CONFIRM_GOODS",
    ("aliexpress", CaseKind.CANCEL): "WAIT_SELLER_SEND_GOODS",
    ("aliexpress", CaseKind.DISPUTE): "WAIT_BUYER_ACCEPT_GOODS",
    ("tiktok", CaseKind.CANCEL): "AWAITING_SHIPMENT",
    ("tiktok", CaseKind.REFUND): "DELIVERED",
    ("tiktok", CaseKind.RETURN): "DELIVERED",
    ("tiktok", CaseKind.REPLACEMENT): "DELIVERED",
    ("tiktok", CaseKind.DISPUTE): "DELIVERED",
}
# Otherwise: the first ordinary status of the platform in one of these stages.
PREFERRED_STAGES = {
    CaseKind.CANCEL: (Stage.AWAITING_SHIPMENT,),
}
DEFAULT_STAGES = (Stage.DELIVERED, Stage.SHIPPED, Stage.COMPLETED)


def order_status_for(platform: str, kind: str) -> str:
    if (platform, kind) in ORDER_STATUS:
        return ORDER_STATUS[(platform, kind)]
    spec = get_spec(platform)
    for stage in PREFERRED_STAGES.get(kind, DEFAULT_STAGES):
        for status in spec.statuses:
            if status.stage == stage and not status.terminal:
                return status.code
    raise AssertionError(f"no order status for a {platform} {kind} request")


def spec_id(spec: CaseSpec) -> str:
    return f"{spec.platform}-{spec.kind}"


def default_has_return(spec: CaseSpec) -> bool:
    return spec.kind == CaseKind.RETURN


def compatible(transition: CaseTransition, has_return: bool) -> bool:
    return transition.with_return is None or transition.with_return == has_return


def actor_of(kind: ActorKind, shop: Shop) -> Actor:
    """An actor of ``kind`` allowed everything its kind may do (an owner, an API key)."""
    if kind == ActorKind.MEMBER:
        return Actor.member(
            MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
        )
    if kind == ActorKind.API_CLIENT:
        return Actor.api_client("erp", organisation_id=shop.organisation_id)
    if kind == ActorKind.PLATFORM:
        return Actor.platform(shop.platform)
    return Actor.system("test")


def preferred_actor(transition: CaseTransition) -> ActorKind:
    """Who reports a step when walking to a status: the platform when it can."""
    for kind in (ActorKind.PLATFORM, ActorKind.SYSTEM, ActorKind.MEMBER):
        if kind in transition.actors:
            return kind
    return next(iter(sorted(transition.actors)))


def path_to(
    spec: CaseSpec, status: str, has_return: bool, *, start: str | None = None
) -> list[CaseTransition] | None:
    """The shortest walk of moving transitions from ``start`` (the first status) to
    ``status``, or None."""
    start = start or spec.initial
    seen = {start}
    queue: deque[tuple[str, list[CaseTransition]]] = deque([(start, [])])
    while queue:
        code, path = queue.popleft()
        if code == status:
            return path
        for transition in spec.transitions_from(code):
            if not compatible(transition, has_return) or transition.target in seen:
                continue
            seen.add(transition.target)
            queue.append((transition.target, [*path, transition]))
    return None


def entry_of(
    spec: CaseSpec, status: str, has_return: bool
) -> tuple[str, list[CaseTransition]]:
    """Where the platform reports the case first and the acts from there to ``status``:
    open statuses are reported as they are, closed ones are walked to from the nearest
    open status."""
    if spec.status(status).is_open:
        return status, []
    best: tuple[str, list[CaseTransition]] | None = None
    for candidate in spec.statuses:
        if not candidate.is_open:
            continue
        path = path_to(spec, status, has_return, start=candidate.code)
        if path is not None and (best is None or len(path) < len(best[1])):
            best = (candidate.code, path)
    if best is None:
        raise AssertionError(f"{spec_id(spec)}: no way into {status}")
    return best


def new_order(shop: Shop, kind: str, **overrides) -> Order:
    return make_order(shop, order_status_for(shop.platform, kind), **overrides)


def case_in(
    shop: Shop,
    spec: CaseSpec,
    status: str,
    *,
    has_return: bool | None = None,
    via_acts: bool = False,
    now: datetime | None = None,
    order: Order | None = None,
    amount: Decimal | str | None = None,
) -> Case:
    """A case of ``spec`` on a new order of ``shop``, in ``status``.

    ``via_acts``: open it in its first status and walk there by acts (each at ``now``),
    instead of the platform reporting it already in ``status``.
    """
    has_return = default_has_return(spec) if has_return is None else has_return
    order = order or new_order(shop, spec.kind)
    if via_acts:
        path = path_to(spec, status, has_return)
        if path is None:
            raise AssertionError(f"{spec_id(spec)}: no walk to {status}")
        first = spec.initial
    else:
        first, path = entry_of(spec, status, has_return)
    case, created = services.open_case(
        order,
        spec.kind,
        Actor.platform(shop.platform),
        status=first,
        has_return=has_return,
        reason="test",
        amount=amount,
        now=now,
    )
    assert created
    for transition in path:
        services.act(
            case,
            transition.action,
            actor_of(preferred_actor(transition), shop),
            reason="test",
            now=now,
        )
    case.refresh_from_db()
    assert case.native_status == status, (case.native_status, status)
    return case


def snapshot(case: Case) -> dict:
    """Everything an act on ``case`` could change: the case row and its lines, its
    order's row and deadlines, the order's other cases, and both timelines."""
    row = Case.objects.filter(pk=case.pk).values().get()
    row.pop("updated_at")
    order = Order.objects.filter(pk=row["order_id"]).values().get()
    order.pop("updated_at")
    return {
        "case": row,
        "items": list(
            CaseItem.objects.filter(case_id=case.pk)
            .order_by("id")
            .values_list("order_item_id", "quantity", "amount")
        ),
        "order": order,
        "cases": list(
            Case.objects.filter(order_id=row["order_id"])
            .order_by("id")
            .values_list("id", "native_status", "state", "version", "due_at")
        ),
        "deadlines": sorted(
            OrderDeadline.objects.filter(order_id=row["order_id"]).values_list(
                "kind", "state", "due_at"
            )
        ),
        "case_events": list(
            CaseEvent.objects.filter(case__order_id=row["order_id"])
            .order_by("id")
            .values_list("id", flat=True)
        ),
        "order_events": list(
            OrderEvent.objects.filter(order_id=row["order_id"])
            .order_by("id")
            .values_list("id", flat=True)
        ),
    }
