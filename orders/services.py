"""Order services: the one door through which an order's state changes.

``apply_event`` locks the order, asks the platform's machine whether the event is allowed,
applies it, and commits. Every writer of an order's state, version, overlays or
deadlines commits through ``commit`` (one locked order) or ``commit_many`` (many, one
query per write): version bump, deadlines, the row, timeline entries through
``orders.events`` (which schedules their effects) and the ``AFTER_TRANSITION`` hooks.
Ingest, tracking (delivery failure, redelivery address), after-sales (overlays from
open cases) and the seller actions use them. ``check_action`` is the dry run: would the
machine, its guards and the actor's role allow an action now?
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oms.core.db import bulk_update
from oms.core.errors import NotFound, OmsError, PermissionDenied, VersionConflict
from oms.core.timeutils import parse_iso
from orders import events as order_events
from orders.choices import ActorKind, DeadlineState, EventType, Stage
from orders.machine import RESUME, PlatformSpec, deadlines_for, plan
from orders.models import Membership, Order, OrderDeadline, OrderEvent, Shop
from orders.permissions import role_allows
from orders.platforms import get_spec


@dataclass(frozen=True)
class Actor:
    """Who causes a change: a member, an API client, a platform, or a system job."""

    kind: ActorKind
    label: str
    membership: Membership | None = None
    organisation_id: int | None = None  # for API clients
    shop_ids: frozenset[int] | None = field(default=None)  # an API key limited to shops

    @classmethod
    def member(cls, membership: Membership) -> "Actor":
        return cls(
            ActorKind.MEMBER,
            membership.user.get_username(),
            membership=membership,
            organisation_id=membership.organisation_id,
        )

    @classmethod
    def api_client(
        cls, name: str, *, organisation_id: int, shop_ids: frozenset[int] | None = None
    ) -> "Actor":
        return cls(
            ActorKind.API_CLIENT,
            name,
            organisation_id=organisation_id,
            shop_ids=shop_ids,
        )

    @classmethod
    def platform(cls, code: str) -> "Actor":
        return cls(ActorKind.PLATFORM, code)

    @classmethod
    def system(cls, job: str) -> "Actor":
        return cls(ActorKind.SYSTEM, job)


def policy_for(shop: Shop, spec: PlatformSpec | None = None) -> dict:
    """The shop's deadline policy: platform table, market, settings, then the shop."""
    spec = spec or get_spec(shop.platform)
    return spec.resolve_policy(
        market=shop.market,
        overrides=[
            settings.OMS_PLATFORM_POLICY_OVERRIDES.get(spec.code, {}),
            shop.policy_overrides or {},
        ],
    )


def lock_order(order_id: int) -> Order:
    """Load an order with a row lock (call inside ``transaction.atomic``).

    Orders are locked ``FOR NO KEY UPDATE`` everywhere (``no_key=True``): as exclusive
    as ``FOR UPDATE`` between lockers, but a row inserted or updated elsewhere that
    merely refers to the order (its foreign-key check takes ``FOR KEY SHARE``) does not
    wait for it. Otherwise two cancels of orders sharing a merged parcel deadlock: each
    holds its order and writes the parcel's rows naming the other (logistics.voiding).
    """
    try:
        return (
            Order.objects.select_for_update(of=("self",), no_key=True)
            .select_related("shop")
            .get(pk=order_id)
        )
    except Order.DoesNotExist:
        raise NotFound("No such order.", order_id=order_id) from None


def apply_event(
    order: Order | int,
    event: str,
    actor: Actor,
    *,
    reason: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
    **data: Any,
) -> Order:
    """Apply ``event`` (a machine action such as ``ship`` or ``cancel``) to an order.

    Raises ``InvalidTransition`` when the order's machine refuses it, ``VersionConflict``
    when ``expected_version`` is stale, ``PermissionDenied`` when the actor may not, and
    ``NotFound`` for an order outside the actor's organisation or shops. On any error
    nothing changes.
    """
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic():
        locked = lock_order(order_id)
        versions = (
            {locked.pk: expected_version} if expected_version is not None else None
        )
        (outcome,) = apply_event_to_locked(
            [locked], event, actor, reason=reason, now=now, data=data, versions=versions
        )
        if isinstance(outcome, OmsError):
            raise outcome
    return locked


# The columns a transition can change (bulk updates write exactly these).
STATE_FIELDS = [
    "native_status", "stage", "end_reason", "resume_status", "status_changed_at",
    "shipping_blocked", "cancel_requested", "refund_open", "in_dispute", "frozen",
    "on_hold", "delivery_failed", "paid_at", "shipped_at", "delivered_at", "completed_at",
    "closed_at", "next_deadline_at", "next_deadline_kind", "version", "updated_at",
]  # fmt: skip


