"""Order services: the one door through which an order's state changes.

``apply_event`` locks the order, asks the platform's machine whether the event is allowed,
applies it, recomputes stage, overlays and deadlines, bumps the version, appends one
``OrderEvent`` and schedules side effects for after the commit. Ingest
(``orders.ingest``) uses the same building blocks.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oms.core.errors import NotFound, PermissionDenied, VersionConflict
from oms.core.timeutils import parse_iso
from orders import effects
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
    """Load an order with a row lock (call inside ``transaction.atomic``)."""
    try:
        return (
            Order.objects.select_for_update(of=("self",))
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
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_order(order_id)
        _check_scope(locked, actor)
        if expected_version is not None and locked.version != expected_version:
            raise VersionConflict(
                current_version=locked.version, your_version=expected_version
            )
        spec = get_spec(locked.platform)
        policy = policy_for(locked.shop, spec)
        transition = plan(
            spec, locked, event, actor.kind, {"reason": reason, **data}, policy
        )
        _check_permission(actor, transition.permission, event)
        from_status, from_stage = locked.native_status, locked.stage
        enter_status(
            locked, spec, transition.target_for(locked), transition.end_reason, now
        )
        sync_deadlines(locked, spec, policy, now)
        locked.version += 1
        locked.save()
        record = record_event(
            locked,
            EventType.STATUS_CHANGED,
            actor,
            action=event,
            from_status=from_status,
            to_status=locked.native_status,
            reason=reason,
            data={"stage": [from_stage, locked.stage], **_jsonable(data)},
            now=now,
        )
        effects.schedule([record.pk])
    return locked


def _check_permission(actor: Actor, permission: str | None, event: str) -> None:
    if actor.membership is None or not permission:
        return
    if not role_allows(actor.membership.role, permission):
        raise PermissionDenied(
            f"Your role may not '{event}' orders.", permission=permission
        )


def _check_scope(order: Order, actor: Actor) -> None:
    """Members and API clients reach only their organisation's orders (and shops)."""
    if actor.kind in (ActorKind.PLATFORM, ActorKind.SYSTEM):
        return
    if actor.organisation_id != order.organisation_id:
        raise NotFound("No such order.", order_id=order.pk)
    shop_ids = actor.shop_ids
    if actor.membership is not None:
        allowed = actor.membership.allowed_shop_ids()
        shop_ids = frozenset(allowed) if allowed is not None else None
    if shop_ids is not None and order.shop_id not in shop_ids:
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
    """Make the order's deadline rows match what its status declares.

    Deadlines the status no longer declares are resolved (met, or expired when already
    past due); declared ones are opened or moved. A row the job already expired keeps
    its state while its due time is unchanged, so a deadline never fires twice. Sets
    ``next_deadline_at``/``kind`` on the order; the caller saves it.
    """
    platform_deadlines = {
        kind: parse_iso(value, field=f"deadlines.{kind}")
        for kind, value in (order.platform_deadlines or {}).items()
    }
    planned = deadlines_for(spec, order, policy, platform_deadlines)
    existing = {row.kind: row for row in order.deadlines.all()} if order.pk else {}
    to_create, to_update = [], []
    for kind, row in existing.items():
        if row.state == DeadlineState.PENDING and kind not in planned:
            row.state = (
                DeadlineState.MET if now <= row.due_at else DeadlineState.EXPIRED
            )
            row.resolved_at = now
            to_update.append(row)
    for kind, item in planned.items():
        row = existing.get(kind)
        values = {
            "due_at": item.due_at,
            "on_expiry": item.due.on_expiry,
            "violation": item.due.violation,
            "source": item.source,
        }
        if row is None:
            to_create.append(
                OrderDeadline(order=order, kind=kind, started_at=now, **values)
            )
            continue
        unchanged = all(getattr(row, name) == value for name, value in values.items())
        if row.state == DeadlineState.PENDING and unchanged:
            continue
        if row.state == DeadlineState.EXPIRED and row.due_at == item.due_at:
            continue
        if row.state != DeadlineState.PENDING:
            row.started_at = now
        for name, value in values.items():
            setattr(row, name, value)
        row.state, row.resolved_at = DeadlineState.PENDING, None
        to_update.append(row)
    if to_create:
        OrderDeadline.objects.bulk_create(to_create)
    if to_update:
        OrderDeadline.objects.bulk_update(
            to_update,
            [
                "due_at",
                "on_expiry",
                "violation",
                "source",
                "state",
                "started_at",
                "resolved_at",
            ],
        )
    consequential = [item for item in planned.values() if not item.due.is_notice]
    soonest = min(consequential, key=lambda item: item.due_at, default=None)
    order.next_deadline_at = soonest.due_at if soonest else None
    order.next_deadline_kind = soonest.due.kind if soonest else ""


def record_event(
    order: Order,
    type: EventType,
    actor: Actor,
    *,
    now: datetime | None = None,
    **fields: Any,
) -> OrderEvent:
    """Append one entry to the order's timeline."""
    return OrderEvent.objects.create(
        order=order,
        created_at=now or timezone.now(),
        type=type,
        actor_kind=actor.kind,
        actor_user=actor.membership.user if actor.membership else None,
        actor_label=actor.label,
        **fields,
    )


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """Input data as stored on an event: plain JSON values only."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out
