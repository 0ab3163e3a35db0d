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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from oms.core.errors import InvalidTransition
from oms.core.timeutils import format_local
from orders import events as order_events
from orders.choices import DeadlineKind as K
from orders.choices import DeadlineState, EventType, NotificationLevel
from orders.models import Notification, Order, OrderDeadline, Violation
from orders.notifications import email_notification
from orders.services import Actor, apply_event_to_locked

logger = logging.getLogger(__name__)

JOB = "deadlines"

# What each deadline means when it falls due, as written on the timeline.
REASONS = {  # marked for translation; stored in English, shown in the reader's language
    K.PAY_BY: gettext_noop("Not paid by the payment deadline"),
    K.PAY_REMINDER_FIRST: gettext_noop("First payment reminder to the buyer"),
    K.PAY_REMINDER_SECOND: gettext_noop("Second payment reminder to the buyer"),
    K.HOLD_UNTIL: gettext_noop("The hold after payment ended"),
    K.SHIP_BY: gettext_noop("Not shipped by the ship deadline"),
    K.SHIP_WARNING_EARLY: gettext_noop("Ship deadline approaching (first warning)"),
    K.SHIP_WARNING_LATE: gettext_noop("Ship deadline approaching (last warning)"),
    K.CANCEL_RESPONSE_BY: gettext_noop("Cancel request not answered in time"),
    K.CONFIRM_BY: gettext_noop(
        "Receipt auto-confirmed when the confirmation period ended"
    ),
    K.COMPLETE_BY: gettext_noop("Completed when the after-sales period ended"),
    K.RELEASE_FUNDS_BY: gettext_noop("Funds released to the seller"),
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
    *, now: datetime | None = None, batch_size: int = 200, max_errors: int = 20
) -> SweepResult:
    """Handle every deadline due by ``now``; safe to run twice or in parallel.

    A batch is handled with bulk writes in a savepoint. If anything in it fails, the
    batch is rolled back and redone order by order, so one bad order leaves only its
    own deadlines due for the next run; its error is recorded and the run goes on
    (giving up after ``max_errors``).
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
                Order.objects.select_for_update(
                    skip_locked=True, of=("self",), no_key=True
                )
                .select_related("shop")
                .filter(pk__in=due)
                .order_by()  # sorted below; no ORDER BY in the locking query
            )
            if not orders:
                break
            orders.sort(key=lambda order: order.pk)
            try:
                with transaction.atomic():
                    batch = SweepResult()
                    _expire_batch(orders, now, batch)
                _merge(result, batch)
            except Exception:
                logger.warning(
                    "deadline batch failed; redoing it order by order", exc_info=True
                )
                for order in orders:
                    try:
                        with transaction.atomic():
                            single = SweepResult()
                            _expire_batch([order], now, single)
                        _merge(result, single)
                    except Exception as exc:
                        logger.exception("deadline sweep failed for order %s", order.pk)
                        failed.add(order.pk)
                        result.errors.append(
                            {"order_id": order.pk, "error": repr(exc)[:500]}
                        )
    return result


def _merge(total: SweepResult, part: SweepResult) -> None:
    for name in ("expired", "applied", "notices", "violations", "refused"):
        setattr(total, name, getattr(total, name) + getattr(part, name))


def _expire_batch(orders: list[Order], now: datetime, result: SweepResult) -> None:
    """Handle the due deadlines of locked ``orders``, soonest first per order.

    Works in rounds: each round takes every order's soonest due row, so an order's
    later deadlines see the status its earlier ones left (a warning before the
    deadline it warns of; nothing after a cancellation).
    """
    by_id = {order.pk: order for order in orders}
    actor = Actor.system(JOB)
    for _round in range(len(K.values) + 1):  # each round resolves a row per order
        firsts: dict[int, OrderDeadline] = {}
        for row in OrderDeadline.objects.filter(
            order_id__in=by_id, state=DeadlineState.PENDING, due_at__lte=now
        ).order_by("due_at", "id"):
            firsts.setdefault(row.order_id, row)
        if not firsts:
            return
        handled: list[OrderDeadline] = []
        # Expiry actions, grouped so each group is one bulk transition.
        groups: dict[tuple[str, str], list[OrderDeadline]] = {}
        for row in firsts.values():
            if row.on_expiry:
                groups.setdefault((row.on_expiry, row.kind), []).append(row)
        for (action, kind), rows in groups.items():
            outcomes = apply_event_to_locked(
                [by_id[row.order_id] for row in rows],
                action,
                actor,
                reason=REASONS.get(kind, kind),
                now=now,
                data={"deadline": kind},
            )
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, InvalidTransition):
                    # The order moved on in a way the table did not foresee.
                    logger.warning(
                        "deadline %s of order %s: %s",
                        kind,
                        row.order_id,
                        outcome.details,
                    )
                    result.refused += 1
                    _mark_expired([row], now)
                elif isinstance(outcome, Exception):
                    raise outcome
                else:
                    result.applied += 1
                    handled.append(row)
        # Reminders, warnings and missed deadlines without an action: a timeline event.
        events = []
        for row in firsts.values():
            if row.on_expiry:
                continue
            order = by_id[row.order_id]
            events.append(
                order_events.build(
                    order,
                    EventType.DEADLINE_MISSED
                    if row.violation
                    else EventType.DEADLINE_NOTICE,
                    actor,
                    now=now,
                    action=row.kind,
                    from_status=order.native_status,
                    to_status=order.native_status,
                    reason=REASONS.get(row.kind, row.kind),
                    data={"due_at": row.due_at.isoformat(), "violation": row.violation},
                )
            )
            result.notices += int(not row.violation)
            handled.append(row)
        if events:
            order_events.write(events)
        violations = [
            Violation(
                organisation_id=by_id[row.order_id].organisation_id,
                shop_id=by_id[row.order_id].shop_id,
                order_id=row.order_id,
                kind=row.violation,
                deadline_kind=row.kind,
                occurred_at=row.due_at,
            )
            for row in handled
            if row.violation
        ]
        if violations:
            Violation.objects.bulk_create(violations, ignore_conflicts=True)
            result.violations += len(violations)
        _notify(by_id, handled)
        _mark_expired(handled, now)
        result.expired += len(handled)


def _mark_expired(rows: list[OrderDeadline], now: datetime) -> None:
    """Expire the rows, except any a transition re-opened with a new due time."""
    if not rows:
        return
    due = {row.pk: row.due_at for row in rows}
    current = OrderDeadline.objects.filter(pk__in=due).values_list("pk", "due_at")
    ids = [pk for pk, due_at in current if due_at == due[pk]]
    OrderDeadline.objects.filter(pk__in=ids).update(
        state=DeadlineState.EXPIRED, resolved_at=now
    )


def _notify(by_id: dict[int, Order], rows: list[OrderDeadline]) -> None:
    warned = [row.order_id for row in rows if row.kind in WARNINGS]
    ship_by = dict(
        OrderDeadline.objects.filter(order_id__in=warned, kind=K.SHIP_BY).values_list(
            "order_id", "due_at"
        )
    ) if warned else {}  # fmt: skip
    notifications = []
    for row in rows:
        order = by_id[row.order_id]
        shop = order.shop
        reason = REASONS.get(row.kind, row.kind)
        local_due = format_local(row.due_at, shop.timezone)
        if row.kind in WARNINGS:
            when = format_local(ship_by.get(order.pk, row.due_at), shop.timezone)
            title = f"{shop.name} {order.platform_order_id}: ship by {when} ({shop.timezone})"
            level = NotificationLevel.WARNING
        else:
            title = f"{shop.name} {order.platform_order_id}: {reason}"
            consequential = row.violation or row.kind in CONSEQUENCES
            level = (
                NotificationLevel.CRITICAL if consequential else NotificationLevel.INFO
            )
        body = f"{reason}. Deadline {local_due} ({shop.timezone}). Status now: {order.native_status}."
        if row.violation:
            body += f" Violation recorded against the shop: {row.violation}."
        notifications.append(
            Notification(
                organisation_id=order.organisation_id,
                order=order,
                kind=row.kind,
                level=level,
                title=title[:300],
                body=body,
            )
        )
    if notifications:
        created = Notification.objects.bulk_create(notifications)
        emails = [n.pk for n in created if n.kind in WARNINGS]
        if emails:
            transaction.on_commit(lambda: [email_notification(pk) for pk in emails])


def running_deadlines(order: Order) -> list[dict[str, Any]]:
    """The order's running deadlines for countdowns: what, when, and what happens then."""
    shop_tz = order.shop.timezone
    out = []
    for row in order.deadlines.filter(state=DeadlineState.PENDING).order_by("due_at"):
        if row.on_expiry:
            consequence = _("then the system applies '%(action)s'") % {
                "action": row.on_expiry
            }
        elif row.violation:
            consequence = _("then a '%(violation)s' violation is recorded") % {
                "violation": row.violation
            }
        else:
            consequence = _("then a reminder or warning is sent")
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
