"""Tracking (PRODUCT.md L6): tracking events per package, failed deliveries, redelivery
requests with a new address inside the platform's window, stalled-package alerts.

``ingest_tracking_events`` is the one door for tracking events. Each event names its
package by carrier code and tracking number (within the organisation). The same
(package, time, code) is stored once; an event older than the package's newest one is
stored but changes nothing (status never moves backwards). The newest event moves the
package, and the order where its machine allows it: ``delivered`` delivers the order
(``deliver``), ``delivery_failed`` sets the order's ``delivery_failed`` overlay and
notifies the organisation.

The job ``run`` (``JOBS["tracking"]``) flags stalled packages and, when a failed
delivery's redelivery window passed without a request, returns the parcel to the
sender (TikTok Shop ``return_to_sender``: the order is cancelled).
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from logistics.models import (
    Package,
    PackageItem,
    PackageStatus,
    RedeliveryRequest,
    TrackingCode,
    TrackingEvent,
    TrackingSource,
)
from oms.core.api.batch import run_item
from oms.core.errors import InvalidTransition, NotFound, OmsError, ValidationFailed
from oms.core.timeutils import parse_iso
from orders import permissions as p
from orders.actions import ACTIONS, perform, set_address_fields
from orders.choices import EventType, NotificationLevel
from orders.machine import allowed_actions
from orders.models import Order, Organisation
from orders.notifications import notify
from orders.platforms import get_spec
from orders.services import (
    Actor,
    Entry,
    allowed_shops_for,
    apply_event,
    check_permission,
    check_scope,
    commit,
    lock_order,
    policy_for,
)

logger = logging.getLogger(__name__)

CREATED, DUPLICATE, ERROR = "created", "duplicate", "error"
MAX_EVENTS = 500
DELIVER, RETURN_TO_SENDER = "deliver", "return_to_sender"
JOB = "tracking"
# Codes that mean the parcel is moving: they put a package not yet (or no longer) on
# its way in transit, e.g. after a redelivery.
MOVING = frozenset(
    {TrackingCode.ACCEPTED, TrackingCode.IN_TRANSIT, TrackingCode.OUT_FOR_DELIVERY}
)


def stalled_after() -> timedelta:
    return timedelta(days=getattr(settings, "OMS_STALLED_AFTER_DAYS", 3))


# --- ingest ---------------------------------------------------------------------------


def ingest_tracking_events(
    *,
    organisation: Organisation,
    events: Sequence[Mapping[str, Any]],
    source: str = TrackingSource.API,
    actor: Actor | None = None,
) -> list[dict[str, Any]]:
    """Store tracking events and apply their effects; one result per event, in order.

    Each result is ``{"index", "outcome": created|duplicate|error, "package",
    "tracking_event"}`` or, for an error, ``{"index", "outcome": "error", "error"}``.
    ``actor`` moves the orders (default: the order's platform).
    """
    if len(events) > MAX_EVENTS:
        raise ValidationFailed(fields={"events": f"at most {MAX_EVENTS}"})
    results = []
    for index, event in enumerate(events):
        result = run_item(
            lambda event=event: _ingest_one(organisation, event, source, actor)
        )
        if isinstance(result, OmsError):
            result = {"outcome": ERROR, "error": result.as_dict()}
        results.append({"index": index, **result})
    return results


def _clean(event: Mapping[str, Any]) -> dict[str, Any]:
    code = str(event.get("code") or "")
    if code not in TrackingCode.values:
        raise ValidationFailed(
            fields={"code": "one of " + ", ".join(TrackingCode.values)}
        )
    occurred_at = parse_iso(event.get("occurred_at"), field="occurred_at")
    if occurred_at is None:
        raise ValidationFailed(fields={"occurred_at": "required"})
    return {
        "carrier": str(event.get("carrier") or "").strip(),
        "tracking_number": str(event.get("tracking_number") or "").strip(),
        "occurred_at": occurred_at,
        "code": code,
        "description": str(event.get("description") or "")[:500],
        "location": str(event.get("location") or "")[:200],
    }


def _ingest_one(
    organisation: Organisation,
    event: Mapping[str, Any],
    source: str,
    actor: Actor | None,
) -> dict[str, Any]:
    data = _clean(event)
    packages = Package.objects.filter(
        organisation=organisation,
        carrier__code=data["carrier"],
        tracking_number=data["tracking_number"],
    )
    shops = allowed_shops_for(actor) if actor is not None else None
    if shops is not None:  # a member's or key's shop limit
        packages = packages.filter(order__shop_id__in=shops)
    with transaction.atomic():
        found = packages.first()
        if found is None:
            raise NotFound(
                "No package with this carrier and tracking number.",
                carrier=data["carrier"],
                tracking_number=data["tracking_number"],
            )
        # The parcel's orders are locked before the package, the order a cancel takes
        # its locks in (``logistics.voiding``), so the two never deadlock. The package
        # lock serialises concurrent pushes for one parcel.
        list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk__in=[order.pk for order in orders_in_package(found)])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        package = Package.objects.select_for_update(of=("self",)).get(pk=found.pk)
        existing = TrackingEvent.objects.filter(
            package=package, occurred_at=data["occurred_at"], code=data["code"]
        ).first()
        if existing is not None:
            return {
                "outcome": DUPLICATE,
                "package": package.pk,
                "tracking_event": existing.pk,
            }
        row = TrackingEvent.objects.create(
            package=package,
            organisation=organisation,
            occurred_at=data["occurred_at"],
            code=data["code"],
            description=data["description"],
            location=data["location"],
            source=source,
            raw=_raw(event),
        )
        if (
            package.last_tracking_at is None
            or row.occurred_at >= package.last_tracking_at
        ):
            _apply(package, row, actor)
    return {"outcome": CREATED, "package": package.pk, "tracking_event": row.pk}


def _raw(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as received, as plain JSON (times and other objects as text)."""
    return {
        str(key): value
        if isinstance(value, str | int | float | bool) or value is None
        else (value.isoformat() if isinstance(value, datetime) else str(value))
        for key, value in event.items()
    }


def _apply(package: Package, event: TrackingEvent, actor: Actor | None) -> None:
    """The newest event's effects on the package and its order.

    A voided package (its order was closed before it left) keeps its status and moves
    no order: the event is kept, and the first one after the void is notified (the
    parcel went out although its label was void).
    """
    if package.status == PackageStatus.VOIDED:
        first = package.last_tracking_at is None or (
            package.voided_at is not None
            and package.last_tracking_at < package.voided_at
        )
        package.last_tracking_at = event.occurred_at
        package.save(update_fields=["last_tracking_at"])
        if first:
            order = package.order
            notify(
                organisation=package.organisation_id,
                order=order,
                kind="voided_parcel_moving",
                level=NotificationLevel.CRITICAL,
                title=f"{order.shop.name} {order.platform_order_id}: the carrier reports "
                f"the voided parcel {package.tracking_number} ({event.code})",
                body=event.description or event.location,
            )
        return
    package.last_tracking_at = event.occurred_at
    package.stalled = False
    fields = ["last_tracking_at", "stalled"]
    if event.code in MOVING and package.status in (
        PackageStatus.CREATED,
        PackageStatus.HANDED_OVER,
        PackageStatus.FAILED,
    ):
        package.status = PackageStatus.IN_TRANSIT
        fields.append("status")
    elif event.code == TrackingCode.DELIVERED:
        package.status = PackageStatus.DELIVERED
        fields.append("status")
    elif event.code == TrackingCode.DELIVERY_FAILED:
        package.status = PackageStatus.FAILED
        fields.append("status")
    package.save(update_fields=fields)
    # A merged parcel (X5) carries several orders: each one moves with it.
    for order in orders_in_package(package):
        _apply_to_order(order, package, event, actor)


def orders_in_package(package: Package) -> list[Order]:
    """The package's order and any other order whose items it holds (a merged parcel).

    The ids first, then the orders by primary key: an OR of ``pk = …`` with ``pk IN
    (subquery)`` makes PostgreSQL scan the whole orders table.
    """
    ids = {package.order_id} | set(
        PackageItem.objects.filter(package=package).values_list(
            "order_item__order_id", flat=True
        )
    )
    return list(Order.objects.select_related("shop").filter(pk__in=ids).order_by("pk"))


def _apply_to_order(
    order: Order, package: Package, event: TrackingEvent, actor: Actor | None
) -> None:
    actor = actor or Actor.platform(order.platform)
    if event.code == TrackingCode.DELIVERED:
        if DELIVER in _allowed(order, actor):
            apply_event(
                order,
                DELIVER,
                actor,
                tracking_number=package.tracking_number,
                location=event.location,
            )
        set_delivery_failed(order.pk, False, actor, package=package, event=event)
    elif event.code == TrackingCode.DELIVERY_FAILED and set_delivery_failed(
        order.pk, True, actor, package=package, event=event
    ):
        notify(
            organisation=order.organisation_id,
            order=order,
            kind="delivery_failed",
            level=NotificationLevel.WARNING,
            title=f"{order.shop.name} {order.platform_order_id}: delivery can't be "
            f"completed ({package.tracking_number})",
            body=event.description or event.location,
        )


def _allowed(order: Order, actor: Actor) -> list[str]:
    spec = get_spec(order.platform)
    return allowed_actions(spec, order, actor.kind, policy_for(order.shop, spec))


def set_delivery_failed(
    order_id: int,
    value: bool,
    actor: Actor,
    *,
    package: Package,
    event: TrackingEvent | None = None,
) -> bool:
    """Set or clear the order's ``delivery_failed`` overlay, on the timeline.

    Not a platform status change: the event is ``SYNCED`` with action
    ``delivery_failed`` (or ``delivery_failed_cleared``). Returns whether it changed.
    """
    with transaction.atomic():
        order = lock_order(order_id)
        if order.delivery_failed == value:
            return False
        now = timezone.now()
        order.delivery_failed = value
        commit(
            order,
            actor,
            fields=["delivery_failed"],
            now=now,
            events=[
                Entry(
                    EventType.SYNCED,
                    {
                        "action": "delivery_failed"
                        if value
                        else "delivery_failed_cleared",
                        "from_status": order.native_status,
                        "to_status": order.native_status,
                        "data": {
                            "delivery_failed": [not value, value],
                            "package": package.pk,
                            "tracking_number": package.tracking_number,
                            **({"tracking_code": event.code} if event else {}),
                        },
                    },
                    at=now,
                )
            ],
        )
    return True


# --- redelivery ---------------------------------------------------------------------------


def last_failure(package: Package) -> TrackingEvent | None:
    return (
        TrackingEvent.objects.filter(package=package, code=TrackingCode.DELIVERY_FAILED)
        .order_by("-occurred_at", "-id")
        .first()
    )


def redelivery_window(order: Order) -> timedelta | None:
    """The shop's window for a new address after a failed delivery (None: no such rule)."""
    return policy_for(order.shop).get("redelivery_window")


def request_redelivery(
    *,
    package: Package,
    actor: Actor,
    address: Mapping[str, Any],
    now: datetime | None = None,
) -> RedeliveryRequest:
    """Ask for a new delivery attempt of a failed package at a new address.

    Allowed only while the package's delivery has failed and within the shop's
    ``redelivery_window`` after the failure event; otherwise ``InvalidTransition`` with
    ``reason`` ``not_failed``, ``no_redelivery``, ``already_requested`` or
    ``redelivery_window_closed``, and nothing changes. ``address`` holds the address
    fields, and ``name`` / ``phone`` optionally.
    """
    now = now or timezone.now()
    cleaned = ACTIONS["edit_address"].clean(address)
    with transaction.atomic():
        order = lock_order(package.order_id)
        check_scope(order, actor, allowed_shops_for(actor))
        package = Package.objects.select_for_update(of=("self",)).get(pk=package.pk)
        check_permission(actor, p.EDIT_ADDRESS, "redelivery")

        def refuse(reason: str, message: str, **details: Any) -> InvalidTransition:
            return InvalidTransition(
                message,
                status=order.native_status,
                action="redelivery",
                reason=reason,
                package=package.pk,
                **details,
            )

        failure = last_failure(package)
        if package.status != PackageStatus.FAILED or failure is None:
            raise refuse("not_failed", "This package's delivery has not failed.")
        window = redelivery_window(order)
        if window is None:
            raise refuse("no_redelivery", "This platform has no redelivery requests.")
        closes_at = failure.occurred_at + window
        if now > closes_at:
            raise refuse(
                "redelivery_window_closed",
                "The redelivery window has closed.",
                window_closed_at=closes_at.isoformat(),
            )
        if package.redelivery_requests.filter(
            requested_at__gte=failure.occurred_at
        ).exists():
            raise refuse("already_requested", "A redelivery was already requested.")
        _change_address(order, cleaned, actor, package, now)
        return RedeliveryRequest.objects.create(
            package=package,
            requested_at=now,
            requested_by=actor.label,
            **cleaned,
        )


def _change_address(
    order: Order,
    cleaned: dict[str, Any],
    actor: Actor,
    package: Package,
    now: datetime,
) -> None:
    """Through the seller action when the order allows it; else for the redelivery."""
    try:
        perform(order, "edit_address", actor, **cleaned)
        return
    except InvalidTransition as exc:
        if exc.details.get("reason") != "already_shipped":
            raise
    shipped_address_change(order, cleaned, actor, package=package, now=now)


def shipped_address_change(
    order: Order,
    cleaned: Mapping[str, Any],
    actor: Actor,
    *,
    package: Package,
    now: datetime,
) -> Order:
    """Change a shipped order's address for a redelivery (the caller locked the order).

    ``edit_address`` refuses once an order shipped; a redelivery is the one case where
    the address of a shipped order changes. An ``ADDRESS_CHANGED`` event with action
    ``redelivery`` records it.
    """
    fields, changes = set_address_fields(order, dict(cleaned))
    if not fields:
        return order
    commit(
        order,
        actor,
        fields=sorted(fields),
        now=now,
        events=[
            Entry(
                EventType.ADDRESS_CHANGED,
                {
                    "action": "redelivery",
                    "from_status": order.native_status,
                    "to_status": order.native_status,
                    "data": {"changes": changes, "package": package.pk},
                },
                at=now,
            )
        ],
    )
    return order


# --- jobs -----------------------------------------------------------------------------


def run(now: datetime) -> tuple[dict, list]:
    """``JOBS["tracking"]``: stalled packages, then expired redelivery windows."""
    stalled_counts, stalled_errors = stalled_packages(now)
    window_counts, window_errors = redelivery_windows(now)
    return {**stalled_counts, **window_counts}, stalled_errors + window_errors


def stalled_packages(now: datetime) -> tuple[dict, list]:
    """Flag packages in transit with no event for ``OMS_STALLED_AFTER_DAYS``; notify once.

    The flag is the "already notified" mark: the next tracking event clears it.
    """
    cutoff = now - stalled_after()
    candidates = (
        Package.objects.filter(status=PackageStatus.IN_TRANSIT, stalled=False)
        .annotate(
            quiet_since=Coalesce("last_tracking_at", "handed_over_at", "created_at")
        )
        .filter(quiet_since__lt=cutoff)
        .select_related("order__shop")
    )
    counts, errors = {"packages_stalled": 0}, []
    for package in candidates:
        try:
            with transaction.atomic():
                flagged = (
                    Package.objects.filter(pk=package.pk, stalled=False)
                    .filter(
                        Q(last_tracking_at__isnull=True)
                        | Q(last_tracking_at__lt=cutoff)
                    )
                    .update(stalled=True)
                )
                if not flagged:
                    continue
                order = package.order
                notify(
                    organisation=package.organisation_id,
                    order=order,
                    kind="package_stalled",
                    level=NotificationLevel.WARNING,
                    title=f"{order.shop.name} {order.platform_order_id}: no tracking "
                    f"news for {package.tracking_number} since "
                    f"{package.quiet_since:%Y-%m-%d}",
                )
        except Exception as exc:
            logger.exception("could not flag package %s", package.pk)
            errors.append({"order_id": package.order_id, "error": repr(exc)[:500]})
            continue
        counts["packages_stalled"] += 1
    return counts, errors


def redelivery_windows(now: datetime) -> tuple[dict, list]:
    """Failed deliveries whose window passed without a request go back to the sender.

    The package is cancelled and, where the order's machine allows it, the order takes
    ``return_to_sender`` (TikTok Shop: cancelled and refunded). Platforms without a
    redelivery window are left alone.
    """
    counts, errors = {"parcels_returned": 0}, []
    packages = Package.objects.filter(status=PackageStatus.FAILED).select_related(
        "order__shop"
    )
    actor = Actor.system(JOB)
    for package in packages:
        window = redelivery_window(package.order)
        failure = last_failure(package)
        if window is None or failure is None or now <= failure.occurred_at + window:
            continue
        if package.redelivery_requests.filter(
            requested_at__gte=failure.occurred_at
        ).exists():
            continue
        try:
            with transaction.atomic():
                locked = lock_order(package.order_id)
                if RETURN_TO_SENDER in _allowed(locked, actor):
                    apply_event(
                        locked,
                        RETURN_TO_SENDER,
                        actor,
                        now=now,
                        reason="redelivery_window_closed",
                        tracking_number=package.tracking_number,
                    )
                Package.objects.filter(pk=package.pk).update(
                    status=PackageStatus.CANCELLED
                )
        except OmsError as exc:
            errors.append({"order_id": package.order_id, "error": exc.message})
            continue
        counts["parcels_returned"] += 1
    return counts, errors
