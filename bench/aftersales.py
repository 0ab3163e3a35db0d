"""After-sales at volume: the inbox query and the case deadline sweep on PostgreSQL.

    .venv/bin/python bench/aftersales.py [--orders 200000] [--cases 5000] [--keep]

Fills a separate database (BENCH_DATABASE_URL, default oms_bench_aftersales) with SQL:
``--orders`` completed TikTok Shop orders plus ``--cases`` orders awaiting shipment, each
with an open buyer cancel request, half of them past their 48 h answer window. Prints:
EXPLAIN ANALYZE of the inbox's first page (it must use the partial index
``case_inbox_idx``, not scan every case), its time, the nav badge count, the whole sweep
through the service (each overdue request approved: the order cancelled, refund
recorded, both timelines written) and the idle poll.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oms_bench_aftersales"


def main() -> None:
    from bench.common import setup

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = parser.parse_args()

    setup(DEFAULT_URL)
    from django.db import connection
    from django.utils import timezone

    from aftersales.choices import CaseState
    from aftersales.models import Case
    from aftersales.services import process_due_cases
    from orders.models import Order

    now = timezone.now()
    if not (args.keep and Case.objects.count() == args.cases):
        fill(connection, args.orders, args.cases, now)
    print(f"orders: {Order.objects.count():,}; open cases: "
          f"{Case.objects.filter(state=CaseState.OPEN).count():,}; due now: "
          f"{Case.objects.filter(state=CaseState.OPEN, due_at__lte=now).count():,}")  # fmt: skip

    organisation_id = Case.objects.values_list("organisation_id", flat=True).first()
    inbox = (
        Case.objects.filter(organisation_id=organisation_id, state=CaseState.OPEN)
        .select_related("order", "shop")
        .order_by("due_at", "id")[:50]
    )
    with connection.cursor() as cursor:
        sql, params = inbox.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("\nEXPLAIN ANALYZE of the inbox's first page (50 cases):\n" + plan)
    if "case_inbox_idx" not in plan:
        print("!! the inbox does not use case_inbox_idx")
    print(
        f"\ninbox first page: {median_ms(lambda: list(inbox.all())):.2f} ms (median of 21)"
    )
    badge = Case.objects.filter(
        organisation_id=organisation_id, state=CaseState.OPEN
    ).filter(task__in=["respond", "confirm_return"])
    print(f"nav badge count: {median_ms(badge.count):.2f} ms (median of 21)")

    due = Case.objects.filter(state=CaseState.OPEN, due_at__lte=now).count()
    start = time.perf_counter()
    counts, errors = process_due_cases(now=now)
    elapsed = time.perf_counter() - start
    print(f"sweep: {counts} in {elapsed:.2f} s = {due / elapsed:,.0f} cases/s, "
          f"{elapsed / max(due, 1) * 1000:.2f} s per 1,000 (each: order locked, cancelled "
          f"through its machine, refund and both timelines written); errors: {len(errors)}")  # fmt: skip
    print(
        f"idle poll (nothing due): {median_ms(lambda: process_due_cases(now=now)):.2f} ms"
    )


def median_ms(call) -> float:
    timings = []
    for _ in range(21):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def fill(connection, total: int, cases: int, now) -> None:
    from bench.common import INSERT_ORDERS
    from orders.models import Organisation, Shop

    print(f"filling {total:,} orders and {cases:,} cancel requests …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE aftersales_caseevent, aftersales_caseitem, aftersales_case, "
            "orders_orderdeadline, orders_orderevent, orders_orderitem, "
            "orders_notification, orders_violation, orders_order CASCADE"
        )
    organisation, _ = Organisation.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    shop, _ = Shop.objects.get_or_create(
        organisation=organisation, name="Bench TikTok MY",
        defaults={"platform": "tiktok", "market": "MY", "timezone": "Asia/Kuala_Lumpur", "currency": "MYR"},
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_ORDERS  # noqa: S608 - a constant column list, values are parameters
            + """
            SELECT %(org)s, %(shop)s, 'tiktok', lpad(g::text, 18, '0'),
                CASE WHEN g <= %(cases)s THEN 'AWAITING_SHIPMENT' ELSE 'COMPLETED' END,
                CASE WHEN g <= %(cases)s THEN 'awaiting_shipment' ELSE 'completed' END,
                '', '', 1, false, g <= %(cases)s, false, false, false, false, false,
                'buyer' || g, 'Buyer ' || g, '60123' || lpad(g::text, 7, '0'), '', 'MY',
                'Selangor', 'Petaling Jaya', '', 'Jalan ' || g, '46000', 'MYR',
                49.90, 4.90, 0, 0, 54.80, 54.80, '', '', '', 'organic_search',
                %(now)s - (g %% 90) * interval '1 day' - interval '3 days',
                %(now)s - (g %% 90) * interval '1 day' - interval '3 days',
                CASE WHEN g <= %(cases)s THEN NULL ELSE %(now)s - (g %% 90) * interval '1 day' END,
                %(now)s, %(now)s, '{}', NULL, '', %(now)s, %(now)s
            FROM generate_series(1, %(total)s + %(cases)s) AS g
            """,
            {"org": organisation.pk, "shop": shop.pk, "cases": cases, "total": total,
             "now": now},
        )  # fmt: skip
        # One pending cancel request per order awaiting shipment; half past due.
        cursor.execute(
            """
            INSERT INTO aftersales_case (
                organisation_id, shop_id, order_id, platform, kind, platform_case_id,
                native_status, state, task, outcome, version, reason, description,
                evidence, has_return, currency, amount, refunded_amount, seller_reason,
                proposal, seller_evidence, return_carrier, return_tracking_number,
                due_at, due_action, due_source, due_extended, opened_at,
                status_changed_at, resolved_at, updated_at)
            SELECT o.organisation_id, o.shop_id, o.id, 'tiktok', 'cancel', 'C' || o.id,
                'CANCELLATION_REQUEST_PENDING', 'open', 'respond', '', 1, 'changed_mind', '',
                '[]', false, 'MYR', 54.80, 0, '', '{}', '[]', '', '',
                CASE WHEN o.id %% 2 = 0 THEN %(now)s - interval '1 minute' * (1 + o.id %% 600)
                     ELSE %(now)s + interval '1 hour' * (1 + o.id %% 40) END,
                'approve', 'policy', false, %(now)s - interval '2 days', %(now)s, NULL, %(now)s
            FROM orders_order o WHERE o.native_status = 'AWAITING_SHIPMENT'
            """,
            {"now": now},
        )
        cursor.execute("ANALYZE")
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
