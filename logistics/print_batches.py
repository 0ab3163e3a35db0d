"""Print batches (PRODUCT.md L4) and the hand-over scan (L5).

``print_labels`` ships what is not yet shipped (``ship_batch`` with numbers from the
pools), reuses the package of an order already shipped (its label is a reprint), and
keeps the batch so it can be printed again, turned into packing slips and a pick list,
and scanned at hand-over. Every function runs a bounded number of queries whatever the
size of the batch.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from logistics import merging
from logistics.errors import PackageVoided
from logistics.models import (
    DEAD_PACKAGE_STATUSES,
    Package,
    PackageItem,
    PackageStatus,
    PrintBatch,
    PrintBatchPackage,
    PrintKind,
)
from logistics.printing import (
    LABEL_SIZES,
    Label,
    LabelLine,
    PackingSlip,
    Party,
    render_labels,
    render_packing_slips,
    render_pick_list,
)
from logistics.shipping import MAX_BATCH, carrier_for, ship_batch
from logistics.voiding import VOIDED_NOTE
from oms.core.errors import OmsError, ValidationFailed
from orders.models import Order, Organisation
from orders.platforms import get_platform, get_spec
from orders.services import Actor, allowed_shops_for, apply_event_to_locked

# --- printing ---------------------------------------------------------------------------


def print_labels(
    *,
    organisation: Organisation,
    actor: Actor,
    order_ids,
    carrier_code: str,
    size: str = "100x180",
) -> tuple[PrintBatch, bytes | None]:
    """Make a batch of labels for ``order_ids``: (batch, PDF or None when none printed).

    Orders with a package (not cancelled) get that package's label again, marked as a
    reprint; the others are shipped with numbers from the pools. Refused orders are in
    ``batch.failures`` with their reason (an order whose package was voided: "voided:
    order cancelled", and no new number is taken for it).
    """
    if size not in LABEL_SIZES:
        raise ValidationFailed(
            "Unknown label size.", fields={"size": f"one of {', '.join(LABEL_SIZES)}"}
        )
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise ValidationFailed(
            "Choose at least one order.", fields={"order_ids": "required"}
        )
    if len(ids) > MAX_BATCH:
        raise ValidationFailed(
            f"At most {MAX_BATCH} orders at once.", fields={"order_ids": "too many"}
        )
    carrier_for(carrier_code)  # an unknown carrier refuses the whole batch
    with transaction.atomic():
        visible = _orders(organisation, actor).filter(pk__in=ids)
        special = merging.merge_state(ids)
        existing: dict[int, list[Package]] = {}
        voided: set[int] = set()
        for package in (
            Package.objects.filter(order__in=visible)
            .exclude(status=PackageStatus.CANCELLED)
            .order_by("order_id", "id")
        ):
            if package.status == PackageStatus.VOIDED:
                voided.add(package.order_id)
            else:
                existing.setdefault(package.order_id, []).append(package)
        _add_merged_parcels(existing, visible, special["groups"])
        # A voided label is never printed again, nor replaced by a new number.
        failures: list[dict] = [
            {"order_id": i, "reason": VOIDED_NOTE}
            for i in ids
            if i in voided and i not in existing
        ]
        to_ship = [i for i in ids if i not in existing and i not in voided]
        shipped: dict[int, list[Package]] = {}
        plain = _ship_merged_and_split(
            to_ship, special, actor, carrier_code, shipped, failures
        )
        if plain:
            outcomes = ship_batch(
                plain, actor=actor, carrier_code=carrier_code, allocate=True
            )
            for order_id, outcome in zip(plain, outcomes, strict=True):
                if isinstance(outcome, OmsError):
                    failures.append(
                        {
                            "order_id": order_id,
                            "reason": outcome.reason_text,
                            "code": outcome.code,
                        }
                    )
                else:
                    shipped[order_id] = [outcome]
        entries: list[PrintBatchPackage] = []
        batch = PrintBatch.objects.create(
            organisation=organisation,
            created_by=actor.label[:150],
            created_by_user=actor.membership.user if actor.membership else None,
            size=size,
            kind=PrintKind.LABELS,
            failures=failures,
        )
        seen: set[int] = set()
        for order_id in ids:
            packages = existing.get(order_id) or shipped.get(order_id) or []
            if order_id in existing and order_id not in special["split"]:
                packages = packages[:1]  # an order's first parcel, as before
            for package in packages:
                if package.pk in seen:  # a merged parcel: one label for its group
                    continue
                seen.add(package.pk)
                entries.append(
                    PrintBatchPackage(
                        batch=batch,
                        package=package,
                        sequence=len(entries) + 1,
                        reprint=order_id in existing,
                    )
                )
        PrintBatchPackage.objects.bulk_create(entries)
        _reprinted([entry.package_id for entry in entries])
        batch.label_count = len(entries)
        batch.reprinted_labels = sum(entry.reprint for entry in entries)
        pdf = None
        if entries:
            pdf = render_labels(_labels(batch, reprint=False), size)
            batch.times_printed = 1
            batch.last_printed_at = timezone.now()
        batch.save(
            update_fields=[
                "label_count",
                "reprinted_labels",
                "times_printed",
                "last_printed_at",
            ]
        )
    return batch, pdf


def _add_merged_parcels(
    existing: dict[int, list[Package]], visible, groups: dict[int, int]
) -> None:
    """Orders of a merge group already shipped: their parcel is led by another order."""
    merged = [order_id for order_id in groups if order_id not in existing]
    if not merged:
        return
    covered = dict(
        PackageItem.objects.filter(
            order_item__order_id__in=merged, order_item__order__in=visible
        )
        .exclude(package__status__in=DEAD_PACKAGE_STATUSES)
        .values_list("order_item__order_id", "package_id")
    )
    parcels = Package.objects.in_bulk(set(covered.values()))
    for order_id, package_id in covered.items():
        existing[order_id] = [parcels[package_id]]


def _ship_merged_and_split(
    to_ship: list[int],
    special: dict,
    actor: Actor,
    carrier_code: str,
    shipped: dict[int, list[Package]],
    failures: list[dict],
) -> list[int]:
    """Ship each merge group as one parcel and each split order as its planned parcels
    (one savepoint each, so a refusal is that order's alone); returns the other ids."""
    groups: dict[int, Package | OmsError] = {}
    plain: list[int] = []
    for order_id in to_ship:
        group_id = special["groups"].get(order_id)
        try:
            if group_id is not None:
                if group_id not in groups:
                    try:
                        groups[group_id] = merging.ship_group(
                            group_id,
                            actor=actor,
                            carrier=carrier_for(carrier_code),
                            allocate=True,
                        )
                    except OmsError as exc:
                        groups[group_id] = exc
                outcome = groups[group_id]
                if isinstance(outcome, OmsError):
                    raise outcome
                shipped[order_id] = [outcome]
            elif order_id in special["split"]:
                shipped[order_id] = merging.ship_plan(
                    order_id, actor=actor, carrier_code=carrier_code
                )
            else:
                plain.append(order_id)
        except OmsError as exc:
            failures.append(
                {"order_id": order_id, "reason": exc.reason_text, "code": exc.code}
            )
    return plain


def labels_pdf(batch: PrintBatch) -> bytes:
    """The batch's labels as first printed (packages already shipped marked reprint).

    Voided and cancelled packages are left out; ``PackageVoided`` when none is left.
    """
    return render_labels(_labels(batch, reprint=False), batch.size)


def reprint(batch: PrintBatch) -> bytes:
    """Print the batch again: every label marked as a reprint; counted on the batch.

    Voided and cancelled packages are left out; ``PackageVoided`` when none is left.
    """
    entries = printable_entries(batch)
    pdf = render_labels(_labels(batch, reprint=True, entries=entries), batch.size)
    _reprinted([entry.package_id for entry in entries])
    PrintBatch.objects.filter(pk=batch.pk).update(
        times_printed=batch.times_printed + 1, last_printed_at=timezone.now()
    )
    batch.refresh_from_db(fields=["times_printed", "last_printed_at"])
    return pdf


def _reprinted(package_ids: list[int]) -> None:
    """The labels were printed with the parcels' current items: no reprint is due."""
    if package_ids:
        Package.objects.filter(pk__in=package_ids, needs_reprint=True).update(
            needs_reprint=False
        )


def printable_entries(batch: PrintBatch) -> list[PrintBatchPackage]:
    """``entries_of`` without voided or cancelled packages: their labels are never
    printed again. Raises ``PackageVoided`` when the batch had labels and none is left.
    """
    entries = entries_of(batch)
    printable = [e for e in entries if e.package.status not in DEAD_PACKAGE_STATUSES]
    if entries and not printable:
        raise PackageVoided(batch_id=batch.pk, packages=[e.package_id for e in entries])
    return printable


def packing_slips(batch: PrintBatch) -> bytes:
    return render_packing_slips(
        [
            PackingSlip(
                shop_name=entry.package.order.shop.name,
                order_id=entry.package.order.platform_order_id,
                buyer=_buyer(entry.package.order),
                items=_lines(entry.package),
                buyer_message=entry.package.order.buyer_message,
                platform=entry.package.order.platform,
                carrier_name=entry.package.carrier.name,
                tracking_number=entry.package.tracking_number,
            )
            for entry in printable_entries(batch)
        ]
    )


def pick_list(batch: PrintBatch) -> bytes:
    lines = [
        line for entry in printable_entries(batch) for line in _lines(entry.package)
    ]
    return render_pick_list(lines, f"Pick list · batch {batch.pk}")


def entries_of(batch: PrintBatch) -> list[PrintBatchPackage]:
    """The batch's packages in print order, with order, shop, carrier and items: 2 queries."""
    return list(
        PrintBatchPackage.objects.filter(batch=batch)
        .select_related("package__order__shop", "package__carrier")
        .prefetch_related(
            Prefetch(
                "package__items",
                queryset=PackageItem.objects.select_related("order_item").order_by(
                    "id"
                ),
            )
        )
        .order_by("sequence")
    )


def _orders(organisation: Organisation, actor: Actor):
    queryset = Order.objects.filter(organisation=organisation)
    shops = allowed_shops_for(actor)
    if shops is not None:
        queryset = queryset.filter(shop_id__in=shops)
    return queryset


def _lines(package: Package) -> list[LabelLine]:
    return [
        LabelLine(
            sku=item.order_item.sku,
            title=item.order_item.title,
            spec=item.order_item.spec,
            quantity=item.quantity,
        )
        for item in package.items.all()
    ]


def _buyer(order: Order) -> Party:
    return Party(
        name=order.buyer_name or order.buyer_nick,
        phone=order.buyer_phone,  # in full: the courier needs it
        country=order.address_country,
        province=order.address_province,
        city=order.address_city,
        district=order.address_district,
        street=order.address_street,
        postcode=order.address_postcode,
    )


def _sender(order: Order) -> Party:
    """The shop is the sender; shops have no address yet, so only its name."""
    return Party(
        name=order.shop.name,
        phone="",
        country="",
        province="",
        city="",
        district="",
        street="",
        postcode="",
    )


def _labels(
    batch: PrintBatch,
    *,
    reprint: bool,
    entries: list[PrintBatchPackage] | None = None,
) -> list[Label]:
    entries = printable_entries(batch) if entries is None else entries
    total = len(entries)
    return [
        Label(
            carrier_name=entry.package.carrier.name,
            carrier_code=entry.package.carrier.code,
            tracking_number=entry.package.tracking_number,
            order_id=entry.package.order.platform_order_id,
            shop_name=entry.package.order.shop.name,
            sender=_sender(entry.package.order),
            recipient=_buyer(entry.package.order),
            items=_lines(entry.package),
            sequence=index,
            total=total,
            reprint=reprint or entry.reprint,
            platform=entry.package.order.platform,
        )
        for index, entry in enumerate(entries, start=1)
    ]


# --- hand-over ----------------------------------------------------------------------------


OK, ALREADY_SCANNED, UNKNOWN, WRONG_BATCH, VOIDED = (
    "ok",
    "already_scanned",
    "unknown",
    "wrong_batch",
    "voided",
)


@dataclass(frozen=True)
class ScanResult:
    outcome: str  # ok, already_scanned, unknown, wrong_batch, voided
    tracking_number: str
    order_id: int | None = None
    package_id: int | None = None
    note: str = ""  # e.g. why the platform's collect step was refused


def scan(
    *, organisation: Organisation, actor: Actor, batch: PrintBatch, tracking_number: str
) -> ScanResult:
    """Hand over one parcel of ``batch`` by its tracking number; never raises for a miss.

    The first scan marks the package handed over; a TikTok Shop order awaiting
    collection moves to in transit (``collect``) as the member. A voided package (its
    order was closed) is refused: ``voided``, and nothing changes.
    """
    number = (tracking_number or "").strip()
    if not number or batch.organisation_id != organisation.pk:
        return ScanResult(UNKNOWN, number)
    packages = Package.objects.filter(organisation=organisation, tracking_number=number)
    shops = allowed_shops_for(actor)
    if shops is not None:  # another shop's parcel is unknown here, not "wrong batch"
        packages = packages.filter(order__shop_id__in=shops)
    with transaction.atomic():
        found = packages.order_by("id").first()
        if found is None:
            return ScanResult(UNKNOWN, number)
        if not PrintBatchPackage.objects.filter(batch=batch, package=found).exists():
            return ScanResult(WRONG_BATCH, number, found.order_id, found.pk)
        # The parcel's orders (several when merged) are locked before the package: the
        # order a cancel takes its locks in (order, then its packages), so a scan and a
        # cancel of the same parcel never deadlock; the cancel that commits first wins.
        from logistics.tracking import orders_in_package

        orders = list(
            Order.objects.select_for_update(of=("self",), no_key=True)
            .select_related("shop")
            .filter(pk__in=[order.pk for order in orders_in_package(found)])
            .order_by("pk")
        )
        package = Package.objects.select_for_update(of=("self",)).get(pk=found.pk)
        if package.status == PackageStatus.VOIDED:
            return ScanResult(VOIDED, number, package.order_id, package.pk, VOIDED_NOTE)
        if package.scanned_at is not None:
            return ScanResult(ALREADY_SCANNED, number, package.order_id, package.pk)
        now = timezone.now()
        package.scanned_at = now
        fields = ["scanned_at"]
        if package.handed_over_at is None:
            package.handed_over_at = now
            fields.append("handed_over_at")
        if package.status == PackageStatus.CREATED:
            package.status = PackageStatus.HANDED_OVER
            fields.append("status")
        package.save(update_fields=fields)
        note = ""
        # Every order in the parcel (several when merged) is collected with it, where
        # its platform hands over by collection and its status allows that action.
        collect: dict[str, list[Order]] = {}
        for order in orders:
            action = handover_action(order)
            if action:
                collect.setdefault(action, []).append(order)
        for action, handed in collect.items():
            outcomes = apply_event_to_locked(
                handed, action, actor, now=now, data={"tracking_number": number}
            )
            refused = [o for o in outcomes if isinstance(o, OmsError)]
            if refused and not note:
                note = refused[0].reason_text
    return ScanResult(OK, number, package.order_id, package.pk, note)


def handover_action(order: Order) -> str:
    """The action a hand-over scan applies to ``order`` ("" for none): its platform's
    ``handover_action`` when the order's current status has that transition."""
    action = get_platform(order.platform).handover_action
    if not action:
        return ""
    spec = get_spec(order.platform)
    from_here = {t.action for t in spec.transitions_from(order.native_status)}
    return action if action in from_here else ""


def unscanned(batch: PrintBatch) -> list[Package]:
    """The batch's packages not yet scanned, in print order (voided ones never will be)."""
    return list(
        Package.objects.filter(batch_entries__batch=batch, scanned_at__isnull=True)
        .exclude(status__in=DEAD_PACKAGE_STATUSES)
        .select_related("order", "carrier")
        .order_by("batch_entries__sequence")
    )
