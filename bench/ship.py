"""Shipping at volume: allocation, ``ship_batch`` and label printing for N orders.

    .venv/bin/python bench/ship.py [--orders 1000] [--batch 500] [--size 100x180] [--carrier CODE]

Runs on a separate PostgreSQL database (BENCH_DATABASE_URL, default oms_bench on the
local server, created if missing). Makes its own organisation, a TikTok Shop shop,
N orders awaiting shipment (through ``orders.ingest.ingest_order``, as a platform sync
would) and a pool of N + 100 numbers, then times separately:

- allocation alone: ``logistics.services.allocate`` of N numbers, then ``release``;
- ``logistics.shipping.ship_batch`` of the N orders with ``allocate=True``, in batches
  of 500 (the API's limit), with the queries of each batch;
- ``logistics.print_batches.print_labels`` for the N orders (already shipped, so this
  is the batch record and the PDF rendering; every label is marked reprint).

Prints figures; asserts nothing. Its organisation is removed at the end (and any left
by an interrupted run at the start), so the deadline sweep's data is left alone.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup  # noqa: E402

SLUG = "bench-ship"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=500, help="orders per ship_batch")
    parser.add_argument("--size", default="100x180", help="label size")
    parser.add_argument("--carrier", default="", help="carrier code (default: first)")
    args = parser.parse_args()

    setup()
    cleanup()
    try:
        run(args)
    finally:
        cleanup()


def run(args) -> None:
    from django.contrib.auth import get_user_model

    from logistics import print_batches, services
    from logistics.models import Carrier
    from logistics.shipping import MAX_BATCH, ship_batch
    from oms.core.errors import OmsError
    from orders.choices import Role
    from orders.models import Membership, Organisation, Shop
    from orders.services import Actor

    n = args.orders
    batch = min(args.batch, MAX_BATCH)
    organisation = Organisation.objects.create(slug=SLUG, name="Bench shipping")
    shop = Shop.objects.create(
        organisation=organisation, name="Bench TikTok MY", platform="tiktok",
        market="MY", timezone="Asia/Kuala_Lumpur", currency="MYR",
    )  # fmt: skip
    user, _ = get_user_model().objects.get_or_create(username=SLUG)
    membership = Membership.objects.create(
        user=user, organisation=organisation, role=Role.WAREHOUSE
    )
    carriers = Carrier.objects.filter(is_active=True).order_by("code")
    carrier = (carriers.filter(code=args.carrier) if args.carrier else carriers).first()
    if carrier is None:
        raise SystemExit(f"no active carrier {args.carrier!r}")
    print(f"carrier: {carrier.code}; orders: {n:,}; batches of {batch}")

    started = time.perf_counter()
    order_ids = make_orders(shop, n)
    elapsed = time.perf_counter() - started
    print(f"ingest of {n:,} orders (AWAITING_SHIPMENT): {elapsed:.1f} s "
          f"({n / elapsed:,.0f} orders/s)")  # fmt: skip

    prefix = f"BS{int(time.time())}"
    started = time.perf_counter()
    services.pool_create_from_range(
        organisation=organisation, carrier=carrier, prefix=prefix, start=1,
        end=n + 100, width=7, price="0.80", currency="MYR", expires_at=None,
        name="Bench pool",
    )  # fmt: skip
    print(f"pool of {n + 100:,} numbers: {time.perf_counter() - started:.2f} s")

    # 1. Allocation alone.
    with captured() as queries:
        started = time.perf_counter()
        taken = services.allocate(organisation=organisation, carrier=carrier, count=n)
        allocated = time.perf_counter() - started
    print(f"\nallocate {n:,} numbers (one call): {allocated * 1000:.0f} ms, "
          f"{len(queries)} queries")  # fmt: skip
    with captured() as queries:
        started = time.perf_counter()
        services.release(taken)
        released = time.perf_counter() - started
    print(f"release {n:,} numbers: {released * 1000:.0f} ms, {len(queries)} queries")
    per_batch = []
    for start in range(0, n, batch):
        count = min(batch, n - start)
        started = time.perf_counter()
        taken = services.allocate(
            organisation=organisation, carrier=carrier, count=count
        )
        per_batch.append((time.perf_counter() - started) * 1000)
        services.release(taken)
    print(
        f"allocate per batch of ≤{batch}: median {statistics.median(per_batch):.0f} ms"
    )

    # 2. ship_batch, as the API calls it.
    actor = Actor.api_client("bench", organisation_id=organisation.pk)
    timings, shipped, refused = [], 0, 0
    print(f"\nship_batch (allocate=True), batches of {batch}:")
    for index, start in enumerate(range(0, n, batch), start=1):
        ids = order_ids[start : start + batch]
        with captured() as queries:
            started = time.perf_counter()
            outcomes = ship_batch(
                ids, actor=actor, carrier_code=carrier.code, allocate=True
            )
            elapsed = time.perf_counter() - started
        timings.append(elapsed)
        bad = [o for o in outcomes if isinstance(o, OmsError)]
        shipped += len(outcomes) - len(bad)
        refused += len(bad)
        print(f"  batch {index}: {len(ids)} orders in {elapsed * 1000:.0f} ms "
              f"({len(ids) / elapsed:,.0f} orders/s), {len(queries)} queries"
              + (f", {len(bad)} refused: {bad[0].message}" if bad else ""))  # fmt: skip
    total = sum(timings)
    print(f"ship_batch total: {shipped:,} shipped, {refused} refused in {total:.2f} s "
          f"({shipped / total:,.0f} orders/s)")  # fmt: skip

    # 3. print_labels for the shipped orders (their labels again: batch + PDF).
    worker = Actor.member(membership)
    timings, size = [], 0
    print(f"\nprint_labels ({args.size}), batches of {batch}:")
    for index, start in enumerate(range(0, n, batch), start=1):
        ids = order_ids[start : start + batch]
        with captured() as queries:
            started = time.perf_counter()
            made, pdf = print_batches.print_labels(
                organisation=organisation, actor=worker, order_ids=ids,
                carrier_code=carrier.code, size=args.size,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
        timings.append(elapsed)
        size += len(pdf or b"")
        print(f"  batch {index}: {made.label_count} labels in {elapsed * 1000:.0f} ms "
              f"({made.label_count / elapsed:,.0f} labels/s), {len(queries)} queries, "
              f"PDF {len(pdf or b'') / 1024:,.0f} KiB"
              + (f", {len(made.failures)} refused" if made.failures else ""))  # fmt: skip
    total = sum(timings)
    print(f"print_labels total: {n:,} labels in {total:.2f} s ({n / total:,.0f} labels/s), "
          f"PDF {size / 1024 / 1024:.1f} MiB")  # fmt: skip


def captured():
    """Count the queries of a block (the log is emptied first: it keeps only 9,000)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    return CaptureQueriesContext(connection)


