"""Reading logistics data: pool counts, usage and expiry figures (L2); an order's packages (L3)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from logistics.models import (
    NumberStatus,
    Package,
    PackageItem,
    PrintBatch,
    PrintBatchPackage,
    TrackingNumberPool,
)
from orders.models import Order

EXPIRING_SOON = timedelta(days=7)


def print_batches_of(
    organisation, shop_ids: frozenset[int] | None
) -> QuerySet[PrintBatch]:
    """The print batches a caller limited to ``shop_ids`` (None: every shop) may open.

    A batch holds labels, addresses and phones of every order in it: a caller limited
    to some shops reaches only batches whose orders are ALL in those shops (any other
    answers 404, as a missing batch). A merged parcel belongs to one shop.
    """
    batches = PrintBatch.objects.filter(organisation=organisation)
    if shop_ids is None:
        return batches
    outside = PrintBatchPackage.objects.filter(
        batch__organisation=organisation
    ).exclude(package__order__shop_id__in=shop_ids)
    return batches.exclude(pk__in=outside.values("batch_id"))


def print_batch_for(
    organisation, shop_ids: frozenset[int] | None, batch_id: int
) -> PrintBatch | None:
    """One batch, or None when it is not the caller's to open (``print_batches_of``):
    the orders it refused (``failures``) count too, they name orders and reasons;
    except those refused as not found (the caller's own typing, nothing revealed)."""
    batch = print_batches_of(organisation, shop_ids).filter(pk=batch_id).first()
    if batch is None or shop_ids is None or not batch.failures:
        return batch
    named = {
        row.get("order_id") for row in batch.failures if row.get("code") != "not_found"
    }
    outside = Order.objects.filter(pk__in=named).exclude(shop_id__in=shop_ids)
    return None if outside.exists() else batch


def with_counts(queryset: QuerySet[TrackingNumberPool]) -> QuerySet[TrackingNumberPool]:
    """Annotate each pool with ``n_total`` and ``n_<status>``, in the same query."""
    return queryset.annotate(
        n_total=Count("numbers"),
        **{
            f"n_{status}": Count("numbers", filter=Q(numbers__status=status))
            for status in NumberStatus.values
        },
    )


@dataclass(frozen=True)
class PoolStats:
    total: int
    available: int
    reserved: int
    used: int
    void: int
    expired: int
    remaining: int  # can still be allocated: available, in a pool not yet expired
    expiring_soon: int  # remaining numbers whose pool expires within 7 days
    expires_at: datetime | None
    total_cost: Decimal
    cost_per_used: Decimal | None  # total cost over numbers used (waste included)
    currency: str


def pool_stats(pool: TrackingNumberPool, *, now: datetime | None = None) -> PoolStats:
    """Usage and expiry figures for one pool (one query unless already annotated)."""
    now = now or timezone.now()
    if not hasattr(pool, "n_total"):
        pool = with_counts(TrackingNumberPool.objects.filter(pk=pool.pk)).get()
    remaining = 0 if pool.is_expired(now) else pool.n_available
    expiring_soon = (
        remaining
        if pool.expires_at is not None and pool.expires_at <= now + EXPIRING_SOON
        else 0
    )
    total_cost = pool.price_per_number * pool.n_total
    cost_per_used = (
        (total_cost / pool.n_used).quantize(Decimal("0.0001")) if pool.n_used else None
    )
    return PoolStats(
        total=pool.n_total,
        available=pool.n_available,
        reserved=pool.n_reserved,
        used=pool.n_used,
        void=pool.n_void,
        expired=pool.n_expired,
        remaining=remaining,
        expiring_soon=expiring_soon,
        expires_at=pool.expires_at,
        total_cost=total_cost,
        cost_per_used=cost_per_used,
        currency=pool.currency,
    )


def packages_of_order(order_id: int) -> QuerySet[Package]:
    """An order's packages in id order, with carrier and items (four queries in all).

    The caller has already checked that the order is the reader's (``orders_of``).
    Served by the (order, id) index and the item indexes.
    """
    # Its own packages, and a merged parcel led by another order of its group, each
    # through its index (an OR of the two in one query would make PostgreSQL scan
    # every package).
    ids = set(
        Package.objects.filter(order_id=order_id).values_list("pk", flat=True)
    ) | set(
        PackageItem.objects.filter(order_item__order_id=order_id).values_list(
            "package_id", flat=True
        )
    )
    return (
        Package.objects.filter(pk__in=ids)
        .select_related("carrier")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PackageItem.objects.select_related("order_item").order_by(
                    "id"
                ),
            )
        )
        .order_by("id")
    )


def shipping_panel(order, *, can_ship: bool) -> dict:
    """What the order page's shipments card shows: packages with their tracking events
    (newest first) and redelivery state, the order's merge or split plan, and the ship
    form's data. A fixed number of queries whatever the number of packages."""
    from logistics import merging
    from logistics.models import Carrier, TrackingEvent
    from logistics.shipping import remaining_quantities

    packages = list(
        packages_of_order(order.pk).prefetch_related(
            Prefetch(
                "tracking_events",
                queryset=TrackingEvent.objects.order_by("-occurred_at", "-id"),
                to_attr="events_newest",
            ),
            "redelivery_requests",
        )
    )
    _redelivery_state(order, packages)
    group = merging.group_orders(order.pk)
    return {
        "packages": packages,
        "can_ship": can_ship,
        "carriers": list(Carrier.objects.filter(is_active=True).order_by("code"))
        if can_ship
        else [],
        "remaining": remaining_quantities([order.pk])[order.pk] if can_ship else [],
        "merge_group": group[0] if group else None,
        "merged_with": [o for o in group[1] if o.pk != order.pk] if group else [],
        "plan": merging.plan_of(order.pk),
    }


@dataclass(frozen=True)
class Redelivery:
    failed_at: datetime | None
    closes_at: datetime | None  # None: the platform takes no redelivery requests
    requested_at: datetime | None  # a request made since the failure
    open: bool  # a new address can be sent now


def _redelivery_state(order, packages: list[Package]) -> None:
    """Set ``package.redelivery`` on each failed package (the rule of
    ``tracking.request_redelivery``, read from the prefetched rows)."""
    from logistics.models import PackageStatus, TrackingCode
    from logistics.tracking import redelivery_window

    now = timezone.now()
    window = None
    for package in packages:
        package.redelivery = None
        if package.status != PackageStatus.FAILED:
            continue
        if window is None:
            window = redelivery_window(order) or timedelta(0)
        failure = next(
            (
                e
                for e in package.events_newest
                if e.code == TrackingCode.DELIVERY_FAILED
            ),
            None,
        )
        if failure is None:
            continue
        closes_at = failure.occurred_at + window if window else None
        requested = max(
            (
                r.requested_at
                for r in package.redelivery_requests.all()
                if r.requested_at >= failure.occurred_at
            ),
            default=None,
        )
        package.redelivery = Redelivery(
            failed_at=failure.occurred_at,
            closes_at=closes_at,
            requested_at=requested,
            open=closes_at is not None and now <= closes_at and requested is None,
        )
