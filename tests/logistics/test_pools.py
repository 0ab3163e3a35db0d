"""Tracking-number pools (PRODUCT.md L2): import, re-use, allocation, status changes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from logistics.errors import PoolExhausted, TrackingNumberState, TrackingNumberTaken
from logistics.models import Carrier, NumberStatus, TrackingNumber, TrackingNumberPool
from logistics.services import (
    allocate,
    mark_used,
    pool_create_from_list,
    pool_create_from_range,
    register_manual,
    release,
    void,
)
from oms.core.errors import NotFound, ValidationFailed
from tests.conftest import requires_postgres
from tests.factories import OrganisationFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


def from_range(organisation, carrier, start=1, end=10, **overrides):
    arguments = {
        "organisation": organisation,
        "carrier": carrier,
        "prefix": "YD",
        "start": start,
        "end": end,
        "width": 8,
        "price": "0.80",
        "currency": "CNY",
        "expires_at": None,
        "name": "Yunda batch",
    } | overrides
    return pool_create_from_range(**arguments)


def from_list(organisation, carrier, numbers, **overrides):
    arguments = {
        "organisation": organisation,
        "carrier": carrier,
        "numbers": numbers,
        "price": "1.00",
        "currency": "CNY",
        "expires_at": None,
        "name": "List batch",
    } | overrides
    return pool_create_from_list(**arguments)


def numbers_of(pool) -> list[str]:
    return list(pool.numbers.order_by("id").values_list("number", flat=True))


# --- Import -------------------------------------------------------------------------


def test_a_range_imports_zero_padded_numbers_with_price_and_expiry(
    organisation, carrier
):
    expires = timezone.now() + timedelta(days=90)
    pool = from_range(organisation, carrier, start=98, end=102, expires_at=expires)
    assert numbers_of(pool) == [
        "YD00000098", "YD00000099", "YD00000100", "YD00000101", "YD00000102",
    ]  # fmt: skip
    assert (pool.price_per_number, pool.currency, pool.expires_at) == (
        Decimal("0.80"), "CNY", expires,
    )  # fmt: skip
    assert set(pool.numbers.values_list("status", "carrier", "organisation")) == {
        (NumberStatus.AVAILABLE, carrier.pk, organisation.pk)
    }


def test_a_list_imports_trimmed_upper_case_numbers(organisation, carrier):
    pool = from_list(organisation, carrier, [" sf001 ", "SF002", "Sf003"])
    assert numbers_of(pool) == ["SF001", "SF002", "SF003"]


@pytest.mark.parametrize(
    "bad", ["", "   ", "A" * 41, "SF-001", "SF 001", "顺丰001"], ids=repr
)
def test_invalid_numbers_are_refused_and_nothing_is_created(organisation, carrier, bad):
    with pytest.raises(ValidationFailed):
        from_list(organisation, carrier, ["SF001", bad])
    assert TrackingNumberPool.objects.count() == 0
    assert TrackingNumber.objects.count() == 0


def test_a_batch_listing_a_number_twice_is_refused_and_nothing_is_created(
    organisation, carrier
):
    with pytest.raises(TrackingNumberTaken) as error:
        from_list(organisation, carrier, ["SF001", "SF002", "sf001", "SF003", "SF002"])
    assert error.value.code == "tracking_number_taken"
    assert error.value.http_status == 409
    assert error.value.details["duplicates_in_batch"] == ["SF001", "SF002"]
    assert TrackingNumberPool.objects.count() == 0
    assert TrackingNumber.objects.count() == 0


def test_numbers_already_known_are_refused_naming_the_order_they_were_used_on(
    organisation, carrier, orders
):
    first = from_range(organisation, carrier, start=1, end=5)
    (order,) = orders(1)
    used = allocate(organisation=organisation, carrier=carrier, count=1)
    mark_used(used, order_id=order.pk)

    with pytest.raises(TrackingNumberTaken) as error:
        from_range(organisation, carrier, start=4, end=8, name="overlapping")
    assert error.value.details["numbers"] == ["YD00000004", "YD00000005"]
    assert error.value.details["conflicts"] == 2
    with pytest.raises(TrackingNumberTaken) as error:
        from_list(organisation, carrier, ["NEW1", "YD00000001"])
    assert error.value.details["numbers"] == ["YD00000001"]
    assert error.value.details["orders"] == {"YD00000001": order.pk}
    assert TrackingNumberPool.objects.get() == first
    assert TrackingNumber.objects.count() == 5


def test_a_number_is_unique_per_carrier_across_organisations_without_leaking_orders(
    organisation, carrier, orders
):
    from_range(organisation, carrier, start=1, end=3)
    (order,) = orders(1)
    mark_used(
        allocate(organisation=organisation, carrier=carrier, count=1),
        order_id=order.pk,
    )
    other = OrganisationFactory()
    with pytest.raises(TrackingNumberTaken) as error:
        from_range(other, carrier, start=1, end=3)
    assert error.value.details["conflicts"] == 3
    assert error.value.details["orders"] == {}  # not the other organisation's order
    # Another carrier may have issued the same digits.
    sf = Carrier.objects.get_or_create(code="SF", defaults={"name": "顺丰"})[0]
    assert from_range(other, sf, start=1, end=3).numbers.count() == 3


@requires_postgres
def test_a_range_of_100_000_numbers_is_imported_in_bulk(
    organisation, carrier, django_assert_max_num_queries
):
    # No per-number query: 10 look-ups and 5 inserts of 20 000 rows, plus the pool.
    with django_assert_max_num_queries(20):
        pool = from_range(organisation, carrier, start=0, end=99_999, width=10)
    assert pool.numbers.count() == 100_000
    first, last = pool.numbers.order_by("id")[0], pool.numbers.order_by("-id")[0]
    assert (first.number, last.number) == ("YD0000000000", "YD0000099999")
    assert (first.status, first.void_reason, first.carrier_id) == (
        "available", "", carrier.pk,
    )  # fmt: skip


def test_a_range_over_100_000_numbers_is_refused(organisation, carrier):
    with pytest.raises(ValidationFailed):
        from_range(organisation, carrier, start=0, end=100_000, width=10)


@pytest.mark.parametrize(
    "overrides",
    [
        {"start": 5, "end": 4},
        {"start": 1, "end": 1000, "width": 3},
        {"currency": "yuan"},
        {"price": "-1"},
        {"price": 0.8},
        {"name": " "},
        {"expires_at": "past"},
    ],
    ids=repr,
)
def test_bad_import_arguments_are_refused(organisation, carrier, overrides):
    if overrides.get("expires_at") == "past":
        overrides["expires_at"] = timezone.now() - timedelta(seconds=1)
    with pytest.raises(ValidationFailed):
        from_range(organisation, carrier, **overrides)
    assert TrackingNumberPool.objects.count() == 0


# --- Allocation ---------------------------------------------------------------------


def test_allocation_takes_the_oldest_unexpired_pool_first_then_by_id(
    organisation, carrier
):
    now = timezone.now()
    older = from_range(organisation, carrier, start=1, end=3)
    TrackingNumberPool.objects.filter(pk=older.pk).update(
        purchased_at=now - timedelta(days=2)
    )
    newer = from_range(organisation, carrier, start=11, end=13)
    TrackingNumberPool.objects.filter(pk=newer.pk).update(
        purchased_at=now - timedelta(days=1)
    )
    expiring = from_range(
        organisation, carrier, start=21, end=23, expires_at=now + timedelta(hours=1)
    )
    TrackingNumberPool.objects.filter(pk=expiring.pk).update(
        purchased_at=now - timedelta(days=3), expires_at=now - timedelta(seconds=1)
    )  # already expired (the sweep has not run): skipped

    taken = allocate(organisation=organisation, carrier=carrier, count=5)
    assert [n.number for n in taken] == [
        "YD00000001", "YD00000002", "YD00000003", "YD00000011", "YD00000012",
    ]  # fmt: skip
    assert {n.status for n in taken} == {NumberStatus.RESERVED}
    assert TrackingNumber.objects.filter(status=NumberStatus.RESERVED).count() == 5
    assert TrackingNumber.objects.get(number="YD00000013").status == "available"


def test_allocation_exhausts_a_pool_exactly_then_refuses_and_reserves_nothing(
    organisation, carrier
):
    from_range(organisation, carrier, start=1, end=10)
    assert len(allocate(organisation=organisation, carrier=carrier, count=4)) == 4
    assert len(allocate(organisation=organisation, carrier=carrier, count=6)) == 6
    assert not TrackingNumber.objects.filter(status=NumberStatus.AVAILABLE).exists()
    with pytest.raises(PoolExhausted) as error:
        allocate(organisation=organisation, carrier=carrier, count=1)
    assert (error.value.code, error.value.http_status) == ("pool_exhausted", 409)

    release(TrackingNumber.objects.filter(number__in=["YD00000002", "YD00000003"]))
    with pytest.raises(PoolExhausted) as error:
        allocate(organisation=organisation, carrier=carrier, count=3)
    assert error.value.details == {
        "carrier": "YUNDA", "requested": 3, "available": 2,
    }  # fmt: skip
    # The refused call reserved nothing: both released numbers are still available.
    assert TrackingNumber.objects.filter(status=NumberStatus.AVAILABLE).count() == 2


def test_allocation_only_sees_the_organisations_own_pools(organisation, carrier):
    from_range(OrganisationFactory(), carrier, start=1, end=10)
    with pytest.raises(PoolExhausted):
        allocate(organisation=organisation, carrier=carrier, count=1)


def test_allocation_for_orders_reserves_each_number_for_its_order(
    organisation, carrier, orders
):
    from_range(organisation, carrier, start=1, end=5)
    first, second = orders(2)
    taken = allocate(
        organisation=organisation,
        carrier=carrier,
        count=2,
        order_ids=[first.pk, second.pk],
    )
    assert [(n.number, n.order_id) for n in taken] == [
        ("YD00000001", first.pk), ("YD00000002", second.pk),
    ]  # fmt: skip
    assert list(
        TrackingNumber.objects.filter(order__isnull=False)
        .order_by("id")
        .values_list("order_id", "status")
    ) == [(first.pk, "reserved"), (second.pk, "reserved")]


def test_allocation_for_another_organisations_order_is_refused(organisation, carrier):
    from_range(organisation, carrier, start=1, end=5)
    stranger = make_order(ShopFactory(), "WAIT_SELLER_SEND_GOODS")
    with pytest.raises(NotFound):
        allocate(
            organisation=organisation, carrier=carrier, count=1, order_ids=[stranger.pk]
        )
    assert not TrackingNumber.objects.filter(status=NumberStatus.RESERVED).exists()


# --- Use, release, void -------------------------------------------------------------


def test_mark_used_then_release_is_refused_and_a_retry_is_harmless(
    organisation, carrier, orders
):
    from_range(organisation, carrier, start=1, end=3)
    (order,) = orders(1)
    taken = allocate(organisation=organisation, carrier=carrier, count=2)
    used = mark_used(taken, order_id=order.pk)
    assert {(n.status, n.order_id) for n in used} == {("used", order.pk)}
    assert mark_used(taken, order_id=order.pk)[0].used_at == used[0].used_at
    with pytest.raises(TrackingNumberState):
        release(taken)
    with pytest.raises(TrackingNumberState):
        mark_used(TrackingNumber.objects.filter(status="available"), order_id=order.pk)


def test_mark_used_on_another_organisations_order_is_refused(organisation, carrier):
    from_range(organisation, carrier, start=1, end=3)
    taken = allocate(organisation=organisation, carrier=carrier, count=1)
    stranger = make_order(ShopFactory(), "WAIT_SELLER_SEND_GOODS")
    with pytest.raises(NotFound):
        mark_used(taken, order_id=stranger.pk)
    assert TrackingNumber.objects.get(pk=taken[0].pk).status == "reserved"


def test_void_takes_a_number_out_for_ever(organisation, carrier):
    from_range(organisation, carrier, start=1, end=2)
    number = TrackingNumber.objects.get(number="YD00000001")
    voided = void(number, reason="label damaged")
    assert (voided.status, voided.void_reason) == ("void", "label damaged")
    assert voided.voided_at is not None
    taken = allocate(organisation=organisation, carrier=carrier, count=1)
    assert taken[0].number == "YD00000002"
    with pytest.raises(ValidationFailed):
        void(number, reason="")
    with pytest.raises(TrackingNumberTaken):
        register_manual(carrier=carrier, number="YD00000001", organisation=organisation)


def test_a_released_number_of_an_expired_pool_becomes_expired(organisation, carrier):
    pool = from_range(
        organisation,
        carrier,
        start=1,
        end=2,
        expires_at=timezone.now() + timedelta(days=1),
    )
    taken = allocate(organisation=organisation, carrier=carrier, count=1)
    TrackingNumberPool.objects.filter(pk=pool.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    release(taken)
    taken[0].refresh_from_db()
    assert (taken[0].status, taken[0].reserved_at) == ("expired", None)


# --- Typed or scanned numbers -------------------------------------------------------


def test_register_manual_claims_a_new_number_and_refuses_it_a_second_time(
    organisation, carrier, orders
):
    number = register_manual(carrier=carrier, number="yd777", organisation=organisation)
    assert (number.number, number.status, number.pool) == ("YD777", "reserved", None)
    (order,) = orders(1)
    mark_used([number], order_id=order.pk)

    with pytest.raises(TrackingNumberTaken) as error:
        register_manual(carrier=carrier, number="YD777", organisation=organisation)
    assert error.value.details["orders"] == {"YD777": order.pk}
    with pytest.raises(TrackingNumberTaken) as error:
        register_manual(
            carrier=carrier, number="YD777", organisation=OrganisationFactory()
        )
    assert error.value.details["orders"] == {}
    with pytest.raises(TrackingNumberTaken) as error:
        from_list(organisation, carrier, ["YD777"])
    assert error.value.details["orders"] == {"YD777": order.pk}


def test_register_manual_takes_an_available_number_from_the_own_pool(
    organisation, carrier
):
    from_range(organisation, carrier, start=1, end=3)
    number = register_manual(
        carrier=carrier, number="YD00000002", organisation=organisation
    )
    assert (number.status, number.pool_id is not None) == ("reserved", True)
    assert TrackingNumber.objects.count() == 3
    with pytest.raises(TrackingNumberTaken):  # reserved now
        register_manual(carrier=carrier, number="YD00000002", organisation=organisation)


def test_a_released_manual_number_is_forgotten_and_can_be_typed_again(
    organisation, carrier
):
    number = register_manual(carrier=carrier, number="YD900", organisation=organisation)
    release([number])
    assert not TrackingNumber.objects.filter(number="YD900").exists()
    again = register_manual(carrier=carrier, number="YD900", organisation=organisation)
    assert again.status == "reserved"
