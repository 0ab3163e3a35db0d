"""Pool figures, the expiry sweep and the low-stock / expiry warnings, and the admin."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from logistics import jobs
from logistics.errors import PoolExhausted
from logistics.models import NumberStatus, TrackingNumber
from logistics.selectors import pool_stats
from logistics.services import allocate, mark_used, pool_create_from_range, void
from orders.choices import JobStatus
from orders.jobs import JOBS, run_job
from orders.models import Notification

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def make_pool(organisation, carrier, *, end=100, expires_in=timedelta(days=30), **kw):
    return pool_create_from_range(
        organisation=organisation,
        carrier=carrier,
        prefix="YD",
        start=1,
        end=end,
        width=6,
        price="0.50",
        currency="CNY",
        expires_at=T0 + expires_in if expires_in else None,
        name=kw.pop("name", "March batch"),
        **kw,
    )


def test_pool_stats_count_by_status_with_cost_per_used_number(
    organisation, carrier, orders
):
    with time_machine.travel(T0, tick=False):
        pool = make_pool(organisation, carrier, end=10)
        (order,) = orders(1)
        taken = allocate(organisation=organisation, carrier=carrier, count=5)
        mark_used(taken[:4], order_id=order.pk)
        void(taken[4], reason="printer jam")
        allocate(organisation=organisation, carrier=carrier, count=1)
        stats = pool_stats(pool)
    assert (stats.total, stats.available, stats.reserved, stats.used, stats.void) == (
        10, 4, 1, 4, 1,
    )  # fmt: skip
    assert (stats.expired, stats.remaining, stats.expiring_soon) == (0, 4, 0)
    assert stats.total_cost == Decimal("5.00")
    assert stats.cost_per_used == Decimal("1.2500")  # 5.00 over 4 used
    assert stats.currency == "CNY"

    with time_machine.travel(T0 + timedelta(days=24), tick=False):
        assert pool_stats(pool).expiring_soon == 4  # within 7 days of expiry
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        stats = pool_stats(pool)
    assert (stats.available, stats.remaining, stats.expiring_soon) == (4, 0, 0)


def test_a_pool_with_nothing_used_has_no_cost_per_used_number(organisation, carrier):
    with time_machine.travel(T0, tick=False):
        pool = make_pool(organisation, carrier, end=3, expires_in=None)
        assert pool_stats(pool).cost_per_used is None


def test_the_expiry_job_expires_available_numbers_of_expired_pools_only(
    organisation, carrier
):
    with time_machine.travel(T0, tick=False):
        expiring = make_pool(
            organisation, carrier, end=10, expires_in=timedelta(days=5)
        )
        reserved = allocate(organisation=organisation, carrier=carrier, count=2)
        lasting = pool_create_from_range(
            organisation=organisation, carrier=carrier, prefix="YE", start=1, end=4,
            width=3, price="0.50", currency="CNY", expires_at=None, name="lasting",
        )  # fmt: skip

    with time_machine.travel(T0 + timedelta(days=5, seconds=-1), tick=False):
        assert jobs.expire_numbers(T0 + timedelta(days=5, seconds=-1)) == (
            {"pools_expired": 0, "numbers_expired": 0}, [],
        )  # fmt: skip
    now = T0 + timedelta(days=5)
    with time_machine.travel(now, tick=False):
        counts, errors = jobs.expire_numbers(now)
        assert (counts, errors) == ({"pools_expired": 1, "numbers_expired": 8}, [])
        assert jobs.expire_numbers(now)[0] == {"pools_expired": 0, "numbers_expired": 0}
        # Printed (reserved) numbers stay reserved; the lasting pool is untouched.
        assert pool_stats(expiring).expired == 8
        assert {n.status for n in TrackingNumber.objects.filter(pk__in=[r.pk for r in reserved])} == {NumberStatus.RESERVED}  # fmt: skip
        assert pool_stats(lasting).available == 4
        taken = allocate(organisation=organisation, carrier=carrier, count=4)
        assert {n.pool_id for n in taken} == {lasting.pk}
        with pytest.raises(PoolExhausted):
            allocate(organisation=organisation, carrier=carrier, count=1)


def test_low_and_expiring_pools_are_warned_once_a_day(organisation, carrier):
    with time_machine.travel(T0, tick=False):
        low = make_pool(organisation, carrier, end=10, name="small")  # threshold 50
        plenty = pool_create_from_range(
            organisation=organisation, carrier=carrier, prefix="YF", start=1, end=60,
            width=3, price="0.50", currency="CNY", expires_at=T0 + timedelta(days=10),
            name="big",
        )  # fmt: skip
        assert jobs.warn_low_pools(T0) == ({"pools_warned": 1}, [])
        assert jobs.warn_low_pools(T0 + timedelta(hours=3)) == ({"pools_warned": 0}, [])
    (notice,) = Notification.objects.all()
    assert notice.organisation_id == organisation.pk
    assert notice.kind == "tracking_pool_low"
    assert "small" in notice.title
    assert "10 numbers left" in notice.title
    low.refresh_from_db()
    assert low.last_warned_at == T0

    # Four days later "big" is within 7 days of expiry: both are warned, once each.
    later = T0 + timedelta(days=4)
    with time_machine.travel(later, tick=False):
        assert jobs.warn_low_pools(later) == ({"pools_warned": 2}, [])
        assert jobs.warn_low_pools(later) == ({"pools_warned": 0}, [])
    kinds = sorted(
        Notification.objects.filter(created_at=later).values_list("kind", flat=True)
    )
    assert kinds == ["tracking_pool_expiring", "tracking_pool_low"]
    plenty.refresh_from_db()
    assert plenty.last_warned_at == later


def test_a_used_up_pool_is_not_warned(organisation, carrier, orders):
    with time_machine.travel(T0, tick=False):
        make_pool(organisation, carrier, end=2)
        allocate(organisation=organisation, carrier=carrier, count=2)
        assert jobs.warn_low_pools(T0) == ({"pools_warned": 0}, [])


def test_the_tracking_pools_job_is_registered_and_recorded(organisation, carrier):
    assert JOBS["tracking_pools"] is jobs.run
    with time_machine.travel(T0, tick=False):
        make_pool(organisation, carrier, end=3, expires_in=timedelta(days=1))
    now = T0 + timedelta(days=2)
    with time_machine.travel(now, tick=False):
        run = run_job("tracking_pools", now=now)
    assert run.status == JobStatus.SUCCEEDED
    assert run.counts == {"pools_expired": 1, "numbers_expired": 3, "pools_warned": 0}


def test_the_pool_admin_list_counts_without_a_query_per_pool(
    admin_client, organisation, carrier, django_assert_max_num_queries
):
    with time_machine.travel(T0, tick=False):
        make_pool(organisation, carrier, end=5, name="first")
        allocate(organisation=organisation, carrier=carrier, count=2)
    with django_assert_max_num_queries(20) as few:
        response = admin_client.get("/admin/logistics/trackingnumberpool/")
    assert response.status_code == 200
    for index in range(5):
        pool_create_from_range(
            organisation=organisation, carrier=carrier, prefix=f"P{index}", start=1,
            end=5, width=2, price="0.5", currency="CNY", expires_at=None, name=f"p{index}",
        )  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get("/admin/logistics/trackingnumberpool/")
    assert response.status_code == 200
    assert b"first" in response.content
    assert b"p4" in response.content


def test_the_tracking_number_admin_searches_by_number(
    admin_client, organisation, carrier
):
    with time_machine.travel(T0, tick=False):
        make_pool(organisation, carrier, end=3)
    response = admin_client.get("/admin/logistics/trackingnumber/", {"q": "YD000002"})
    assert response.status_code == 200
    assert b"YD000002" in response.content
    assert b"YD000003" not in response.content
    number = TrackingNumber.objects.get(number="YD000002")
    page = admin_client.get(f"/admin/logistics/trackingnumber/{number.pk}/change/")
    assert page.status_code == 200
