"""Voiding: a closed order's parcels that have not left (issue 11, failure 13).

An order can be closed after its package was made and its label printed (TikTok Shop:
cancelled while awaiting collection, by the seller, by an approved cancel request, by
the platform, or by the ship deadline). ``on_order_transition`` is registered in
``orders.services.AFTER_TRANSITION``, which every closing path goes through (the order
services, the deadline sweep, after-sales effects and ingest of a platform status), and
runs inside that transaction with the orders still locked.

For each package of a closed order that is still with the seller (created, never
scanned or handed over), in bulk whatever the number of orders:

- the package is voided (status ``voided``, time and reason) and stays on the order for
  the record; its label is refused by printing and by the hand-over scan;
- its tracking number is marked void, never handed out again: the number was on a
  package, so the platform was told (the ship step) and a label may carry it, and a
  number is on one package for ever (PRODUCT.md L2, ``Package``'s unique constraint,
  carrier pushes matched by number). Only a number reserved for the order and never on
  a package goes back to its pool (``services.release``);
- the order's timeline records it.

Packages already with the carrier (handed over, in transit, delivered …) are left
alone: a partly shipped order keeps the parcels that left. A merged parcel (X5) is voided
only when every order in it is closed; otherwise the closed orders leave it (their items
come out, the parcel is led by the next order, the label is flagged to reprint) and the
others keep their parcel and number.
"""

from collections.abc import Sequence
from datetime import datetime

from django.utils.translation import gettext_noop

from logistics import services as numbers
from logistics.models import (
    MergeGroupOrder,
    NumberStatus,
    Package,
    PackageItem,
    PackageStatus,
    TrackingNumber,
)
from oms.core.db import bulk_update
from orders import events as order_events
from orders.choices import EventType, Stage
from orders.models import Order, OrderEvent
from orders.services import Actor

VOID_REASON = "order cancelled"  # stored on the package and its number
VOIDED_NOTE = gettext_noop("voided: order cancelled")  # scans, print refusals, timeline
LEFT_PARCEL = gettext_noop("order cancelled: it left the merged parcel")
PARCEL_CHANGED = gettext_noop(
    "an order of the merged parcel was cancelled: reprint the label"
)


def on_order_transition(
    orders: list[Order], action: str, actor: Actor, now: datetime
) -> None:
    """``orders.services.AFTER_TRANSITION``: void what the closed orders leave behind."""
    closed = {order.pk: order for order in orders if order.stage == Stage.CLOSED}
    if closed:
        void_for_closed(closed, actor, now)


def void_for_closed(closed: dict[int, Order], actor: Actor, now: datetime) -> None:
    """Void the parcels of the (locked, closed) orders that have not left.

    A fixed number of queries whatever the number of orders: three when none has a
    parcel still here.
    """
    ids = list(closed)
    _release_reserved(ids)
    # Their own packages and the merged parcels holding their items, each through its
    # index (an OR of the two in one query would make PostgreSQL scan every package),
    # then those still with the seller, locked.
    not_left = {
        "status": PackageStatus.CREATED,
        "handed_over_at__isnull": True,
        "scanned_at__isnull": True,
    }
    candidates = set(
        Package.objects.filter(order_id__in=ids, **not_left).values_list(
            "pk", flat=True
        )
    ) | set(
        PackageItem.objects.filter(
            order_item__order_id__in=ids,
            **{f"package__{name}": value for name, value in not_left.items()},
        ).values_list("package_id", flat=True)
    )
    if not candidates:
        return
    packages = list(
        Package.objects.select_for_update(of=("self",))
        .filter(pk__in=candidates, **not_left)
        .order_by("id")
    )
    if not packages:
        return
    # Who is in each parcel (several orders when merged), and whether they are live.
    members: dict[int, dict[int, tuple[str, str]]] = {}
    items: dict[tuple[int, int], list[int]] = {}
    for item_id, package_id, order_id, stage, status in PackageItem.objects.filter(
        package_id__in=[package.pk for package in packages]
    ).values_list(
        "pk",
        "package_id",
        "order_item__order_id",
        "order_item__order__stage",
        "order_item__order__native_status",
    ):
        members.setdefault(package_id, {})[order_id] = (stage, status)
        items.setdefault((package_id, order_id), []).append(item_id)

    voided: list[Package] = []
    changed: list[tuple[Package, list[int], list[int]]] = []  # (parcel, left, live)
    for package in packages:
        inside = members.get(package.pk, {})
        if package.order_id not in inside:
            inside[package.order_id] = (
                (Stage.CLOSED, "") if package.order_id in closed else ("", "")
            )
        live = sorted(
            order_id
            for order_id, (stage, _status) in inside.items()
            if order_id not in closed and stage != Stage.CLOSED
        )
        if not live:
            voided.append(package)
            continue
        left = sorted(order_id for order_id in inside if order_id not in live)
        changed.append((package, left, live))

    events: list[OrderEvent] = []
    if voided:
        _void(voided, now)
        for package in voided:
            for order_id in sorted(members.get(package.pk, {}) | {package.order_id: 0}):
                if order_id in closed:
                    events.append(
                        _event(
                            closed[order_id],
                            EventType.PACKAGE_VOIDED,
                            "void_package",
                            actor,
                            now,
                            VOIDED_NOTE,
                            package,
                        )
                    )
    if changed:
        events += _leave(changed, items, members, closed, actor, now)
    if events:
        order_events.write(events)


