"""Concurrent allocation on PostgreSQL: a number goes to exactly one package (L2)."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logistics.errors import PoolExhausted
from logistics.models import NumberStatus, TrackingNumber
from logistics.services import allocate, pool_create_from_range
from tests.conftest import requires_postgres
from tests.race import race


def make_pool(organisation, carrier, size):
    return pool_create_from_range(
        organisation=organisation, carrier=carrier, prefix="YD", start=1, end=size,
        width=8, price="0.80", currency="CNY", expires_at=None, name="race",
    )  # fmt: skip


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_of_100_orders_at_once_never_share_a_number(
    organisation, carrier, orders
):
    make_pool(organisation, carrier, 250)
    batch_a, batch_b = orders(100), orders(100)

    def print_batch(batch):
        return allocate(
            organisation=organisation,
            carrier=carrier,
            count=len(batch),
            order_ids=[order.pk for order in batch],
        )

    results = race(lambda: print_batch(batch_a), lambda: print_batch(batch_b))
    assert [len(r) for r in results] == [100, 100], results
    numbers = [n.number for result in results for n in result]
    assert len(set(numbers)) == 200
    reserved = TrackingNumber.objects.filter(status=NumberStatus.RESERVED)
    assert reserved.count() == 200
    assert reserved.values("order").distinct().count() == 200
    assert TrackingNumber.objects.filter(status=NumberStatus.AVAILABLE).count() == 50


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_50_allocations_of_one_from_a_pool_of_40(organisation, carrier):
    make_pool(organisation, carrier, 40)

    def one():
        return allocate(organisation=organisation, carrier=carrier, count=1)

    results = race(*[one for _ in range(50)])
    won = [r[0].number for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, PoolExhausted)]
    assert (len(won), len(refused)) == (40, 10), results
    assert Counter(won).most_common(1)[0][1] == 1  # no duplicates
    assert TrackingNumber.objects.filter(status=NumberStatus.RESERVED).count() == 40
    assert not TrackingNumber.objects.filter(status=NumberStatus.AVAILABLE).exists()


@requires_postgres
@pytest.mark.django_db
def test_allocation_locks_with_skip_locked(organisation, carrier):
    make_pool(organisation, carrier, 5)
    with CaptureQueriesContext(connection) as queries:
        allocate(organisation=organisation, carrier=carrier, count=2)
    selects = [q["sql"] for q in queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
    assert len(selects) == 1, [q["sql"] for q in queries]
    assert "\"status\" = 'available'" in selects[0]
