"""The tracking-pool job: expire numbers of expired pools, warn about low or expiring pools.

Registered as ``JOBS["tracking_pools"]`` (``logistics/apps.py``); beat should run it
daily through ``orders.run_job``. Each part returns ``(counts, errors)`` like every job.
"""

import logging
from datetime import datetime, time

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from logistics.models import NumberStatus, TrackingNumber, TrackingNumberPool
from logistics.selectors import PoolStats, pool_stats, with_counts
from orders.choices import NotificationLevel
from orders.notifications import notify

logger = logging.getLogger(__name__)


def run(now: datetime) -> tuple[dict, list]:
    """Both parts, expiry first (so the warnings count what is really left)."""
    expired_counts, expired_errors = expire_numbers(now)
    warned_counts, warned_errors = warn_low_pools(now)
    return {**expired_counts, **warned_counts}, expired_errors + warned_errors


def expire_numbers(now: datetime) -> tuple[dict, list]:
    """Mark the available numbers of every pool expired by ``now`` expired, per pool.

    Finds the pools through the pool expiry index, then updates each pool's available
    numbers in one statement (the allocation index). Reserved numbers stay reserved:
    they are printed already; ``release`` expires them if they come back.
    """
    available = TrackingNumber.objects.filter(
        pool=OuterRef("pk"), status=NumberStatus.AVAILABLE
    )
    pool_ids = list(
        TrackingNumberPool.objects.filter(expires_at__lte=now)
        .filter(Exists(available))
        .values_list("pk", flat=True)
    )
    counts = {"pools_expired": 0, "numbers_expired": 0}
    errors: list[dict] = []
    for pool_id in pool_ids:
        try:
            changed = TrackingNumber.objects.filter(
                pool_id=pool_id, status=NumberStatus.AVAILABLE
            ).update(status=NumberStatus.EXPIRED)
        except Exception as exc:
            logger.exception("could not expire the numbers of pool %s", pool_id)
            errors.append({"pool_id": pool_id, "error": repr(exc)[:500]})
            continue
        counts["pools_expired"] += 1
        counts["numbers_expired"] += changed
    return counts, errors


def warn_low_pools(now: datetime) -> tuple[dict, list]:
    """Notify each organisation of pools running low or expiring within 7 days.

    A pool is warned at most once per calendar day (UTC), remembered in
    ``last_warned_at``; the pool row is locked while it is warned, so two runs at once
    send one notice. Pools with nothing left are not warned: allocation refuses with
    ``pool_exhausted`` there, and a used-up pool would otherwise nag for ever.
    """
    start_of_day = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    candidates = (
        with_counts(
            TrackingNumberPool.objects.filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            ).filter(
                Q(last_warned_at__isnull=True) | Q(last_warned_at__lt=start_of_day)
            )
        )
        .filter(n_available__gt=0)
        .select_related("carrier")
    )
    counts = {"pools_warned": 0}
    errors: list[dict] = []
    for pool in candidates:
        stats = pool_stats(pool, now=now)
        low = stats.available < pool.low_stock_threshold
        expiring = stats.expiring_soon > 0
        if not (low or expiring):
            continue
        try:
            with transaction.atomic():
                locked = (
                    TrackingNumberPool.objects.select_for_update(skip_locked=True)
                    .filter(pk=pool.pk)
                    .filter(
                        Q(last_warned_at__isnull=True)
                        | Q(last_warned_at__lt=start_of_day)
                    )
                    .first()
                )
                if locked is None:  # another run is warning it, or has today
                    continue
                _notify(pool, stats, low=low, expiring=expiring)
                locked.last_warned_at = now
                locked.save(update_fields=["last_warned_at"])
        except Exception as exc:
            logger.exception("could not warn about pool %s", pool.pk)
            errors.append({"pool_id": pool.pk, "error": repr(exc)[:500]})
            continue
        counts["pools_warned"] += 1
    return counts, errors


def _notify(
    pool: TrackingNumberPool, stats: PoolStats, *, low: bool, expiring: bool
) -> None:
    reasons = []
    if low:
        reasons.append(
            f"{stats.available} numbers left (threshold {pool.low_stock_threshold})"
        )
    if expiring:
        reasons.append(
            f"{stats.expiring_soon} numbers expire at {stats.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    notify(
        organisation=pool.organisation_id,
        kind="tracking_pool_low" if low else "tracking_pool_expiring",
        level=NotificationLevel.WARNING,
        title=f"{pool.carrier.name} tracking numbers, pool {pool.name}: "
        + "; ".join(reasons),
        body=(
            f"Total {stats.total}, available {stats.available}, reserved "
            f"{stats.reserved}, used {stats.used}, void {stats.void}, expired "
            f"{stats.expired}. Buy a new batch before this one runs out or expires."
        ),
    )
