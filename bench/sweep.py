"""Deadline sweep at volume: N orders on PostgreSQL, 1% of them overdue and unpaid.

    .venv/bin/python bench/sweep.py [--orders 1000000] [--due-share 0.01] [--keep]

Fills a separate database (BENCH_DATABASE_URL, default oms_bench on the local server)
with SQL, then prints: EXPLAIN ANALYZE of the sweep's select (it must be an index scan
on the pending-deadline partial index, not a sequential scan), the time of that select
alone, the idle poll when nothing is due, and the whole sweep through the transition
service (every due order cancelled with its timeline event and notification). Compare
with ../shared/PERFORMANCE.md §4 (bare SQL: 1.8 ms per 1000-row select, about 0.2 s per
10,000 orders cancelled with bulk UPDATEs; 1.2 s with a per-row ORM save).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--due-share", type=float, default=0.01)
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = parser.parse_args()

    from bench.common import setup

    setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from orders.choices import DeadlineState
    from orders.deadlines import process_due_deadlines
    from orders.models import Order, OrderDeadline, Organisation, Shop

    now = timezone.now()
    due_count = int(args.orders * args.due_share)

    if not (args.keep and Order.objects.count() == args.orders):
        fill(connection, args.orders, due_count, now, Organisation, Shop)

    print(f"orders: {Order.objects.count():,}; pending deadlines: "
          f"{OrderDeadline.objects.filter(state=DeadlineState.PENDING).count():,}; "
          f"due now: {OrderDeadline.objects.filter(state=DeadlineState.PENDING, due_at__lte=now).count():,}")  # fmt: skip

    # The sweep's select, exactly as the sweep builds it.
    due = (
        OrderDeadline.objects.filter(state=DeadlineState.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values("order_id")[:200]
    )
    select = (
        Order.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("shop")
        .filter(pk__in=due)
        .order_by()
    )
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = select.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("\nEXPLAIN ANALYZE of the sweep's select (batch of 200):\n" + plan)
    if "Seq Scan on orders_orderdeadline" in plan:
        print(
            "!! the select scans the whole deadline table: the partial index is not used"
        )

    timings = []
    for _ in range(21):
        with transaction.atomic():
            start = time.perf_counter()
            list(select.all())
            timings.append((time.perf_counter() - start) * 1000)
    print(f"\nselect of one batch (200 orders, locked): median {statistics.median(timings):.2f} ms "
          f"(p10 {sorted(timings)[2]:.2f}, p90 {sorted(timings)[18]:.2f})")  # fmt: skip

    start = time.perf_counter()
    result = process_due_deadlines(now=now)
    elapsed = time.perf_counter() - start
    print(f"sweep: {result.counts()} in {elapsed:.2f} s "
          f"= {result.expired / elapsed:,.0f} deadlines/s, "
          f"{elapsed / max(result.expired, 1) * 10_000:.2f} s per 10,000 "
          f"(bare SQL bulk: ~0.2 s; per-row ORM save: ~1.2 s)")  # fmt: skip

    idle = []
    for _ in range(21):
        start = time.perf_counter()
        process_due_deadlines(now=now)
        idle.append((time.perf_counter() - start) * 1000)
    print(
        f"idle poll (nothing due): median {statistics.median(idle):.2f} ms (bare SQL: 0.23 ms)"
    )


def fill(connection, total: int, due_count: int, now, Organisation, Shop) -> None:  # noqa: N803
    """Orders by SQL: most completed, ``due_count`` unpaid and overdue, as many unpaid
    and not yet due; each unpaid order with its pending pay-by deadline."""
    from bench.common import INSERT_ORDERS

    print(f"filling {total:,} orders ({due_count:,} overdue) …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orders_orderdeadline, orders_orderevent, orders_orderitem, "
            "orders_notification, orders_violation, orders_order CASCADE"
        )
    organisation, _ = Organisation.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    shop, _ = Shop.objects.get_or_create(
        organisation=organisation, name="Bench TikTok MY",
        defaults={"platform": "tiktok", "market": "MY", "timezone": "Asia/Kuala_Lumpur", "currency": "MYR"},
    )  # fmt: skip
    unpaid = 2 * due_count  # half overdue, half still running
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_ORDERS  # noqa: S608 - a constant column list, values are parameters
            + """
            SELECT %(org)s, %(shop)s, 'tiktok', lpad(g::text, 18, '0'),
                CASE WHEN g <= %(unpaid)s THEN 'UNPAID' ELSE 'COMPLETED' END,
                CASE WHEN g <= %(unpaid)s THEN 'unpaid' ELSE 'completed' END,
                '', '', 1, false, false, false, false, false, false, false,
                'buyer' || g, 'Buyer ' || g, '60123' || lpad(g::text, 7, '0'), '', 'MY',
                'Selangor', 'Petaling Jaya', '', 'Jalan ' || g, '46000', 'MYR',
                49.90, 4.90, 0, 0, 54.80, 54.80, '', '', '', 'organic_search',
                %(now)s - (g %% 90) * interval '1 day' - interval '3 days',
                CASE WHEN g <= %(unpaid)s THEN NULL
                     ELSE %(now)s - (g %% 90) * interval '1 day' - interval '3 days' END,
                CASE WHEN g <= %(unpaid)s THEN NULL ELSE %(now)s - (g %% 90) * interval '1 day' END,
                %(now)s, %(now)s, '{}', NULL, '', %(now)s, %(now)s
            FROM generate_series(1, %(total)s) AS g
            """,
            {
                "org": organisation.pk,
                "shop": shop.pk,
                "unpaid": unpaid,
                "total": total,
                "now": now,
            },
        )
        # Pay-by deadlines: the first due_count orders are overdue, the next as many are not.
        cursor.execute(
            """
            INSERT INTO orders_orderdeadline (order_id, kind, due_at, on_expiry, violation,
                source, state, started_at, resolved_at)
            SELECT o.id, 'pay_by',
                CASE WHEN o.platform_order_id::bigint <= %(due)s
                     THEN %(now)s - interval '1 minute' * (1 + o.id %% 600)
                     ELSE %(now)s + interval '1 hour' * (1 + o.id %% 40) END,
                'auto_cancel', '', 'policy', 'pending', %(now)s, NULL
            FROM orders_order o WHERE o.native_status = 'UNPAID'
            """,
            {"due": due_count, "now": now},
        )
        cursor.execute(
            "UPDATE orders_order o SET next_deadline_at = d.due_at, next_deadline_kind = 'pay_by' "
            "FROM orders_orderdeadline d WHERE d.order_id = o.id"
        )
        cursor.execute("ANALYZE")
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
