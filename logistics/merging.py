"""Merge and split (PRODUCT.md O5, X5): plan parcels before the label is printed.

**Merge**: orders of one organisation, shop, buyer and address, all awaiting shipment
and none yet packed, go into one parcel. When the group is shipped (from the order page,
or by printing its labels) one tracking number covers every order: one ``Package`` led
by the group's first order holds the items of all of them, and each order takes its own
``ship`` transition with that number. A merge can be undone until a label is printed.

**Split**: ``logistics.shipping`` already ships several packages per order, each with
chosen items (``ship(items=…)``). A split is therefore a *plan*: which items go in which
package, kept until printing, when each planned package is shipped with its own number
from the pools. A split can be undone until a label is printed.

Every change is written on each order's timeline. Refusals are ``OmsError`` subclasses
(``logistics.errors``) and change nothing.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from logistics import services as numbers
from logistics.errors import (
    AlreadyPrinted,
    MergeMismatch,
    NotAwaitingShipment,
    OrderMerged,
    OrderSplit,
)
from logistics.models import (
    DEAD_PACKAGE_STATUSES,
    Carrier,
    MergeGroup,
    MergeGroupOrder,
    Package,
    PackageItem,
    PlannedPackage,
)
from oms.core.errors import NotFound, OmsError, ValidationFailed
from orders import events as order_events
from orders import permissions as p
from orders.choices import EventType, Stage
from orders.models import Order, Organisation
from orders.services import (
    Actor,
    allowed_shops_for,
    apply_event_to_locked,
    check_permission,
    check_scope,
)

MAX_MERGE = 20  # orders in one parcel
MAX_SPLIT = 20  # packages of one order
# Timeline entry types.
MERGED, SPLIT = EventType.MERGED, EventType.SPLIT
ADDRESS_FIELDS = (
    "address_country",
    "address_province",
    "address_city",
    "address_district",
    "address_street",
    "address_postcode",
)


# --- merge --------------------------------------------------------------------------------


def merge_orders(*, order_ids: Iterable[int], actor: Actor) -> MergeGroup:
    """Put ``order_ids`` (at least two) into one parcel; returns the new group.

    Raises ``ValidationFailed`` (fewer than two, too many), ``NotFound`` (not the
    actor's), ``PermissionDenied``, ``MergeMismatch`` (shop, buyer or address differ),
    ``NotAwaitingShipment``, ``AlreadyPrinted`` (an order has a package), ``OrderMerged``
    (already in a group) or ``OrderSplit`` (it has a split plan).
    """
    ids = sorted({int(i) for i in order_ids})
    if len(ids) < 2:
        raise ValidationFailed(
            "Choose at least two orders to merge.", fields={"order_ids": "at least 2"}
        )
    if len(ids) > MAX_MERGE:
        raise ValidationFailed(
            f"At most {MAX_MERGE} orders in one parcel.",
            fields={"order_ids": f"at most {MAX_MERGE}"},
        )
    check_permission(actor, p.MERGE_SPLIT, "merge")
    with transaction.atomic():
        orders = _lock_orders(ids, actor)
        _refuse_unmergeable(orders)
        now = timezone.now()
        lead = orders[0]
        group = MergeGroup.objects.create(
            organisation_id=lead.organisation_id,
            shop_id=lead.shop_id,
            created_at=now,
            created_by=actor.label[:200],
        )
        MergeGroupOrder.objects.bulk_create(
            [MergeGroupOrder(group=group, order=order) for order in orders]
        )
        _log(
            orders,
            MERGED,
            "merge",
            actor,
            now,
            lambda order: {
                "group": group.pk,
                "orders": [o.platform_order_id for o in orders if o.pk != order.pk],
            },
        )
    return group


def undo_merge(*, group_id: int, actor: Actor) -> list[int]:
    """Dissolve a merge group before its label is printed; returns its order ids.

    Raises ``NotFound`` (no such group of the actor's), ``PermissionDenied`` or
    ``AlreadyPrinted``.
    """
    check_permission(actor, p.MERGE_SPLIT, "undo merge")
    with transaction.atomic():
        group = (
            MergeGroup.objects.select_for_update()
            .filter(pk=group_id, organisation_id=actor.organisation_id)
            .first()
        )
        if group is None:
            raise NotFound("No such merge group.", group=group_id)
        ids = list(
            group.members.order_by("order_id").values_list("order_id", flat=True)
        )
        orders = _lock_orders(ids, actor)
        printed = _packed(ids)
        if printed:
            raise AlreadyPrinted(
                "The merged parcel's label was printed; the merge can no longer be undone.",
                orders=printed,
                group=group.pk,
            )
        now = timezone.now()
        group.delete()  # and its members
        _log(
            orders,
            MERGED,
            "merge_undone",
            actor,
            now,
            lambda order: {"group": group_id},
        )
    return ids


def group_orders(order_id: int) -> tuple[int, list[Order]] | None:
    """(group id, its orders in id order) for an order that is merged, else None."""
    membership = MergeGroupOrder.objects.filter(order_id=order_id).first()
    if membership is None:
        return None
    orders = list(
        Order.objects.filter(merge_membership__group_id=membership.group_id)
        .select_related("shop")
        .order_by("pk")
    )
    return membership.group_id, orders


def ship_group(
    group_id: int,
    *,
    actor: Actor,
    carrier: Carrier,
    tracking_number: str | None = None,
    allocate: bool = False,
    expected_versions: Mapping[int, int] | None = None,
) -> Package:
    """Ship every order of a merge group in one parcel under one tracking number.

    Each order takes its own ``ship`` transition (everything it has left); the one
    package is led by the first order and holds all their items. All or nothing: any
    order refused refuses the group, and no number stays claimed.
    """
    from logistics.shipping import (
        SHIP,
        _check_machine,
        _create_packages,
        _Plan,
        remaining_quantities,
    )

    with transaction.atomic():
        ids = list(
            MergeGroupOrder.objects.filter(group_id=group_id)
            .order_by("order_id")
            .values_list("order_id", flat=True)
        )
        if not ids:
            raise NotFound("No such merge group.", group=group_id)
        orders = _lock_orders(ids, actor)
        policies: dict[int, dict] = {}
        for order in orders:
            _check_machine(order, SHIP, actor, policies)
        remaining = remaining_quantities(ids)
        lines = []
        for order in orders:
            left = [(item, qty) for item, qty in remaining[order.pk] if qty > 0]
            if not left:
                raise ValidationFailed(
                    "Nothing of this order is left to ship.", order_id=order.pk
                )
            lines.extend(left)
        lead = orders[0]
        organisation = Organisation(pk=lead.organisation_id)
        if allocate:
            (number,) = numbers.allocate(
                organisation=organisation,
                carrier=carrier,
                count=1,
                order_ids=[lead.pk],
            )
        else:
            number = numbers.register_manual(
                carrier=carrier, number=tracking_number or "", organisation=organisation
            )
        outcomes = apply_event_to_locked(
            orders,
            SHIP,
            actor,
            data={"carrier": carrier.code},
            data_by_order={
                order.pk: {"tracking_number": number.number, "merge_group": group_id}
                for order in orders
            },
            versions=expected_versions,
        )
        for outcome in outcomes:
            if isinstance(outcome, OmsError):
                raise outcome
        entry = _Plan(lead, SHIP, lines, number)
        _create_packages([entry], carrier, actor)
        numbers.mark_used_many(
            {lead.pk: number}, package_refs={lead.pk: str(entry.package.pk)}
        )
    return entry.package


# --- split --------------------------------------------------------------------------------


def split_order(
    *,
    order_id: int,
    actor: Actor,
    packages: Sequence[Sequence[Mapping[str, Any]]],
) -> list[PlannedPackage]:
    """Plan the order's parcels: ``packages`` lists each package's ``{item, quantity}``.

    Together the packages must hold exactly what the order has (at least two packages,
    each with at least one item). A new plan replaces an earlier one. Raises
    ``ValidationFailed`` (the quantities), ``NotFound``, ``PermissionDenied``,
    ``NotAwaitingShipment``, ``AlreadyPrinted`` or ``OrderMerged``.
    """
    check_permission(actor, p.MERGE_SPLIT, "split")
    if not isinstance(packages, list | tuple) or len(packages) < 2:
        raise ValidationFailed(
            "A split needs at least two packages.", fields={"packages": "at least 2"}
        )
    if len(packages) > MAX_SPLIT:
        raise ValidationFailed(
            f"At most {MAX_SPLIT} packages.",
            fields={"packages": f"at most {MAX_SPLIT}"},
        )
    with transaction.atomic():
        (order,) = _lock_orders([order_id], actor)
        _refuse_not_waiting([order])
        if MergeGroupOrder.objects.filter(order_id=order.pk).exists():
            raise OrderMerged(order_id=order.pk)
        planned = _clean_split(order, packages)
        now = timezone.now()
        PlannedPackage.objects.filter(order=order).delete()
        rows = PlannedPackage.objects.bulk_create(
            [
                PlannedPackage(
                    organisation_id=order.organisation_id,
                    order=order,
                    sequence=index,
                    items=items,
                    created_at=now,
                    created_by=actor.label[:200],
                )
                for index, items in enumerate(planned, start=1)
            ]
        )
        _log([order], SPLIT, "split", actor, now, lambda _order: {"packages": planned})
    return rows


def undo_split(*, order_id: int, actor: Actor) -> None:
    """Drop the order's split plan before printing. Raises ``NotFound`` (no plan),
    ``PermissionDenied`` or ``AlreadyPrinted``."""
    check_permission(actor, p.MERGE_SPLIT, "undo split")
    with transaction.atomic():
        (order,) = _lock_orders([order_id], actor)
        plan = PlannedPackage.objects.filter(order=order)
        if not plan.exists():
            raise NotFound("This order has no split plan.", order_id=order.pk)
        if _packed([order.pk]):
            raise AlreadyPrinted(orders=[order.pk])
        plan.delete()
        _log([order], SPLIT, "split_undone", actor, timezone.now(), lambda _o: {})


def plan_of(order_id: int) -> list[PlannedPackage]:
    return list(PlannedPackage.objects.filter(order_id=order_id).order_by("sequence"))


def ship_plan(order_id: int, *, actor: Actor, carrier_code: str) -> list[Package]:
    """Ship each planned package of a split order with a number from the pools.

    All or nothing: if one package is refused, none is shipped.
    """
    from logistics.shipping import ship

    with transaction.atomic():
        plan = plan_of(order_id)
        if not plan:
            raise NotFound("This order has no split plan.", order_id=order_id)
        return [
            ship(
                order_id,
                actor=actor,
                carrier_code=carrier_code,
                allocate=True,
                items=planned.items,
            )
            for planned in plan
        ]


# --- shared -------------------------------------------------------------------------------


def _lock_orders(ids: Sequence[int], actor: Actor) -> list[Order]:
    """Lock the actor's orders in id order; ``NotFound`` names any that is not theirs."""
    queryset = Order.objects.select_for_update(
        of=("self",), no_key=True
    ).select_related("shop")
    if actor.organisation_id is not None:
        queryset = queryset.filter(organisation_id=actor.organisation_id)
    orders = list(queryset.filter(pk__in=list(ids)).order_by("pk"))
    allowed = allowed_shops_for(actor)
    for order in orders:
        check_scope(order, actor, allowed)
    missing = sorted(set(ids) - {order.pk for order in orders})
    if missing:
        raise NotFound("No such order.", order_ids=missing)
    return orders


def _packed(ids: Sequence[int]) -> list[int]:
    """Which of the orders have a parcel (a non-cancelled package): their label exists."""
    own = Package.objects.filter(order_id__in=list(ids)).exclude(
        status__in=DEAD_PACKAGE_STATUSES
    )
    within = PackageItem.objects.filter(order_item__order_id__in=list(ids)).exclude(
        package__status__in=DEAD_PACKAGE_STATUSES
    )
    found = set(own.values_list("order_id", flat=True))
    found |= set(within.values_list("order_item__order_id", flat=True))
    return sorted(found)


def _refuse_not_waiting(orders: Sequence[Order]) -> None:
    waiting = [o.pk for o in orders if o.stage != Stage.AWAITING_SHIPMENT]
    if waiting:
        raise NotAwaitingShipment(orders=waiting)
    printed = _packed([o.pk for o in orders])
    if printed:
        raise AlreadyPrinted(orders=printed)


def _buyer(order: Order) -> tuple[str, str]:
    return (order.buyer_nick.strip().casefold(), order.buyer_name.strip().casefold())


def _address(order: Order) -> tuple[str, ...]:
    return tuple(
        " ".join(getattr(order, name).split()).casefold() for name in ADDRESS_FIELDS
    )


def _refuse_unmergeable(orders: Sequence[Order]) -> None:
    lead = orders[0]
    for reason, key in (
        ("different_shop", lambda o: o.shop_id),
        ("different_buyer", _buyer),
        ("different_address", _address),
    ):
        differing = [o.pk for o in orders[1:] if key(o) != key(lead)]
        if differing:
            raise MergeMismatch(reason=reason, orders=differing, first=lead.pk)
    _refuse_not_waiting(orders)
    ids = [o.pk for o in orders]
    merged = list(
        MergeGroupOrder.objects.filter(order_id__in=ids).values_list(
            "order_id", flat=True
        )
    )
    if merged:
        raise OrderMerged(orders=sorted(merged))
    split = sorted(
        set(
            PlannedPackage.objects.filter(order_id__in=ids).values_list(
                "order_id", flat=True
            )
        )
    )
    if split:
        raise OrderSplit(orders=split)


def _clean_split(
    order: Order, packages: Sequence[Sequence[Mapping[str, Any]]]
) -> list[list[dict[str, int]]]:
    """Each package's lines, checked: known items, whole quantities, exact total."""
    quantities = dict(order.items.values_list("pk", "quantity"))
    planned: list[list[dict[str, int]]] = []
    totals: dict[int, int] = {}
    for index, lines in enumerate(packages):
        if not isinstance(lines, list | tuple) or not lines:
            raise ValidationFailed(
                "Each package needs at least one item.",
                fields={f"packages[{index}]": "empty"},
            )
        chosen: dict[int, int] = {}
        for position, line in enumerate(lines):
            where = f"packages[{index}][{position}]"
            try:
                item, quantity = int(line["item"]), line["quantity"]
            except (KeyError, TypeError, ValueError):
                raise ValidationFailed(
                    "Each line needs an item and a quantity.",
                    fields={where: "item and quantity"},
                ) from None
            if item not in quantities:
                raise ValidationFailed(
                    "This item is not on the order.",
                    fields={f"{where}.item": "not on this order"},
                    item=item,
                )
            if (
                isinstance(quantity, bool)
                or not isinstance(quantity, int)
                or quantity < 1
            ):
                raise ValidationFailed(
                    "A quantity is a whole number of at least 1.",
                    fields={f"{where}.quantity": "at least 1"},
                    item=item,
                )
            chosen[item] = chosen.get(item, 0) + quantity
            totals[item] = totals.get(item, 0) + quantity
        planned.append([{"item": i, "quantity": q} for i, q in sorted(chosen.items())])
    wrong = {
        item: {"ordered": qty, "planned": totals.get(item, 0)}
        for item, qty in quantities.items()
        if totals.get(item, 0) != qty
    }
    if wrong:
        raise ValidationFailed(
            "The packages must together hold exactly the order's items.",
            fields={"packages": "quantities differ from the order"},
            items={str(item): counts for item, counts in wrong.items()},
        )
    return planned


def _log(orders, type_, action, actor, now, data) -> None:
    for order in orders:
        order_events.record(
            order,
            type_,
            actor,
            now=now,
            action=action,
            from_status=order.native_status,
            to_status=order.native_status,
            data=data(order),
        )


def merge_state(order_ids: Sequence[int]) -> dict[str, Any]:
    """For pages: which orders are merged (order id → group id) and which are split."""
    groups = dict(
        MergeGroupOrder.objects.filter(order_id__in=list(order_ids)).values_list(
            "order_id", "group_id"
        )
    )
    split = set(
        PlannedPackage.objects.filter(order_id__in=list(order_ids)).values_list(
            "order_id", flat=True
        )
    )
    return {"groups": groups, "split": split}
