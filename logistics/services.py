"""Tracking-number services: import pools, allocate, use, release, void (PRODUCT.md L2).

Every status change of a ``TrackingNumber`` goes through here. Changes lock the rows
they touch; allocation skips rows another allocation holds (``SKIP LOCKED``), so
concurrent batch printing never hands one number to two packages. Every service is
all-or-nothing: on an error nothing changed.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from logistics.errors import PoolExhausted, TrackingNumberState, TrackingNumberTaken
from logistics.models import Carrier, NumberStatus, TrackingNumber, TrackingNumberPool
from oms.core.db import bulk_update
from oms.core.errors import NotFound, OmsError, ValidationFailed
from oms.core.money import parse_amount
from orders.models import Order, Organisation

NUMBER_MAX_LENGTH = 40
MAX_POOL_SIZE = 100_000  # numbers in one import
INSERT_BATCH = 20_000  # rows per INSERT of an import
LOOKUP_BATCH = 10_000  # numbers per "already known?" query (stays under bind limits)
MAX_LISTED = 1_000  # conflicting numbers named in an error
_NUMBER = re.compile(r"[A-Z0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


# --- Import --------------------------------------------------------------------------


def normalise_number(raw: str) -> str:
    """A tracking number as stored: trimmed, upper-case, ASCII letters and digits only."""
    number = str(raw).strip().upper()
    if not number:
        raise ValidationFailed("A tracking number is empty.", field="number")
    if len(number) > NUMBER_MAX_LENGTH:
        raise ValidationFailed(
            f"Tracking number {number[:50]!r} is longer than {NUMBER_MAX_LENGTH} characters.",
            field="number",
            number=number[:50],
        )
    if not _NUMBER.fullmatch(number):
        raise ValidationFailed(
            f"Tracking number {number!r} may hold only letters and digits.",
            field="number",
            number=number,
        )
    return number


def pool_create_from_range(
    *,
    organisation: Organisation,
    carrier: Carrier,
    prefix: str,
    start: int,
    end: int,
    width: int,
    price: Decimal | str | int,
    currency: str,
    expires_at: datetime | None,
    name: str,
    purchased_at: datetime | None = None,
) -> TrackingNumberPool:
    """Import the numbers ``prefix`` + ``start``…``end`` (inclusive), zero-padded to ``width``.

    ``width`` 0 means no padding. Raises ``ValidationFailed`` for a bad range and
    ``TrackingNumberTaken`` when any number is already known for the carrier.
    """
    if isinstance(start, bool) or isinstance(end, bool) or start < 0 or end < start:
        raise ValidationFailed("The range needs 0 ≤ start ≤ end.", field="start")
    if end - start + 1 > MAX_POOL_SIZE:
        raise ValidationFailed(
            f"A range holds at most {MAX_POOL_SIZE} numbers.", field="end"
        )
    if width < 0 or (width and len(str(end)) > width):
        raise ValidationFailed(
            f"The width must be 0 or at least {len(str(end))} digits.", field="width"
        )
    numbers = [f"{prefix}{n:0{width}d}" for n in range(start, end + 1)]
    return _create_pool(
        organisation=organisation,
        carrier=carrier,
        numbers=numbers,
        price=price,
        currency=currency,
        expires_at=expires_at,
        name=name,
        purchased_at=purchased_at,
    )


def pool_create_from_list(
    *,
    organisation: Organisation,
    carrier: Carrier,
    numbers: list[str],
    price: Decimal | str | int,
    currency: str,
    expires_at: datetime | None,
    name: str,
    purchased_at: datetime | None = None,
) -> TrackingNumberPool:
    """Import a list of numbers. Same checks and errors as ``pool_create_from_range``."""
    if not numbers:
        raise ValidationFailed("The list holds no tracking numbers.", field="numbers")
    if len(numbers) > MAX_POOL_SIZE:
        raise ValidationFailed(
            f"A list holds at most {MAX_POOL_SIZE} numbers.", field="numbers"
        )
    return _create_pool(
        organisation=organisation,
        carrier=carrier,
        numbers=numbers,
        price=price,
        currency=currency,
        expires_at=expires_at,
        name=name,
        purchased_at=purchased_at,
    )


def _create_pool(
    *,
    organisation: Organisation,
    carrier: Carrier,
    numbers: Sequence[str],
    price: Decimal | str | int,
    currency: str,
    expires_at: datetime | None,
    name: str,
    purchased_at: datetime | None = None,
) -> TrackingNumberPool:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The pool needs a name.", field="name")
    currency = (currency or "").strip().upper()
    if not _CURRENCY.fullmatch(currency):
        raise ValidationFailed("The currency is an ISO 4217 code.", field="currency")
    price = parse_amount(price, field="price", currency=currency)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("The pool has already expired.", field="expires_at")
    # The purchase time orders allocation (oldest pool first); it cannot be ahead.
    if purchased_at is not None and purchased_at > now:
        raise ValidationFailed(
            "The purchase time is in the future.", field="purchased_at"
        )
    normalised = [normalise_number(number) for number in numbers]

    duplicates = sorted(n for n, times in Counter(normalised).items() if times > 1)
    if duplicates:
        raise TrackingNumberTaken(
            "The batch lists some tracking numbers more than once.",
            numbers=duplicates[:MAX_LISTED],
            conflicts=len(duplicates),
            duplicates_in_batch=duplicates[:MAX_LISTED],
            orders={},
        )
    _refuse_known(organisation=organisation, carrier=carrier, numbers=normalised)

    try:
        with transaction.atomic():
            pool = TrackingNumberPool.objects.create(
                organisation=organisation,
                carrier=carrier,
                name=name,
                purchased_at=purchased_at or now,
                expires_at=expires_at,
                price_per_number=price,
                currency=currency,
                created_at=now,
            )
            for offset in range(0, len(normalised), INSERT_BATCH):
                _insert_available(pool, normalised[offset : offset + INSERT_BATCH])
    except IntegrityError:
        # A concurrent import or manual entry took some of the numbers after the check.
        _refuse_known(organisation=organisation, carrier=carrier, numbers=normalised)
        raise TrackingNumberTaken(numbers=[], conflicts=0, orders={}) from None
    return pool


def _insert_available(pool: TrackingNumberPool, numbers: Sequence[str]) -> None:
    """Insert ``numbers`` as available numbers of ``pool``: one statement per call.

    On PostgreSQL the numbers travel as one array parameter (``INSERT … SELECT FROM
    unnest``): building a model instance and eleven parameters per row made Django's
    ``bulk_create`` take ~7 s for 100,000 numbers, this takes well under a second.
    Other databases use ``bulk_create``.
    """
    connection = connections[router.db_for_write(TrackingNumber)]
    if connection.vendor != "postgresql":
        TrackingNumber.objects.bulk_create(
            [
                TrackingNumber(
                    pool=pool,
                    carrier_id=pool.carrier_id,
                    organisation_id=pool.organisation_id,
                    number=number,
                    created_at=pool.created_at,
                )
                for number in numbers
            ],
            batch_size=INSERT_BATCH,
        )
        return
    meta = TrackingNumber._meta
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(meta.get_field(name).column)
        for name in ("pool", "carrier", "organisation", "status", "void_reason", "created_at", "number")
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - identifiers are quoted model metadata
            "SELECT %s, %s, %s, %s, '', %s, t.n "
            # Ids follow the list's order, so allocation (by id) follows the import.
            "FROM unnest(%s::varchar[]) WITH ORDINALITY AS t(n, i) ORDER BY t.i",
            [
                pool.pk,
                pool.carrier_id,
                pool.organisation_id,
                NumberStatus.AVAILABLE.value,
                pool.created_at,
                list(numbers),
            ],
        )


def _refuse_known(
    *, organisation: Organisation, carrier: Carrier, numbers: Sequence[str]
) -> None:
    """Raise ``TrackingNumberTaken`` if any of ``numbers`` exists for ``carrier``.

    One query per ``LOOKUP_BATCH`` numbers, through the (carrier, number) unique index.
    Order ids are named only for the caller's own organisation.
    """
    conflicts: list[str] = []
    orders: dict[str, int] = {}
    for offset in range(0, len(numbers), LOOKUP_BATCH):
        rows = TrackingNumber.objects.filter(
            carrier=carrier, number__in=numbers[offset : offset + LOOKUP_BATCH]
        ).values_list("number", "status", "order_id", "organisation_id")
        for number, status, order_id, organisation_id in rows:
            conflicts.append(number)
            if (
                status == NumberStatus.USED
                and order_id is not None
                and organisation_id == organisation.pk
                and len(orders) < MAX_LISTED
            ):
                orders[number] = order_id
    if conflicts:
        conflicts.sort()
        raise TrackingNumberTaken(
            numbers=conflicts[:MAX_LISTED],
            conflicts=len(conflicts),
            duplicates_in_batch=[],
            orders=orders,
        )


# --- Allocation and status changes ------------------------------------------------------


def allocate(
    *,
    organisation: Organisation,
    carrier: Carrier,
    count: int,
    order_ids: Sequence[int] | None = None,
) -> list[TrackingNumber]:
    """Reserve ``count`` available numbers of ``carrier`` for the organisation.

    Numbers come from the oldest unexpired pool first (purchase time, then id), and by
    id within a pool. Rows another allocation has locked are skipped, never waited for.
    With ``order_ids`` (one per number) each number is reserved for that order.
    Raises ``PoolExhausted`` when fewer than ``count`` are available: then nothing is
    reserved.
    """
    if isinstance(count, bool) or count < 1:
        raise ValidationFailed("Allocate at least one number.", field="count")
    if order_ids is not None:
        order_ids = list(order_ids)
        if len(order_ids) != count:
            raise ValidationFailed(
                "Give one order per number.", field="order_ids", count=count
            )
        _check_orders(organisation=organisation, order_ids=order_ids)
    with transaction.atomic():
        now = timezone.now()
        pool_ids = (
            TrackingNumberPool.objects.filter(
                organisation=organisation, carrier=carrier
            )
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            # Used-up pools are skipped here (a probe of the allocation index each), not
            # visited one query each.
            .filter(
                Exists(
                    TrackingNumber.objects.filter(
                        pool=OuterRef("pk"), status=NumberStatus.AVAILABLE
                    )
                )
            )
            .order_by("purchased_at", "id")
            .values_list("id", flat=True)
        )
        taken: list[TrackingNumber] = []
        for pool_id in pool_ids:
            wanted = count - len(taken)
            # One index range scan per pool: (pool, id) WHERE status = 'available'.
            taken.extend(
                TrackingNumber.objects.filter(
                    pool_id=pool_id, status=NumberStatus.AVAILABLE
                )
                .order_by("id")
                .select_for_update(skip_locked=True)[:wanted]
            )
            if len(taken) == count:
                break
        if len(taken) < count:
            raise PoolExhausted(
                carrier=carrier.code, requested=count, available=len(taken)
            )
        for index, number in enumerate(taken):
            number.status = NumberStatus.RESERVED
            number.reserved_at = now
            if order_ids is not None:
                number.order_id = order_ids[index]
        if order_ids is None:
            TrackingNumber.objects.filter(pk__in=[n.pk for n in taken]).update(
                status=NumberStatus.RESERVED, reserved_at=now
            )
        else:
            bulk_update(taken, ["status", "reserved_at", "order"])
    return taken


def mark_used(
    numbers: Iterable[TrackingNumber | int], *, order_id: int
) -> list[TrackingNumber]:
    """Mark reserved numbers used on ``order_id`` (the shipment was confirmed).

    A number already used on the same order is left as it is (a retry). Raises
    ``TrackingNumberState`` for any number that is not reserved, and ``NotFound`` for an
    order outside the numbers' organisation.
    """
    with transaction.atomic():
        locked = _lock(numbers)
        organisation_ids = {n.organisation_id for n in locked}
        if (
            len(organisation_ids) != 1
            or not Order.objects.filter(
                pk=order_id, organisation_id__in=organisation_ids
            ).exists()
        ):
            raise NotFound("No such order.", order_id=order_id)
        wrong = [
            n.number
            for n in locked
            if n.status != NumberStatus.RESERVED
            and not (n.status == NumberStatus.USED and n.order_id == order_id)
        ]
        if wrong:
            raise TrackingNumberState(
                "Only reserved numbers can be marked used.", numbers=wrong
            )
        now = timezone.now()
        pending = {n.pk for n in locked if n.status == NumberStatus.RESERVED}
        TrackingNumber.objects.filter(pk__in=pending).update(
            status=NumberStatus.USED, used_at=now, order_id=order_id
        )
        for number in locked:
            if number.pk in pending:
                number.status, number.used_at = NumberStatus.USED, now
                number.order_id = order_id
    return locked


def release(numbers: Iterable[TrackingNumber | int]) -> None:
    """Give reserved numbers back (the print was cancelled): reserved → available.

    A number whose pool has expired meanwhile becomes expired instead. A number typed by
    hand (no pool) is forgotten, so it can be typed again. Raises
    ``TrackingNumberState`` for any number that is not reserved.
    """
    with transaction.atomic():
        locked = _lock(numbers)
        wrong = [n.number for n in locked if n.status != NumberStatus.RESERVED]
        if wrong:
            raise TrackingNumberState(
                "Only reserved numbers can be released.", numbers=wrong
            )
        now = timezone.now()
        manual = [n.pk for n in locked if n.pool_id is None]
        pooled = [n.pk for n in locked if n.pool_id is not None]
        TrackingNumber.objects.filter(pk__in=manual).delete()
        expired = TrackingNumber.objects.filter(
            pk__in=pooled, pool__expires_at__lte=now
        )
        expired.update(status=NumberStatus.EXPIRED, reserved_at=None, order=None)
        TrackingNumber.objects.filter(pk__in=pooled).exclude(
            status=NumberStatus.EXPIRED
        ).update(status=NumberStatus.AVAILABLE, reserved_at=None, order=None)


def void(number: TrackingNumber | int, *, reason: str) -> TrackingNumber:
    """Void a number (damaged label, cancelled waybill …): it is never handed out again.

    Allowed from any status; voiding a void number changes nothing. A used number keeps
    its order for the record.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the number is void.", field="reason")
    with transaction.atomic():
        (locked,) = _lock([number])
        if locked.status == NumberStatus.VOID:
            return locked
        locked.status = NumberStatus.VOID
        locked.voided_at = timezone.now()
        locked.void_reason = reason[:300]
        locked.save(update_fields=["status", "voided_at", "void_reason"])
    return locked


