"""Shipping (PRODUCT.md L3): one order or a batch, whole or in part, several packages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logistics.errors import PoolExhausted, TrackingNumberTaken
from logistics.models import (
    NumberStatus,
    Package,
    PackageItem,
    SyncStatus,
    TrackingNumber,
)
from logistics.selectors import pool_stats
from logistics.services import pool_create_from_range
from logistics.shipping import ship, ship_batch
from oms.core.errors import InvalidTransition, NotFound, ValidationFailed
from orders import actions
from orders.choices import EventType, Role
from orders.models import Order, OrderEvent
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order, order_in

pytestmark = pytest.mark.django_db

TWO_ITEMS = [
    {"sku": "A", "title": "Shirt", "quantity": 2, "unit_price": "10", "discount": "0"},
    {"sku": "B", "title": "Cap", "quantity": 1, "unit_price": "5", "discount": "0"},
]
# platform: (status to ship from, after a partial shipment, after the rest)
FLOWS = {
    "taobao": (
        "WAIT_SELLER_SEND_GOODS",
        "SELLER_CONSIGNED_PART",
        "WAIT_BUYER_CONFIRM_GOODS",
    ),
    "aliexpress": (
        "WAIT_SELLER_SEND_GOODS",
        "SELLER_PART_SEND_GOODS",
        "WAIT_BUYER_ACCEPT_GOODS",
    ),
    "tiktok": ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING", "AWAITING_COLLECTION"),
}


def warehouse(organisation) -> Actor:
    return Actor.member(
        MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    )


def make_pool(organisation, carrier, count=20, prefix="YD"):
    return pool_create_from_range(
        organisation=organisation,
        carrier=carrier,
        prefix=prefix,
        start=1,
        end=count,
        width=8,
        price="0.80",
        currency="CNY",
        expires_at=None,
        name="Yunda batch",
    )


def state(order, pool=None) -> dict:
    """Everything shipping could change about an order (and the pool)."""
    order.refresh_from_db()
    stats = pool_stats(pool) if pool is not None else None
    return {
        "status": order.native_status,
        "version": order.version,
        "packages": Package.objects.filter(order=order).count(),
        "numbers": TrackingNumber.objects.filter(order=order).count(),
        "manual": TrackingNumber.objects.filter(pool=None).count(),
        "events": OrderEvent.objects.filter(order=order).count(),
        "pool": stats and (stats.available, stats.reserved, stats.used),
    }


@pytest.mark.parametrize("platform", sorted(FLOWS))
def test_full_shipment_moves_to_the_platforms_shipped_status(platform, carrier):
    start, _, shipped = FLOWS[platform]
    shop = ShopFactory(platform=platform)
    order = make_order(shop, start)
    package = ship(
        order.pk,
        actor=warehouse(shop.organisation),
        carrier_code="YUNDA",
        tracking_number=" yd123456789 ",
    )
    order.refresh_from_db()
    assert order.native_status == shipped
    assert package.tracking_number == "YD123456789"
    assert not package.partial
    assert package.platform_sync_status == SyncStatus.PENDING
    assert [(i.order_item.sku, i.quantity) for i in package.items.all()] == [
        ("SKU-1", 2)
    ]
    number = TrackingNumber.objects.get(number="YD123456789")
    assert (number.status, number.order_id) == (NumberStatus.USED, order.pk)
    assert number.package_ref == str(package.pk)
    assert package.tracking_record == number
    event = order.events.filter(type=EventType.STATUS_CHANGED).latest("id")
    assert event.action == "ship"
    assert event.data["tracking_number"] == "YD123456789"
    assert event.data["carrier"] == "YUNDA"


@pytest.mark.parametrize("platform", sorted(FLOWS))
def test_partial_then_the_rest_in_a_second_package(platform, carrier):
    start, part, shipped = FLOWS[platform]
    shop = ShopFactory(platform=platform)
    order = make_order(shop, start, items=TWO_ITEMS)
    shirt, cap = order.items.order_by("id")
    actor = warehouse(shop.organisation)
    make_pool(shop.organisation, carrier)

    first = ship(
        order.pk,
        actor=actor,
        carrier_code="YUNDA",
        allocate=True,
        items=[{"item": shirt.pk, "quantity": 1}],
    )
    order.refresh_from_db()
    assert order.native_status == part
    assert first.partial

    # More than remains is refused, naming the item; nothing changes.
    before = state(order)
    with pytest.raises(ValidationFailed) as refused:
        ship(
            order.pk,
            actor=actor,
            carrier_code="YUNDA",
            tracking_number="SF0001",
            items=[{"item": shirt.pk, "quantity": 2}],
        )
    assert refused.value.code == "invalid_input"
    assert refused.value.details["item"] == shirt.pk
    assert refused.value.details["remaining"] == 1
    assert state(order) == before

    second = ship(
        order.pk,
        actor=actor,
        carrier_code="YUNDA",
        tracking_number="SF0002",
        items=[{"item": shirt.pk, "quantity": 1}, {"item": cap.pk, "quantity": 1}],
    )
    order.refresh_from_db()
    assert order.native_status == shipped
    assert not second.partial
    assert order.packages.count() == 2
    assert sorted(
        PackageItem.objects.filter(package__order=order).values_list(
            "order_item__sku", "quantity"
        )
    ) == [("A", 1), ("A", 1), ("B", 1)]


def test_an_item_of_another_order_is_refused(carrier, shop):
    order, other = (
        make_order(shop, "WAIT_SELLER_SEND_GOODS"),
        make_order(shop, "WAIT_SELLER_SEND_GOODS"),
    )
    with pytest.raises(ValidationFailed):
        ship(
            order.pk,
            actor=warehouse(shop.organisation),
            carrier_code="YUNDA",
            tracking_number="X1",
            items=[{"item": other.items.get().pk, "quantity": 1}],
        )
    assert not Package.objects.exists()
    assert not TrackingNumber.objects.exists()


def _hold(order):
    return actions.perform(order, "hold", Actor.system("test"), reason="check")


def _cancel_requested(order):
    Order.objects.filter(pk=order.pk).update(cancel_requested=True)
    return order


# (platform, status, prepare, expected reason)
REFUSED = [
    ("taobao", "WAIT_BUYER_PAY", None, "not_allowed_in_status"),
    ("taobao", "TRADE_CLOSED_BY_TAOBAO", None, "not_allowed_in_status"),
    ("taobao", "WAIT_SELLER_SEND_GOODS", _hold, "on_hold"),
    ("taobao", "PAID_FORBID_CONSIGN", None, "not_allowed_in_status"),
    ("tiktok", "ON_HOLD", None, "not_allowed_in_status"),
    ("tiktok", "AWAITING_SHIPMENT", _cancel_requested, "cancel_requested"),
    ("aliexpress", "RISK_CONTROL", None, "not_allowed_in_status"),
    ("aliexpress", "IN_CANCEL", None, "not_allowed_in_status"),
]


@pytest.mark.parametrize("allocate", [True, False], ids=["pool", "typed"])
@pytest.mark.parametrize(
    ("platform", "status", "prepare", "reason"),
    REFUSED,
    ids=[f"{p}-{s}-{r}" for p, s, _, r in REFUSED],
)
def test_orders_that_must_not_ship_are_refused_and_nothing_changes(
    platform, status, prepare, reason, allocate, carrier
):
    shop = ShopFactory(platform=platform)
    order = order_in(shop, status)
    if prepare:
        prepare(order)
    pool = make_pool(shop.organisation, carrier)
    before = state(order, pool)
    with pytest.raises(InvalidTransition) as refused:
        ship(
            order.pk,
            actor=warehouse(shop.organisation),
            carrier_code="YUNDA",
            tracking_number=None if allocate else "YD99999999",
            allocate=allocate,
        )
    assert refused.value.details["reason"] == reason
    assert state(order, pool) == before
    assert not TrackingNumber.objects.filter(number="YD99999999").exists()


def test_a_reused_number_is_refused_naming_the_order_it_is_on(carrier, shop):
    first, second = (make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2))
    actor = warehouse(shop.organisation)
    ship(first.pk, actor=actor, carrier_code="YUNDA", tracking_number="YD777")
    before = state(second)
    with pytest.raises(TrackingNumberTaken) as taken:
        ship(second.pk, actor=actor, carrier_code="YUNDA", tracking_number="yd777")
    assert taken.value.http_status == 409
    assert taken.value.details["orders"] == {"YD777": first.pk}
    assert state(second) == before


def test_typed_number_and_allocation_are_exclusive_and_the_carrier_must_exist(
    carrier, shop
):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    actor = warehouse(shop.organisation)
    for kwargs in ({}, {"tracking_number": "YD1", "allocate": True}):
        with pytest.raises(ValidationFailed):
            ship(order.pk, actor=actor, carrier_code="YUNDA", **kwargs)
    with pytest.raises(ValidationFailed):
        ship(order.pk, actor=actor, carrier_code="NOPE", tracking_number="YD1")
    assert not Package.objects.exists()


def test_an_exhausted_pool_refuses_and_nothing_changes(carrier, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    before = state(order)
    with pytest.raises(PoolExhausted):
        ship(
            order.pk,
            actor=warehouse(shop.organisation),
            carrier_code="YUNDA",
            allocate=True,
        )
    assert state(order) == before


def test_another_organisations_order_is_not_found(carrier, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    stranger = warehouse(ShopFactory().organisation)
    before = state(order)
    with pytest.raises(NotFound):
        ship(order.pk, actor=stranger, carrier_code="YUNDA", tracking_number="YD5")
    assert state(order) == before


def test_a_role_without_ship_may_not(carrier, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    service = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.CUSTOMER_SERVICE)
    )
    with pytest.raises(Exception) as refused:
        ship(order.pk, actor=service, carrier_code="YUNDA", tracking_number="YD5")
    assert getattr(refused.value, "code", "") == "permission_denied"
    assert not Package.objects.exists()
    assert not TrackingNumber.objects.exists()


# --- batches ------------------------------------------------------------------------------


def test_a_batch_ships_the_shippable_and_lists_the_refused(carrier, shop, orders):
    good = orders(3)
    unpaid = make_order(shop, "WAIT_BUYER_PAY")
    held = _hold(make_order(shop, "WAIT_SELLER_SEND_GOODS"))
    foreign = make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS")
    pool = make_pool(shop.organisation, carrier)
    ids = [unpaid.pk, good[0].pk, held.pk, good[1].pk, foreign.pk, good[2].pk]
    results = ship_batch(ids, actor=warehouse(shop.organisation), carrier_code="YUNDA")
    by_id = dict(zip(ids, results, strict=True))
    assert [by_id[o.pk].order_id for o in good] == [o.pk for o in good]
    assert by_id[unpaid.pk].details["reason"] == "not_allowed_in_status"
    assert by_id[held.pk].details["reason"] == "on_hold"
    assert by_id[foreign.pk].code == "not_found"
    for order in good:
        order.refresh_from_db()
        assert order.native_status == "WAIT_BUYER_CONFIRM_GOODS"
        package = order.packages.get()
        event = order.events.filter(action="ship").get()
        assert event.data["tracking_number"] == package.tracking_number
        assert TrackingNumber.objects.get(number=package.tracking_number).status == (
            NumberStatus.USED
        )
    stats = pool_stats(pool)
    assert (stats.used, stats.reserved, stats.available) == (3, 0, 17)
    assert not Package.objects.filter(order__in=[unpaid, held, foreign]).exists()


def test_a_batch_with_typed_numbers_refuses_a_reused_one(carrier, shop, orders):
    first, second, third = orders(3)
    actor = warehouse(shop.organisation)
    ship(first.pk, actor=actor, carrier_code="YUNDA", tracking_number="YD1")
    results = ship_batch(
        [second.pk, third.pk],
        actor=actor,
        carrier_code="YUNDA",
        allocate=False,
        tracking_numbers={second.pk: "YD1", third.pk: "YD2"},
    )
    assert isinstance(results[0], TrackingNumberTaken)
    assert results[0].details["orders"] == {"YD1": first.pk}
    assert results[1].tracking_number == "YD2"
    second.refresh_from_db()
    assert second.native_status == "WAIT_SELLER_SEND_GOODS"
    assert not second.packages.exists()


def test_a_batch_larger_than_the_pool_refuses_each_and_reserves_nothing(
    carrier, shop, orders
):
    batch = orders(3)
    pool = make_pool(shop.organisation, carrier, count=2)
    results = ship_batch(
        [o.pk for o in batch], actor=warehouse(shop.organisation), carrier_code="YUNDA"
    )
    assert {r.code for r in results} == {"pool_exhausted"}
    assert pool_stats(pool).available == 2
    assert not Package.objects.exists()


def _count_batch_queries(shop, carrier, orders, n: int, prefix: str) -> int:
    batch = orders(n)
    make_pool(shop.organisation, carrier, count=n, prefix=prefix)
    actor = warehouse(shop.organisation)
    ids = [o.pk for o in batch]
    with CaptureQueriesContext(connection) as queries:
        results = ship_batch(ids, actor=actor, carrier_code="YUNDA")
    assert all(isinstance(r, Package) for r in results), results
    return len(queries)


def test_a_batch_runs_a_bounded_number_of_queries(carrier, shop, orders):
    small = _count_batch_queries(shop, carrier, orders, 10, "A")
    large = _count_batch_queries(shop, carrier, orders, 100, "B")
    assert small == large
    assert large <= 40
