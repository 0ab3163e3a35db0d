"""Deadline enforcement: at each deadline, exactly the platform's consequence.

The sweep selects only due rows (the partial index on pending ``due_at``), in bounded
batches, and locks their orders with ``FOR UPDATE SKIP LOCKED``, so several workers can
sweep at once without waiting on each other or doing anything twice. Under the order's
lock it re-reads what is still due and applies it through ``apply_event`` with the job
as actor: the same machine, guards, timeline and side effects as a person's action.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from oms.core.errors import InvalidTransition
from oms.core.timeutils import format_local
from orders import effects
from orders.choices import DeadlineKind as K
from orders.choices import DeadlineState, EventType, NotificationLevel
from orders.models import Order, OrderDeadline, Violation
from orders.notifications import notify
from orders.services import Actor, apply_event, record_event

logger = logging.getLogger(__name__)

JOB = "deadlines"

# What each deadline means when it falls due, as written on the timeline.
REASONS = {
    K.PAY_BY: "Not paid by the payment deadline",
    K.PAY_REMINDER_FIRST: "First payment reminder to the buyer",
    K.PAY_REMINDER_SECOND: "Second payment reminder to the buyer",
    K.HOLD_UNTIL: "The hold after payment ended",
    K.SHIP_BY: "Not shipped by the ship deadline",
    K.SHIP_WARNING_EARLY: "Ship deadline approaching (first warning)",
    K.SHIP_WARNING_LATE: "Ship deadline approaching (last warning)",
    K.CANCEL_RESPONSE_BY: "Cancel request not answered in time",
    K.CONFIRM_BY: "Receipt auto-confirmed when the confirmation period ended",
    K.COMPLETE_BY: "Completed when the after-sales period ended",
    K.RELEASE_FUNDS_BY: "Funds released to the seller",
}
WARNINGS = frozenset({K.SHIP_WARNING_EARLY, K.SHIP_WARNING_LATE})
CONSEQUENCES = frozenset({K.PAY_BY, K.SHIP_BY, K.CANCEL_RESPONSE_BY})


@dataclass
class SweepResult:
    expired: int = 0  # deadline rows that fell due and were handled
    applied: int = 0  # of which changed the order's status
    notices: int = 0  # reminders and warnings
    violations: int = 0
    refused: int = 0  # the machine no longer allowed the expiry action
    errors: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "expired": self.expired,
            "applied": self.applied,
            "notices": self.notices,
            "violations": self.violations,
            "refused": self.refused,
            "errors": len(self.errors),
        }


def process_due_deadlines(
    *, now: datetime | None = None, batch_size: int = 100, max_errors: int = 20
) -> SweepResult:
    """Handle every deadline due by ``now``; safe to run twice or in parallel.

    Each order is handled in its own savepoint: an error leaves that order's deadlines
    due for the next run, is recorded in the result, and does not stop the others
    (the run gives up after ``max_errors``).
    """
    now = now or timezone.now()
    result = SweepResult()
    failed: set[int] = set()
    while len(result.errors) < max_errors:
        with transaction.atomic():
            due = (
                OrderDeadline.objects.filter(
                    state=DeadlineState.PENDING, due_at__lte=now
                )
                .exclude(order_id__in=failed)
                .order_by("due_at")
                .values("order_id")[:batch_size]
            )
            orders = list(
                Order.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("shop")
                .filter(pk__in=due)
                .order_by("pk")
            )
            if not orders:
                break
            for order in orders:
                try:
                    with transaction.atomic():
                        _expire_due(order, now, result)
                except Exception as exc:
                    logger.exception("deadline sweep failed for order %s", order.pk)
                    failed.add(order.pk)
                    result.errors.append(
                        {"order_id": order.pk, "error": repr(exc)[:500]}
                    )
    return result


def _expire_due(order: Order, now: datetime, result: SweepResult) -> None:
    """Handle the order's due deadlines, soonest first (the order is locked)."""
    for _ in range(len(K.values) + 1):  # each pass resolves a row; this bounds the loop
        row = (
            order.deadlines.filter(state=DeadlineState.PENDING, due_at__lte=now)
            .order_by("due_at", "id")
            .first()
        )
        if row is None:
            return
        _expire(order, row, now, result)
        order.refresh_from_db()