def register_manual(
    *, carrier: Carrier, number: str, organisation: Organisation
) -> TrackingNumber:
    """Claim a number typed or scanned at shipping time; it comes back reserved.

    A number of the organisation's own pool that is still available is taken from the
    pool. Any other known number is refused with ``TrackingNumberTaken`` (naming the
    order it was used on, when that order is the organisation's own).
    """
    number = normalise_number(number)
    with transaction.atomic():
        existing = (
            TrackingNumber.objects.select_for_update()
            .filter(carrier=carrier, number=number)
            .first()
        )
        now = timezone.now()
        if existing is None:
            try:
                with transaction.atomic():
                    return TrackingNumber.objects.create(
                        pool=None,
                        carrier=carrier,
                        organisation=organisation,
                        number=number,
                        status=NumberStatus.RESERVED,
                        reserved_at=now,
                        created_at=now,
                    )
            except IntegrityError:
                # Registered by someone else between our look-up and our insert.
                existing = TrackingNumber.objects.select_for_update().get(
                    carrier=carrier, number=number
                )
        own = existing.organisation_id == organisation.pk
        pool_open = existing.pool_id is not None and not existing.pool.is_expired(now)
        if own and existing.status == NumberStatus.AVAILABLE and pool_open:
            existing.status, existing.reserved_at = NumberStatus.RESERVED, now
            existing.save(update_fields=["status", "reserved_at"])
            return existing
        orders = (
            {number: existing.order_id}
            if own and existing.status == NumberStatus.USED and existing.order_id
            else {}
        )
        raise TrackingNumberTaken(
            numbers=[number],
            conflicts=1,
            duplicates_in_batch=[],
            orders=orders,
            status=existing.status if own else "taken",
        )