def apply_event_to_locked(
    orders: Sequence[Order],
    event: str,
    actor: Actor,
    *,
    reason: str = "",
    now: datetime | None = None,
    data: Mapping[str, Any] | None = None,
    versions: Mapping[int, int] | None = None,
    data_by_order: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Order | OmsError]:
    """Apply one event to many orders the caller has locked, with one query per write.

    ``data`` is the action's input for every order; ``data_by_order`` adds per-order
    details (a batch shipment's tracking numbers) to each order's timeline event.

    Returns, for each order in turn, the changed order or the error that refused it;
    refused orders are left untouched. Batch actions and the deadline sweep use this;
    ``apply_event`` is the one-order case.
    """
    now = now or timezone.now()
    data = dict(data or {})
    allowed_shops = allowed_shops_for(actor)
    policies: dict[int, dict] = {}
    outcomes: list[Order | OmsError] = []
    changed: list[tuple[Order, PlatformSpec, Mapping]] = []
    entries: list[tuple[Order, Entry]] = []
    for order in orders:
        try:
            check_scope(order, actor, allowed_shops)
            expected = (versions or {}).get(order.pk)
            if expected is not None and order.version != expected:
                raise VersionConflict(
                    current_version=order.version, your_version=expected
                )
            spec, policy, transition = _plan(
                order, event, actor, {"reason": reason, **data}, policies
            )
        except OmsError as exc:
            outcomes.append(exc)
            continue
        from_status, from_stage = order.native_status, order.stage
        enter_status(
            order, spec, transition.target_for(order), transition.end_reason, now
        )
        changed.append((order, spec, policy))
        entries.append(
            (
                order,
                Entry(
                    EventType.STATUS_CHANGED,
                    {
                        "action": event,
                        "from_status": from_status,
                        "to_status": order.native_status,
                        "reason": reason,
                        "data": {
                            "stage": [from_stage, order.stage],
                            **_jsonable(data),
                            **_jsonable((data_by_order or {}).get(order.pk, {})),
                        },
                    },
                ),
            )
        )
        outcomes.append(order)
    commit_many(
        entries,
        actor,
        fields=STATE_FIELDS,
        now=now,
        planned=changed,
        transition=event,
    )
    return outcomes


def _plan(
    order: Order,
    action: str,
    actor: Actor,
    data: Mapping[str, Any],
    policies: dict[int, dict],
):
    """The machine's plan for ``action`` on ``order`` (raises its refusal): the one
    place where the machine, its guards and the actor's role are asked."""
    spec = get_spec(order.platform)
    if order.shop_id not in policies:
        policies[order.shop_id] = policy_for(order.shop, spec)
    policy = policies[order.shop_id]
    transition = plan(spec, order, action, actor.kind, data, policy)
    check_permission(actor, transition.permission, action)
    return spec, policy, transition


def check_action(
    order: Order,
    action: str,
    actor: Actor,
    data: Mapping[str, Any] | None = None,
    *,
    policies: dict[int, dict] | None = None,
    scoped: bool = False,
) -> OmsError | None:
    """Would ``apply_event`` allow ``action`` on ``order`` now? A dry run: the same
    scope, machine, guard and role checks, with no write and no lock.

    Returns the refusal (the error ``apply_event`` would raise) or ``None``. ``policies``
    caches shop policies across calls (shop id → policy); ``scoped``: the caller loaded
    the order within the actor's reach already (skips that check and its query).
    """
    try:
        if not scoped:
            check_scope(order, actor, allowed_shops_for(actor))
        _plan(
            order, action, actor, dict(data or {}), {} if policies is None else policies
        )
    except OmsError as exc:
        return exc
    return None


@dataclass(frozen=True)
class Entry:
    """One timeline entry a commit writes (``orders.events.build``'s arguments)."""

    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # default: the time of writing