def _release_reserved(order_ids: Sequence[int]) -> None:
    """Numbers reserved for the orders and never on a package go back to the pool."""
    reserved = list(
        TrackingNumber.objects.filter(
            order_id__in=list(order_ids), status=NumberStatus.RESERVED
        ).values_list("pk", flat=True)
    )
    if reserved:
        numbers.release(reserved)


def _void(packages: list[Package], now: datetime) -> None:
    """Two updates: the packages, and their numbers (void, never handed out again)."""
    Package.objects.filter(pk__in=[package.pk for package in packages]).update(
        status=PackageStatus.VOIDED,
        voided_at=now,
        void_reason=VOID_REASON,
        needs_reprint=False,
    )
    TrackingNumber.objects.filter(
        pk__in=[p.tracking_record_id for p in packages if p.tracking_record_id]
    ).exclude(status=NumberStatus.VOID).update(
        status=NumberStatus.VOID, voided_at=now, void_reason=VOID_REASON
    )
    for package in packages:
        package.status, package.voided_at = PackageStatus.VOIDED, now
        package.void_reason, package.needs_reprint = VOID_REASON, False


def _leave(
    changed: list[tuple[Package, list[int], list[int]]],
    items: dict[tuple[int, int], list[int]],
    members: dict[int, dict[int, tuple[str, str]]],
    closed: dict[int, Order],
    actor: Actor,
    now: datetime,
) -> list[OrderEvent]:
    """Closed orders leave merged parcels the others keep: a fixed number of writes."""
    gone_items = [
        item_id
        for package, left, _live in changed
        for order_id in left
        for item_id in items.get((package.pk, order_id), [])
    ]
    PackageItem.objects.filter(pk__in=gone_items).delete()
    relead: list[TrackingNumber] = []
    for package, _left, live in changed:
        package.needs_reprint = True
        if package.order_id not in live:
            package.order_id = live[0]
            if package.tracking_record_id:
                relead.append(
                    TrackingNumber(pk=package.tracking_record_id, order_id=live[0])
                )
    bulk_update([package for package, _, _ in changed], ["order", "needs_reprint"])
    if relead:
        # The number was used on the parcel's lead; it now names the new lead.
        bulk_update(relead, ["order"])
    leavers = sorted({order_id for _, left, _ in changed for order_id in left})
    MergeGroupOrder.objects.filter(order_id__in=leavers).delete()
    events = []
    for package, left, live in changed:
        for order_id in left:
            if order_id in closed:
                events.append(
                    _event(
                        closed[order_id],
                        EventType.MERGED,
                        "left_parcel",
                        actor,
                        now,
                        LEFT_PARCEL,
                        package,
                    )
                )
        for order_id in live:
            _stage, status = members[package.pk][order_id]
            events.append(
                _event(
                    Order(pk=order_id, native_status=status),
                    EventType.MERGED,
                    "parcel_changed",
                    actor,
                    now,
                    PARCEL_CHANGED,
                    package,
                    left=left,
                )
            )
    return events


def _event(
    order: Order,
    type_: str,
    action: str,
    actor: Actor,
    now: datetime,
    reason: str,
    package: Package,
    **data,
) -> OrderEvent:
    return order_events.build(
        order,
        type_,
        actor,
        now=now,
        action=action,
        from_status=order.native_status,
        to_status=order.native_status,
        reason=reason,
        data={
            "package": package.pk,
            "tracking_number": package.tracking_number,
            "number_status": NumberStatus.VOID
            if package.status == PackageStatus.VOIDED
            else NumberStatus.USED,
            **data,
        },
    )