def _lock(numbers: Iterable[TrackingNumber | int]) -> list[TrackingNumber]:
    """Lock the numbers in id order (call inside ``transaction.atomic``)."""
    ids = sorted({n.pk if isinstance(n, TrackingNumber) else int(n) for n in numbers})
    if not ids:
        raise ValidationFailed("No tracking numbers given.", field="numbers")
    locked = list(
        TrackingNumber.objects.select_for_update(of=("self",))
        .select_related("pool")
        .filter(pk__in=ids)
        .order_by("id")
    )
    if len(locked) != len(ids):
        missing = sorted(set(ids) - {n.pk for n in locked})
        raise NotFound("No such tracking number.", ids=missing)
    return locked


def _check_orders(*, organisation: Organisation, order_ids: Sequence[int]) -> None:
    known = set(
        Order.objects.filter(
            organisation=organisation, pk__in=set(order_ids)
        ).values_list("pk", flat=True)
    )
    missing = sorted(set(order_ids) - known)
    if missing:
        raise NotFound("No such order.", order_ids=missing)


# --- Many orders at once (batch shipping) -------------------------------------------------


def register_manual_many(
    *, carrier: Carrier, numbers: Mapping[int, str], organisation: Organisation
) -> dict[int, TrackingNumber | OmsError]:
    """``register_manual`` for many orders at once: order id → reserved number or error.

    Bounded queries whatever the count: one locking look-up, one insert, one update.
    Each refusal (invalid, given twice, already known) is that order's alone.
    """
    out: dict[int, TrackingNumber | OmsError] = {}
    wanted: dict[int, str] = {}
    for order_id, raw in numbers.items():
        try:
            wanted[order_id] = normalise_number(raw)
        except OmsError as exc:
            out[order_id] = exc
    counts = Counter(wanted.values())
    for order_id, number in list(wanted.items()):
        if counts[number] > 1:
            out[order_id] = TrackingNumberTaken(
                "The batch lists this tracking number more than once.",
                numbers=[number],
                conflicts=1,
                duplicates_in_batch=[number],
                orders={},
            )
            del wanted[order_id]
    if not wanted:
        return out
    with transaction.atomic():
        now = timezone.now()
        existing = {
            n.number: n
            for n in TrackingNumber.objects.select_for_update(of=("self",))
            .select_related("pool")
            .filter(carrier=carrier, number__in=list(wanted.values()))
            .order_by("id")
        }
        reserve: list[TrackingNumber] = []
        create: dict[int, TrackingNumber] = {}
        for order_id, number in wanted.items():
            row = existing.get(number)
            if row is None:
                create[order_id] = TrackingNumber(
                    pool=None,
                    carrier=carrier,
                    organisation=organisation,
                    number=number,
                    status=NumberStatus.RESERVED,
                    reserved_at=now,
                    created_at=now,
                )
                continue
            own = row.organisation_id == organisation.pk
            pool_open = row.pool_id is not None and not row.pool.is_expired(now)
            if own and row.status == NumberStatus.AVAILABLE and pool_open:
                row.status, row.reserved_at = NumberStatus.RESERVED, now
                reserve.append(row)
                out[order_id] = row
                continue
            out[order_id] = TrackingNumberTaken(
                numbers=[number],
                conflicts=1,
                duplicates_in_batch=[],
                orders=(
                    {number: row.order_id}
                    if own and row.status == NumberStatus.USED and row.order_id
                    else {}
                ),
                status=row.status if own else "taken",
            )
        if reserve:
            bulk_update(reserve, ["status", "reserved_at"])
        if create:
            try:
                with transaction.atomic():
                    TrackingNumber.objects.bulk_create(list(create.values()))
                out.update(create)
            except IntegrityError:
                # Some were registered by someone else meanwhile: one by one (rare).
                for order_id, row in create.items():
                    try:
                        out[order_id] = register_manual(
                            carrier=carrier,
                            number=row.number,
                            organisation=organisation,
                        )
                    except OmsError as exc:
                        out[order_id] = exc
    return out


def mark_used_many(
    numbers: Mapping[int, TrackingNumber], *, package_refs: Mapping[int, str]
) -> None:
    """Mark reserved numbers used, each on its order (order id → number), in bulk.

    ``package_refs`` (order id → package id) is written on each number. Raises
    ``TrackingNumberState`` if any number is not reserved (nothing then changes).
    """
    if not numbers:
        return
    with transaction.atomic():
        locked = {n.pk: n for n in _lock(numbers.values())}
        now = timezone.now()
        changed: list[TrackingNumber] = []
        wrong: list[str] = []
        for order_id, number in numbers.items():
            row = locked[number.pk]
            if row.status != NumberStatus.RESERVED:
                wrong.append(row.number)
                continue
            row.status, row.used_at, row.order_id = NumberStatus.USED, now, order_id
            row.package_ref = package_refs.get(order_id)
            changed.append(row)
            number.status, number.used_at, number.order_id = row.status, now, order_id
            number.package_ref = row.package_ref
        if wrong:
            raise TrackingNumberState(
                "Only reserved numbers can be marked used.", numbers=wrong
            )
        bulk_update(changed, ["status", "used_at", "order", "package_ref"])