def commit(
    order: Order,
    actor: Actor,
    *,
    events: Sequence[Entry],
    fields: Sequence[str] | None = None,
    now: datetime | None = None,
    deadlines: bool = False,
    transition: str | None = None,
    bump_version: bool = True,
) -> list[OrderEvent]:
    """The one commit path for a change to an order the caller locked (``lock_order``
    inside ``transaction.atomic``) and changed in memory: bumps the version, re-plans
    the deadlines (``deadlines``), writes the row (the named ``fields``, or all of it),
    writes the timeline ``events`` through ``orders.events`` (which schedules their
    effects) and, for a status change (``transition``: its action), runs the
    ``AFTER_TRANSITION`` hooks. Returns the written events.

    A change that bumps the version always writes at least one event.
    ``apply_event_to_locked`` is the many-orders form for machine transitions.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("commit() needs the order locked inside a transaction.")
    if bump_version and not events:
        raise ValueError("A change that bumps the version writes an event.")
    now = now or timezone.now()
    columns: set[str] = set(fields or ())
    if deadlines:
        spec = get_spec(order.platform)
        sync_deadlines(order, spec, policy_for(order.shop, spec), now)
        columns |= {"next_deadline_at", "next_deadline_kind"}
    if bump_version:
        order.version += 1
        order.updated_at = now
        columns |= {"version", "updated_at"}
    if fields is None:
        order.save()
    elif columns:
        order.save(update_fields=sorted(columns))
    written = order_events.write(
        [order_events.build(order, e.type, actor, now=e.at, **e.fields) for e in events]
    )
    if transition:
        for hook in AFTER_TRANSITION:
            hook([order], transition, actor, now)
    return written


def commit_many(
    entries: Sequence[tuple[Order, Entry]],
    actor: Actor,
    *,
    fields: Iterable[str],
    now: datetime,
    planned: Sequence[tuple[Order, PlatformSpec, Mapping]] | None = None,
    transition: str | None = None,
) -> list[OrderEvent]:
    """``commit`` for many locked orders changed the same way, one query per write:
    each order's version is bumped, the deadlines of ``planned`` (order, spec, policy)
    re-planned, the ``fields`` written with one bulk update, each order's entry written
    (effects scheduled) and, for a status change, the hooks run once for all."""
    if not entries:
        return []
    orders = [order for order, _ in entries]
    columns = set(fields) | {"version", "updated_at"}
    for order in orders:
        order.version += 1
        order.updated_at = now
    if planned:
        sync_deadlines_many(planned, now)
        columns |= {"next_deadline_at", "next_deadline_kind"}
    bulk_update(orders, sorted(columns))
    written = order_events.write(
        [
            order_events.build(order, e.type, actor, now=e.at or now, **e.fields)
            for order, e in entries
        ]
    )
    if transition:
        for hook in AFTER_TRANSITION:
            hook(orders, transition, actor, now)
    return written


# Called inside the transaction, with the orders still locked, after every applied
# transition: (orders, action, actor, now). After-sales closes the cases of an order the
# platform cancelled or closed (a closed order never keeps an open case).
AFTER_TRANSITION: list[Callable[[list[Order], str, "Actor", datetime], None]] = []


def check_permission(actor: Actor, permission: str | None, event: str) -> None:
    if actor.membership is None or not permission:
        return
    if not role_allows(actor.membership.role, permission):
        raise PermissionDenied(
            f"Your role may not '{event}' orders.", permission=permission
        )


def allowed_shops_for(actor: Actor) -> frozenset[int] | None:
    """The shops an actor is limited to (None: all of its organisation's)."""
    if actor.membership is not None:
        allowed = actor.membership.allowed_shop_ids()
        return frozenset(allowed) if allowed is not None else None
    return actor.shop_ids


def check_scope(
    order: Order, actor: Actor, allowed_shops: frozenset[int] | None
) -> None:
    """Members and API clients reach only their organisation's orders (and shops)."""
    if actor.kind in (ActorKind.PLATFORM, ActorKind.SYSTEM):
        return
    if actor.organisation_id != order.organisation_id:
        raise NotFound("No such order.", order_id=order.pk)
    if allowed_shops is not None and order.shop_id not in allowed_shops:
        raise NotFound("No such order.", order_id=order.pk)


def enter_status(
    order: Order, spec: PlatformSpec, target: str, end_reason: str, when: datetime
) -> None:
    """Move ``order`` to native status ``target`` and derive stage, overlays and times."""
    status = spec.status(target)
    resumable = any(t.target == RESUME for t in spec.transitions_from(status.code))
    if resumable and order.native_status != status.code:
        order.resume_status = order.native_status
    elif not resumable:
        order.resume_status = ""
    order.native_status = status.code
    if end_reason:
        order.end_reason = end_reason
    order.stage = spec.stage_of(
        status.code, end_reason=order.end_reason, resume_status=order.resume_status
    )
    order.status_changed_at = when
    for overlay in spec.managed_overlays:
        setattr(order, overlay, overlay in status.overlays)
    stage = order.stage
    if stage not in (Stage.UNPAID, Stage.CLOSED) and order.paid_at is None:
        order.paid_at = when
    if stage in (Stage.SHIPPED, Stage.DELIVERED) and order.shipped_at is None:
        order.shipped_at = when
    if stage == Stage.DELIVERED and order.delivered_at is None:
        order.delivered_at = when
    if stage == Stage.COMPLETED and order.completed_at is None:
        order.completed_at = when
    if stage == Stage.CLOSED and order.closed_at is None:
        order.closed_at = when


def sync_deadlines(
    order: Order, spec: PlatformSpec, policy: Mapping, now: datetime
) -> None:
    """``sync_deadlines_many`` for one order."""
    sync_deadlines_many([(order, spec, policy)], now)


def sync_deadlines_many(
    items: Sequence[tuple[Order, PlatformSpec, Mapping]], now: datetime
) -> None:
    """Make each order's deadline rows match what its status declares (bulk writes).

    Deadlines the status no longer declares are resolved (met, or expired when already
    past due); declared ones are opened or moved. A row the job already expired keeps
    its state while its due time is unchanged, so a deadline never fires twice. Sets
    ``next_deadline_at``/``kind`` on each order; the caller saves the orders.
    """
    saved_ids = [order.pk for order, _, _ in items if order.pk]
    existing: dict[int, dict[str, OrderDeadline]] = {}
    for row in (
        OrderDeadline.objects.filter(order_id__in=saved_ids) if saved_ids else ()
    ):
        existing.setdefault(row.order_id, {})[row.kind] = row
    to_create: list[OrderDeadline] = []
    to_update: list[OrderDeadline] = []
    for order, spec, policy in items:
        platform_deadlines = {
            kind: parse_iso(value, field=f"deadlines.{kind}")
            for kind, value in (order.platform_deadlines or {}).items()
        }
        planned = deadlines_for(spec, order, policy, platform_deadlines)
        paused = paused_kinds(spec, order)
        rows = existing.get(order.pk, {})
        for kind, row in rows.items():
            if row.state == DeadlineState.PENDING and kind in paused:
                # Stopped, not ended: the time left is kept for when it resumes.
                row.state = DeadlineState.PAUSED
                row.remaining = max(row.due_at - now, timedelta(0))
                to_update.append(row)
            elif (
                row.state in (DeadlineState.PENDING, DeadlineState.PAUSED)
                and kind not in planned
                and kind not in paused
            ):
                row.state = (
                    DeadlineState.MET if now <= row.due_at else DeadlineState.EXPIRED
                )
                row.resolved_at = now
                row.remaining = None
                to_update.append(row)
        for kind, item in planned.items():
            row = rows.get(kind)
            due_at = item.due_at
            if (
                row is not None
                and row.state == DeadlineState.PAUSED
                and item.source == "policy"
                and row.remaining is not None
            ):
                due_at = now + row.remaining  # resumes with the time it had left
            values = {
                "due_at": due_at,
                "on_expiry": item.due.on_expiry,
                "violation": item.due.violation,
                "source": item.source,
            }
            if row is None:
                to_create.append(
                    OrderDeadline(order=order, kind=kind, started_at=now, **values)
                )
                continue
            unchanged = all(
                getattr(row, name) == value for name, value in values.items()
            )
            if row.state == DeadlineState.PENDING and unchanged:
                continue
            if row.state == DeadlineState.EXPIRED and row.due_at == item.due_at:
                continue
            if row.state not in (DeadlineState.PENDING, DeadlineState.PAUSED):
                row.started_at = now
            for name, value in values.items():
                setattr(row, name, value)
            row.state, row.resolved_at, row.remaining = (
                DeadlineState.PENDING,
                None,
                None,
            )
            to_update.append(row)
        consequential = [item for item in planned.values() if not item.due.is_notice]
        soonest = min(consequential, key=lambda item: item.due_at, default=None)
        order.next_deadline_at = soonest.due_at if soonest else None
        order.next_deadline_kind = soonest.due.kind if soonest else ""
    if to_create:
        OrderDeadline.objects.bulk_create(to_create)
    if to_update:
        bulk_update(
            to_update,
            [
                "due_at",
                "on_expiry",
                "violation",
                "source",
                "state",
                "started_at",
                "resolved_at",
                "remaining",
            ],
        )


def paused_kinds(spec: PlatformSpec, order: Order) -> frozenset[str]:
    """Deadline kinds of the order's status stopped by an overlay now on (auto-confirm
    while a refund is open)."""
    status = spec.status(order.native_status)
    return frozenset(
        due.kind
        for due in status.deadlines
        if due.before is None and any(getattr(order, o) for o in due.paused_by)
    )


# The timeline's writers live in ``orders.events``; these names stay for callers.
record_event = order_events.record
new_event = order_events.build


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """Input data as stored on an event: plain JSON values only."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out
