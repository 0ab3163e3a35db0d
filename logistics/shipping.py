"""Shipping: one order or a batch, whole or in part, in one or more packages (L3).

Each shipment is all-or-nothing: the order's machine is asked first (through the same
``plan`` that ``apply_event`` uses), quantities are checked against what is still
unshipped, then a tracking number is claimed (typed or scanned: ``register_manual``;
or ``allocate`` from a pool), the status change goes through
``orders.services.apply_event_to_locked`` and the number is marked used. Any refusal
rolls the whole transaction back: no number reserved, no package, no status change.

A batch runs a bounded number of queries whatever its size: orders are locked in id
order, numbers claimed with one call, packages and their items bulk-created, one
status change per action, and the numbers of any order refused late given back.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from logistics import merging
from logistics import services as numbers
from logistics.errors import OrderMerged, OrderSplit, PoolExhausted
from logistics.models import (
    DEAD_PACKAGE_STATUSES,
    Carrier,
    Package,
    PackageItem,
    TrackingNumber,
)
from oms.core.errors import NotFound, OmsError, ValidationFailed, VersionConflict
from orders.models import Order, OrderItem, Organisation
from orders.services import (
    Actor,
    allowed_shops_for,
    apply_event_to_locked,
    check_action,
    check_scope,
    lock_order,
)

MAX_BATCH = 500
SHIP, SHIP_PART = "ship", "ship_part"


@dataclass
class _Plan:
    order: Order
    action: str
    lines: list[tuple[OrderItem, int]]
    number: TrackingNumber | None = None
    package: Package | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- one order ----------------------------------------------------------------------------


def ship(
    order_id: int,
    *,
    actor: Actor,
    carrier_code: str,
    tracking_number: str | None = None,
    allocate: bool = False,
    items: Sequence[Mapping[str, Any]] | None = None,
    expected_version: int | None = None,
) -> Package:
    """Ship ``order_id`` (all that remains, or ``items``: [{item, quantity}]) in one package.

    Raises ``NotFound`` (not the actor's order), ``VersionConflict``,
    ``InvalidTransition`` (the machine refuses: unpaid, closed, on hold, blocked …),
    ``PermissionDenied``, ``ValidationFailed`` (carrier, number, items, quantities),
    ``TrackingNumberTaken`` (the number is already known; names the owning order) or
    ``PoolExhausted``. On any error nothing changed.
    """
    carrier = carrier_for(carrier_code)
    tracking_number = (tracking_number or "").strip()
    if bool(tracking_number) == bool(allocate):
        raise ValidationFailed(
            "Give a tracking number, or ask to allocate one from a pool (not both).",
            fields={"tracking_number": "a tracking number, or allocate=true"},
        )
    group_id, planned = _merge_or_split(order_id)
    if group_id is not None:
        # A merged order ships with its group: one parcel, one number (X5).
        if items is not None:
            raise OrderMerged(order_id=order_id, group=group_id)
        return merging.ship_group(
            group_id,
            actor=actor,
            carrier=carrier,
            tracking_number=tracking_number,
            allocate=allocate,
            expected_versions=(
                {order_id: expected_version} if expected_version is not None else None
            ),
        )
    if planned and items is None:
        raise OrderSplit(
            "The order is split into planned packages: print its labels, ship each "
            "package's items, or undo the split.",
            order_id=order_id,
        )
    with transaction.atomic():
        order = lock_order(order_id)
        check_scope(order, actor, allowed_shops_for(actor))
        if expected_version is not None and order.version != expected_version:
            raise VersionConflict(
                current_version=order.version, your_version=expected_version
            )
        remaining = remaining_quantities([order.pk])[order.pk]
        action = _action_for(remaining, items)
        _check_machine(order, action, actor, {})  # before anything is claimed
        lines = _lines(order, remaining, items)
        organisation = Organisation(pk=order.organisation_id)
        if allocate:
            (number,) = numbers.allocate(
                organisation=organisation,
                carrier=carrier,
                count=1,
                order_ids=[order.pk],
            )
        else:
            number = numbers.register_manual(
                carrier=carrier, number=tracking_number, organisation=organisation
            )
        (outcome,) = apply_event_to_locked(
            [order],
            action,
            actor,
            data={"carrier": carrier.code, "tracking_number": number.number},
            versions=(
                {order.pk: expected_version} if expected_version is not None else None
            ),
        )
        if isinstance(outcome, OmsError):
            raise outcome
        entry = _Plan(order, action, lines, number)
        _create_packages([entry], carrier, actor)
        numbers.mark_used_many(
            {order.pk: number}, package_refs={order.pk: str(entry.package.pk)}
        )
    return entry.package


# --- a batch ------------------------------------------------------------------------------


def ship_batch(
    order_ids: Iterable[int],
    *,
    actor: Actor,
    carrier_code: str,
    allocate: bool = True,
    tracking_numbers: Mapping[int, str] | None = None,
) -> list[Package | OmsError]:
    """Ship everything that remains of each order, one package each; a result per id.

    Numbers come from the pool (``allocate``) or from ``tracking_numbers`` (order id →
    number). An order refused (not found, machine, number taken …) is listed with its
    error; the others ship. Results follow ``order_ids`` (duplicates dropped).
    """
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise ValidationFailed("Choose at least one order.", fields={"ids": "required"})
    if len(ids) > MAX_BATCH:
        raise ValidationFailed(
            f"At most {MAX_BATCH} orders at once.", fields={"ids": "too many"}
        )
    carrier = carrier_for(carrier_code)
    if not allocate and tracking_numbers is None:
        raise ValidationFailed(
            "Give the tracking numbers, or allocate them from a pool.",
            fields={"tracking_numbers": "required without allocate"},
        )
    results: dict[int, Package | OmsError] = {}
    with transaction.atomic():
        queryset = Order.objects.select_for_update(
            of=("self",), no_key=True
        ).select_related("shop")
        if actor.organisation_id is not None:
            queryset = queryset.filter(organisation_id=actor.organisation_id)
        locked = list(queryset.filter(pk__in=ids).order_by("pk"))
        remaining = remaining_quantities([order.pk for order in locked])
        special = merging.merge_state([order.pk for order in locked])
        allowed_shops = allowed_shops_for(actor)
        policies: dict[int, dict] = {}
        planned: list[_Plan] = []
        for order in locked:
            try:
                check_scope(order, actor, allowed_shops)
                if order.pk in special["groups"]:
                    raise OrderMerged(
                        "The order is merged with others: ship or print it alone, "
                        "so its group goes as one parcel.",
                        order_id=order.pk,
                        group=special["groups"][order.pk],
                    )
                if order.pk in special["split"]:
                    raise OrderSplit(order_id=order.pk)
                _check_machine(order, SHIP, actor, policies)
                lines = _lines(order, remaining[order.pk], None)
                if not allocate and order.pk not in tracking_numbers:
                    raise ValidationFailed(
                        "No tracking number given for this order.",
                        fields={"tracking_numbers": f"missing for order {order.pk}"},
                    )
            except OmsError as exc:
                results[order.pk] = exc
                continue
            planned.append(_Plan(order, SHIP, lines))
        planned = _claim_numbers(planned, carrier, allocate, tracking_numbers, results)
        if planned:
            _ship_planned(planned, carrier, actor, results)
    return [
        results.get(order_id) or NotFound("No such order.", order_id=order_id)
        for order_id in ids
    ]


def _claim_numbers(
    planned: list[_Plan],
    carrier: Carrier,
    allocate: bool,
    tracking_numbers: Mapping[int, str] | None,
    results: dict[int, Package | OmsError],
) -> list[_Plan]:
    """Give each planned order a reserved number (one allocation per organisation)."""
    by_organisation: dict[int, list[_Plan]] = {}
    for entry in planned:
        by_organisation.setdefault(entry.order.organisation_id, []).append(entry)
    kept: list[_Plan] = []
    for organisation_id, group in by_organisation.items():
        organisation = Organisation(pk=organisation_id)
        if allocate:
            try:
                taken = numbers.allocate(
                    organisation=organisation,
                    carrier=carrier,
                    count=len(group),
                    order_ids=[entry.order.pk for entry in group],
                )
            except PoolExhausted as exc:
                for entry in group:
                    results[entry.order.pk] = exc
                continue
            for entry, number in zip(group, taken, strict=True):
                entry.number = number
                kept.append(entry)
            continue
        claimed = numbers.register_manual_many(
            carrier=carrier,
            numbers={e.order.pk: tracking_numbers[e.order.pk] for e in group},
            organisation=organisation,
        )
        for entry in group:
            outcome = claimed[entry.order.pk]
            if isinstance(outcome, OmsError):
                results[entry.order.pk] = outcome
            else:
                entry.number = outcome
                kept.append(entry)
    return kept


def _ship_planned(
    planned: list[_Plan],
    carrier: Carrier,
    actor: Actor,
    results: dict[int, Package | OmsError],
) -> None:
    """Status changes (one per action), packages, numbers used; late refusals released."""
    now = timezone.now()
    shipped: list[_Plan] = []
    refused_numbers: list[TrackingNumber] = []
    for action in (SHIP, SHIP_PART):
        group = [entry for entry in planned if entry.action == action]
        if not group:
            continue
        outcomes = apply_event_to_locked(
            [entry.order for entry in group],
            action,
            actor,
            now=now,
            data={"carrier": carrier.code},
            data_by_order={
                entry.order.pk: {"tracking_number": entry.number.number}
                for entry in group
            },
        )
        for entry, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, OmsError):
                results[entry.order.pk] = outcome
                refused_numbers.append(entry.number)
            else:
                shipped.append(entry)
    if refused_numbers:
        numbers.release(refused_numbers)
    if not shipped:
        return
    _create_packages(shipped, carrier, actor, now=now)
    numbers.mark_used_many(
        {entry.order.pk: entry.number for entry in shipped},
        package_refs={entry.order.pk: str(entry.package.pk) for entry in shipped},
    )
    for entry in shipped:
        results[entry.order.pk] = entry.package


# --- shared steps -------------------------------------------------------------------------


def carrier_for(code: str) -> Carrier:
    carrier = Carrier.objects.filter(code=(code or "").strip(), is_active=True).first()
    if carrier is None:
        raise ValidationFailed("No such carrier.", fields={"carrier": "unknown code"})
    return carrier


def _merge_or_split(order_id: int) -> tuple[int | None, bool]:
    """(merge group id or None, whether a split is planned) for the order."""
    state = merging.merge_state([order_id])
    return state["groups"].get(order_id), order_id in state["split"]


def _check_machine(
    order: Order, action: str, actor: Actor, policies: dict[int, dict]
) -> None:
    """Raise what ``apply_event_to_locked`` would (the service's dry run; the caller
    reached the order within the actor's scope)."""
    refusal = check_action(order, action, actor, policies=policies, scoped=True)
    if refusal is not None:
        raise refusal


def remaining_quantities(
    order_ids: Sequence[int],
) -> dict[int, list[tuple[OrderItem, int]]]:
    """Each order's items with the quantity not yet in a (non-cancelled) package."""
    out: dict[int, list[tuple[OrderItem, int]]] = {pk: [] for pk in order_ids}
    if not order_ids:
        return out
    # By the item's order, not the package's: a merged parcel (led by another order of
    # its group) holds this order's items too.
    shipped = dict(
        PackageItem.objects.filter(order_item__order_id__in=list(order_ids))
        .exclude(package__status__in=DEAD_PACKAGE_STATUSES)
        .values("order_item_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_item_id", "n")
        .order_by()
    )
    for item in OrderItem.objects.filter(order_id__in=list(order_ids)).order_by("id"):
        out[item.order_id].append((item, item.quantity - shipped.get(item.pk, 0)))
    return out


def _action_for(
    remaining: list[tuple[OrderItem, int]], items: Sequence[Mapping] | None
) -> str:
    """``ship`` when this shipment leaves nothing unshipped, else ``ship_part``."""
    if items is None:
        return SHIP
    chosen: dict[int, int] = {}
    for entry in items:
        try:
            chosen[int(entry["item"])] = chosen.get(int(entry["item"]), 0) + int(
                entry["quantity"]
            )
        except (KeyError, TypeError, ValueError):
            return SHIP_PART  # _lines refuses it, after the machine has had its say
    left = sum(max(qty - chosen.get(item.pk, 0), 0) for item, qty in remaining)
    return SHIP if left == 0 else SHIP_PART


def _lines(
    order: Order,
    remaining: list[tuple[OrderItem, int]],
    items: Sequence[Mapping[str, Any]] | None,
) -> list[tuple[OrderItem, int]]:
    """The (item, quantity) pairs of this shipment; refuses what exceeds what remains."""
    if items is None:
        lines = [(item, qty) for item, qty in remaining if qty > 0]
        if not lines:
            raise ValidationFailed(
                "Nothing of this order is left to ship.", order_id=order.pk
            )
        return lines
    by_id = {item.pk: (item, qty) for item, qty in remaining}
    lines: list[tuple[OrderItem, int]] = []
    seen: set[int] = set()
    for index, entry in enumerate(items):
        try:
            item_id, quantity = int(entry["item"]), entry["quantity"]
        except (KeyError, TypeError, ValueError):
            raise ValidationFailed(
                "Each line needs an item and a quantity.",
                fields={f"items[{index}]": "item and quantity"},
            ) from None
        if item_id not in by_id:
            raise ValidationFailed(
                "This item is not on the order.",
                fields={f"items[{index}].item": "not on this order"},
                item=item_id,
            )
        if item_id in seen:
            raise ValidationFailed(
                "An item is listed twice.",
                fields={f"items[{index}].item": "listed twice"},
                item=item_id,
            )
        seen.add(item_id)
        item, left = by_id[item_id]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValidationFailed(
                "A quantity is a whole number of at least 1.",
                fields={f"items[{index}].quantity": "at least 1"},
                item=item_id,
            )
        if quantity > left:
            raise ValidationFailed(
                f"Only {left} of this item remain unshipped.",
                fields={f"items[{index}].quantity": f"at most {left}"},
                item=item_id,
                remaining=left,
                requested=quantity,
            )
        lines.append((item, quantity))
    if not lines:
        raise ValidationFailed("Choose at least one item.", fields={"items": "empty"})
    return lines


def _create_packages(
    entries: list[_Plan], carrier: Carrier, actor: Actor, *, now=None
) -> None:
    """One package per entry, with its items: two inserts whatever the count."""
    now = now or timezone.now()
    packages = [
        Package(
            organisation_id=entry.order.organisation_id,
            order=entry.order,
            carrier=carrier,
            tracking_number=entry.number.number,
            tracking_record=entry.number,
            partial=entry.action == SHIP_PART,
            created_at=now,
            shipped_by=actor.label[:150],
        )
        for entry in entries
    ]
    Package.objects.bulk_create(packages)
    PackageItem.objects.bulk_create(
        [
            PackageItem(package=package, order_item=item, quantity=quantity)
            for entry, package in zip(entries, packages, strict=True)
            for item, quantity in entry.lines
        ]
    )
    for entry, package in zip(entries, packages, strict=True):
        package.carrier = carrier
        entry.package = package