def make_orders(shop, n: int) -> list[int]:
    """N paid TikTok Shop orders awaiting shipment, one ``ingest_order`` each."""
    from datetime import timedelta

    from django.utils import timezone

    from orders.ingest import ingest_order
    from orders.services import Actor

    actor = Actor.platform("tiktok")
    now = timezone.now()
    ids = []
    for i in range(n):
        payload = {
            "platform_order_id": f"58{int(now.timestamp())}{i:07d}",
            "native_status": "AWAITING_SHIPMENT",
            "platform_updated_at": now.isoformat(),
            "created_at": (now - timedelta(minutes=30 + i % 600)).isoformat(),
            "buyer": {"nick": f"buyer{i}", "name": f"Buyer {i}",
                      "phone": f"60123{i:07d}", "email": ""},
            "address": {"country": "MY", "province": "Selangor",
                        "city": "Petaling Jaya", "district": "",
                        "street": f"Jalan {i}", "postcode": "46000"},
            "items": [
                {"sku": "TS-BLK-L", "title": "T-shirt", "spec": "Black, L",
                 "quantity": 2, "unit_price": "24.95", "discount": "0"},
                {"sku": "CAP-01", "title": "Cap", "spec": "",
                 "quantity": 1, "unit_price": "9.90", "discount": "0"},
            ],
            "currency": "MYR", "shipping_fee": "4.90", "discount": "0",
            "total": "64.70", "buyer_message": "", "channel": "organic_search",
        }  # fmt: skip
        ids.append(ingest_order(shop=shop, payload=payload, actor=actor).order.pk)
    return ids


def cleanup() -> None:
    """Remove the bench organisation and everything it made (PROTECTed rows first)."""
    from logistics.models import (
        Package,
        PrintBatch,
        PrintBatchPackage,
        TrackingNumber,
        TrackingNumberPool,
    )
    from orders.models import Order, Organisation, Shop

    organisation = Organisation.objects.filter(slug=SLUG).first()
    if organisation is None:
        return
    PrintBatchPackage.objects.filter(batch__organisation=organisation).delete()
    PrintBatch.objects.filter(organisation=organisation).delete()
    Package.objects.filter(organisation=organisation).delete()
    TrackingNumber.objects.filter(organisation=organisation).delete()
    TrackingNumberPool.objects.filter(organisation=organisation).delete()
    Order.objects.filter(organisation=organisation).delete()
    Shop.objects.filter(organisation=organisation).delete()
    organisation.delete()


if __name__ == "__main__":
    main()