def _expire(
    order: Order, row: OrderDeadline, now: datetime, result: SweepResult
) -> None:
    reason = REASONS.get(row.kind, row.kind)
    actor = Actor.system(JOB)
    if row.on_expiry:
        try:
            apply_event(
                order.pk,
                row.on_expiry,
                actor,
                reason=reason,
                now=now,
                deadline=row.kind,
            )
            result.applied += 1
        except InvalidTransition as refused:
            # The order moved on in a way the table did not foresee; nothing to apply.
            logger.warning(
                "deadline %s of order %s: %s", row.kind, order.pk, refused.details
            )
            result.refused += 1
            _mark_expired(row, now)
            return
    else:
        event = record_event(
            order,
            EventType.DEADLINE_MISSED if row.violation else EventType.DEADLINE_NOTICE,
            actor,
            action=row.kind,
            from_status=order.native_status,
            to_status=order.native_status,
            reason=reason,
            data={"due_at": row.due_at.isoformat(), "violation": row.violation},
            now=now,
        )
        effects.schedule([event.pk])
        if not row.violation:
            result.notices += 1
    if row.violation:
        _, created = Violation.objects.get_or_create(
            order=order,
            kind=row.violation,
            defaults={
                "organisation_id": order.organisation_id,
                "shop_id": order.shop_id,
                "deadline_kind": row.kind,
                "occurred_at": row.due_at,
            },
        )
        result.violations += int(created)
    _notify(order, row, reason)
    _mark_expired(row, now)
    result.expired += 1


def _mark_expired(row: OrderDeadline, now: datetime) -> None:
    # Only if the transition did not re-open this kind with a new due time.
    OrderDeadline.objects.filter(pk=row.pk, due_at=row.due_at).update(
        state=DeadlineState.EXPIRED, resolved_at=now
    )


def _notify(order: Order, row: OrderDeadline, reason: str) -> None:
    shop = order.shop
    local_due = format_local(row.due_at, shop.timezone)
    if row.kind in WARNINGS:
        ship_by = (
            order.deadlines.filter(kind=K.SHIP_BY)
            .values_list("due_at", flat=True)
            .first()
        )
        when = format_local(ship_by, shop.timezone) if ship_by else local_due
        title = (
            f"{shop.name} {order.platform_order_id}: ship by {when} ({shop.timezone})"
        )
        level = NotificationLevel.WARNING
    else:
        title = f"{shop.name} {order.platform_order_id}: {reason}"
        level = (
            NotificationLevel.CRITICAL
            if row.violation or row.kind in CONSEQUENCES
            else NotificationLevel.INFO
        )
    body = f"{reason}. Deadline {local_due} ({shop.timezone}). Order status now: {order.native_status}."
    if row.violation:
        body += f" Violation recorded against the shop: {row.violation}."
    notify(
        organisation=order.organisation_id,
        kind=row.kind,
        title=title,
        body=body,
        level=level,
        order=order,
        email_owners=row.kind in WARNINGS,
    )


def running_deadlines(order: Order) -> list[dict[str, Any]]:
    """The order's running deadlines for countdowns: what, when, and what happens then."""
    shop_tz = order.shop.timezone
    out = []
    for row in order.deadlines.filter(state=DeadlineState.PENDING).order_by("due_at"):
        if row.on_expiry:
            consequence = f"the system applies '{row.on_expiry}'"
        elif row.violation:
            consequence = f"a '{row.violation}' violation is recorded"
        else:
            consequence = "a reminder or warning is sent"
        out.append(
            {
                "kind": row.kind,
                "label": str(K(row.kind).label),
                "due_at": row.due_at,
                "due_local": format_local(row.due_at, shop_tz),
                "time_zone": shop_tz,
                "action": row.on_expiry,
                "violation": row.violation,
                "consequence": consequence,
                "source": row.source,
            }
        )
    return out
