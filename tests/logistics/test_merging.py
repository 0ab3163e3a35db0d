"""Merge and split (X5): one parcel for several orders, several parcels for one order."""

import pytest
from django.utils import timezone

from integrations.models import Scope
from logistics import merging, print_batches, tracking
from logistics.errors import (
    AlreadyPrinted,
    MergeMismatch,
    NotAwaitingShipment,
    OrderMerged,
    OrderSplit,
)
from logistics.models import (
    MergeGroup,
    MergeGroupOrder,
    NumberStatus,
    Package,
    PackageItem,
    PlannedPackage,
    TrackingNumber,
)
from logistics.services import pool_create_from_range
from logistics.shipping import remaining_quantities, ship, ship_batch
from oms.core.errors import PermissionDenied, ValidationFailed
from orders.choices import Role, Stage
from orders.models import Order, OrderItem
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Pages in English (the default language is Simplified Chinese)."""
    settings.LANGUAGE_CODE = "en"


WAITING = "WAIT_SELLER_SEND_GOODS"
TWO_ITEMS = [
    {
        "sku": "SKU-A",
        "title": "Mug",
        "spec": "",
        "quantity": 2,
        "unit_price": "10.00",
        "discount": "0",
    },
    {
        "sku": "SKU-B",
        "title": "Plate",
        "spec": "",
        "quantity": 1,
        "unit_price": "20.00",
        "discount": "0",
    },
]


@pytest.fixture
def operator(organisation):
    return MembershipFactory(organisation=organisation, role=Role.OPERATOR)


@pytest.fixture
def actor(operator):
    return Actor.member(operator)


@pytest.fixture
def pool(organisation, carrier):
    return pool_create_from_range(
        organisation=organisation,
        carrier=carrier,
        prefix="YD",
        start=1,
        end=20,
        width=6,
        price="0.80",
        currency="CNY",
        expires_at=None,
        name="Yunda",
    )


def timeline(order, action):
    return list(order.events.filter(action=action).values_list("type", flat=True))


def nothing_merged():
    return not MergeGroup.objects.exists() and not MergeGroupOrder.objects.exists()


# --- merge --------------------------------------------------------------------------------


def test_merged_orders_ship_in_one_parcel_under_one_number(
    organisation, carrier, orders, actor, pool
):
    first, second = orders(2)
    group = merging.merge_orders(order_ids=[second.pk, first.pk], actor=actor)
    assert sorted(group.members.values_list("order_id", flat=True)) == [
        first.pk,
        second.pk,
    ]
    for order in (first, second):
        assert timeline(order, "merge") == [merging.MERGED]

    package = ship(second.pk, actor=actor, carrier_code=carrier.code, allocate=True)

    assert Package.objects.count() == 1
    assert package.order_id == first.pk  # the first order leads the parcel
    assert sorted(
        PackageItem.objects.filter(package=package).values_list(
            "order_item__order_id", flat=True
        )
    ) == [first.pk, second.pk]
    for order in Order.objects.filter(pk__in=[first.pk, second.pk]):
        assert order.stage == Stage.SHIPPED
        event = order.events.get(action="ship")
        assert event.data["tracking_number"] == package.tracking_number
        assert event.data["merge_group"] == group.pk
    assert remaining_quantities([first.pk, second.pk]) == {
        first.pk: [(first.items.get(), 0)],
        second.pk: [(second.items.get(), 0)],
    }
    used = TrackingNumber.objects.get(status=NumberStatus.USED)
    assert used.number == package.tracking_number
    assert used.order_id == first.pk
    assert TrackingNumber.objects.filter(status=NumberStatus.RESERVED).count() == 0


def test_printing_a_merged_group_makes_one_label(
    organisation, carrier, orders, actor, pool
):
    first, second, alone = orders(3)
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    batch, pdf = print_batches.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[first.pk, alone.pk, second.pk],
        carrier_code=carrier.code,
    )
    assert pdf is not None
    assert batch.failures == []
    assert batch.label_count == 2
    assert TrackingNumber.objects.filter(status=NumberStatus.USED).count() == 2
    entries = print_batches.entries_of(batch)
    assert [entry.package.order_id for entry in entries] == [first.pk, alone.pk]
    assert Order.objects.filter(stage=Stage.SHIPPED).count() == 3

    # Printed again, the group's parcel is one reprinted label, found from either order.
    again, _pdf = print_batches.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[second.pk],
        carrier_code=carrier.code,
    )
    assert again.label_count == 1
    assert again.reprinted_labels == 1
    assert print_batches.entries_of(again)[0].package == entries[0].package


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"buyer": {"nick": "someone_else", "name": "李四", "phone": "1", "email": ""}},
         "different_buyer"),
        ({"address": {"country": "CN", "province": "浙江省", "city": "杭州市",
                      "district": "西湖区", "street": "文三路 200 号",
                      "postcode": "310000"}},
         "different_address"),
    ],
)  # fmt: skip
def test_merge_refuses_another_buyer_or_address(shop, orders, actor, change, reason):
    (first,) = orders(1)
    other = make_order(shop, WAITING, **change)
    with pytest.raises(MergeMismatch) as refused:
        merging.merge_orders(order_ids=[first.pk, other.pk], actor=actor)
    assert refused.value.http_status == 409
    assert refused.value.details["reason"] == reason
    assert refused.value.details["orders"] == [other.pk]
    assert nothing_merged()
    assert timeline(first, "merge") == []


def test_merge_refuses_another_shop_and_orders_not_awaiting_shipment(
    organisation, shop, orders, actor
):
    (first,) = orders(1)
    sister = make_order(ShopFactory(organisation=organisation), WAITING)
    with pytest.raises(MergeMismatch) as refused:
        merging.merge_orders(order_ids=[first.pk, sister.pk], actor=actor)
    assert refused.value.details["reason"] == "different_shop"

    unpaid = make_order(shop, "WAIT_BUYER_PAY")
    with pytest.raises(NotAwaitingShipment) as refused:
        merging.merge_orders(order_ids=[first.pk, unpaid.pk], actor=actor)
    assert refused.value.http_status == 409
    assert refused.value.details["orders"] == [unpaid.pk]

    with pytest.raises(ValidationFailed):
        merging.merge_orders(order_ids=[first.pk], actor=actor)
    assert nothing_merged()


def test_merge_refuses_printed_and_already_merged_orders(
    organisation, carrier, orders, actor
):
    first, second, third, printed = orders(4)
    ship(printed.pk, actor=actor, carrier_code=carrier.code, tracking_number="YD77")
    # Shipping moved it on; even a parcel alone refuses (a label exists).
    with pytest.raises((AlreadyPrinted, NotAwaitingShipment)):
        merging.merge_orders(order_ids=[first.pk, printed.pk], actor=actor)
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    with pytest.raises(OrderMerged) as refused:
        merging.merge_orders(order_ids=[second.pk, third.pk], actor=actor)
    assert refused.value.details["orders"] == [second.pk]
    assert MergeGroup.objects.count() == 1


def test_undo_until_printed(organisation, carrier, orders, actor, pool):
    first, second = orders(2)
    group = merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    assert merging.undo_merge(group_id=group.pk, actor=actor) == [first.pk, second.pk]
    assert nothing_merged()
    for order in (first, second):
        assert timeline(order, "merge_undone") == [merging.MERGED]

    group = merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    print_batches.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[first.pk],
        carrier_code=carrier.code,
    )
    with pytest.raises(AlreadyPrinted):
        merging.undo_merge(group_id=group.pk, actor=actor)
    assert MergeGroupOrder.objects.filter(group=group).count() == 2
    assert timeline(first, "merge_undone") == [merging.MERGED]  # only the first undo


def test_a_merged_order_is_not_shipped_alone(carrier, orders, actor):
    first, second = orders(2)
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    item = first.items.get()
    with pytest.raises(OrderMerged):
        ship(
            first.pk,
            actor=actor,
            carrier_code=carrier.code,
            tracking_number="YD55",
            items=[{"item": item.pk, "quantity": 1}],
        )
    (outcome,) = ship_batch(
        [first.pk], actor=actor, carrier_code=carrier.code, allocate=False,
        tracking_numbers={first.pk: "YD56"},
    )  # fmt: skip
    assert isinstance(outcome, OrderMerged)
    assert not Package.objects.exists()
    assert not TrackingNumber.objects.exists()


def test_warehouse_staff_may_not_merge(organisation, orders):
    first, second = orders(2)
    packer = MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    with pytest.raises(PermissionDenied):
        merging.merge_orders(
            order_ids=[first.pk, second.pk], actor=Actor.member(packer)
        )
    assert nothing_merged()


def test_a_delivered_merged_parcel_delivers_every_order(
    organisation, carrier, orders, actor
):
    first, second = orders(2)
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    package = ship(
        first.pk, actor=actor, carrier_code=carrier.code, tracking_number="YD9"
    )
    results = tracking.ingest_tracking_events(
        organisation=organisation,
        events=[
            {
                "carrier": carrier.code,
                "tracking_number": "YD9",
                "occurred_at": timezone.now().isoformat(),
                "code": "delivery_failed",
                "description": "nobody home",
            }
        ],
    )
    assert results[0]["outcome"] == "created"
    assert results[0]["package"] == package.pk
    assert set(
        Order.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "delivery_failed", flat=True
        )
    ) == {True}


# --- split --------------------------------------------------------------------------------


def two_item_order(shop):
    return make_order(shop, WAITING, items=TWO_ITEMS, total="48.00")


def test_a_split_order_prints_one_label_per_planned_package(
    organisation, shop, carrier, actor, pool
):
    order = two_item_order(shop)
    mug, plate = OrderItem.objects.filter(order=order).order_by("id")
    planned = merging.split_order(
        order_id=order.pk,
        actor=actor,
        packages=[
            [{"item": mug.pk, "quantity": 1}],
            [{"item": mug.pk, "quantity": 1}, {"item": plate.pk, "quantity": 1}],
        ],
    )
    assert [p.sequence for p in planned] == [1, 2]
    assert timeline(order, "split") == [merging.SPLIT]
    with pytest.raises(
        OrderSplit
    ):  # the whole order in one parcel would break the plan
        ship(order.pk, actor=actor, carrier_code=carrier.code, allocate=True)

    batch, _pdf = print_batches.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[order.pk],
        carrier_code=carrier.code,
    )
    assert batch.failures == []
    assert batch.label_count == 2
    packages = list(Package.objects.filter(order=order).order_by("id"))
    assert len({p.tracking_number for p in packages}) == 2
    assert [
        sorted(p.items.values_list("order_item__sku", "quantity")) for p in packages
    ] == [[("SKU-A", 1)], [("SKU-A", 1), ("SKU-B", 1)]]
    order.refresh_from_db()
    assert order.stage == Stage.SHIPPED
    with pytest.raises(AlreadyPrinted):
        merging.undo_split(order_id=order.pk, actor=actor)


def test_a_split_must_hold_exactly_the_order(shop, actor):
    order = two_item_order(shop)
    mug, plate = OrderItem.objects.filter(order=order).order_by("id")
    with pytest.raises(ValidationFailed) as refused:
        merging.split_order(
            order_id=order.pk,
            actor=actor,
            packages=[
                [{"item": mug.pk, "quantity": 2}],
                [{"item": mug.pk, "quantity": 1}],
            ],
        )
    assert refused.value.details["items"] == {
        str(mug.pk): {"ordered": 2, "planned": 3},
        str(plate.pk): {"ordered": 1, "planned": 0},
    }
    with pytest.raises(ValidationFailed):
        merging.split_order(
            order_id=order.pk, actor=actor, packages=[[{"item": mug.pk, "quantity": 2}]]
        )
    assert not PlannedPackage.objects.exists()


def test_split_undo_and_refusals(shop, orders, actor):
    order = two_item_order(shop)
    mug, plate = OrderItem.objects.filter(order=order).order_by("id")
    plan = [[{"item": mug.pk, "quantity": 2}], [{"item": plate.pk, "quantity": 1}]]
    merging.split_order(order_id=order.pk, actor=actor, packages=plan)
    merging.undo_split(order_id=order.pk, actor=actor)
    assert not PlannedPackage.objects.exists()
    assert timeline(order, "split_undone") == [merging.SPLIT]

    unpaid = make_order(shop, "WAIT_BUYER_PAY", items=TWO_ITEMS, total="48.00")
    items = list(OrderItem.objects.filter(order=unpaid).order_by("id"))
    with pytest.raises(NotAwaitingShipment):
        merging.split_order(
            order_id=unpaid.pk,
            actor=actor,
            packages=[[{"item": items[0].pk, "quantity": 2}],
                      [{"item": items[1].pk, "quantity": 1}]],
        )  # fmt: skip
    first, second = orders(2)
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    item = first.items.get()
    with pytest.raises(OrderMerged):
        merging.split_order(
            order_id=first.pk,
            actor=actor,
            packages=[[{"item": item.pk, "quantity": 1}]] * 2,
        )
    assert not PlannedPackage.objects.exists()


# --- API and dashboard ----------------------------------------------------------------------


def test_api_merge_undo_and_split(organisation, shop, orders):
    first, second = orders(2)
    api = key_client(organisation, scopes=[Scope.LOGISTICS_WRITE, Scope.ORDERS_READ])
    response = api.post(
        "/api/v1/merge-groups/", {"order_ids": [first.pk, second.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    group = response.json()
    assert group["orders"] == [first.pk, second.pk]
    assert group["shop"] == shop.pk

    again = api.post(
        "/api/v1/merge-groups/", {"order_ids": [first.pk, second.pk]}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_merged"

    undone = api.post(f"/api/v1/orders/{second.pk}/merge/undo/", format="json")
    assert undone.status_code == 200
    assert undone.json() == {"orders": [first.pk, second.pk]}
    assert api.post(f"/api/v1/orders/{second.pk}/merge/undo/").status_code == 404

    other = make_order(
        shop, WAITING, buyer={"nick": "x", "name": "y", "phone": "", "email": ""}
    )
    mismatch = api.post(
        "/api/v1/merge-groups/", {"order_ids": [first.pk, other.pk]}, format="json"
    )
    assert mismatch.status_code == 409
    assert mismatch.json()["error"]["code"] == "merge_mismatch"
    assert mismatch.json()["error"]["details"]["reason"] == "different_buyer"

    order = two_item_order(shop)
    mug, plate = OrderItem.objects.filter(order=order).order_by("id")
    split = api.post(
        f"/api/v1/orders/{order.pk}/split/",
        {
            "packages": [
                [{"item": mug.pk, "quantity": 2}],
                [{"item": plate.pk, "quantity": 1}],
            ]
        },
        format="json",
    )
    assert split.status_code == 201, split.content
    assert split.json() == {
        "order": order.pk,
        "packages": [
            {"sequence": 1, "items": [{"item": mug.pk, "quantity": 2}]},
            {"sequence": 2, "items": [{"item": plate.pk, "quantity": 1}]},
        ],
    }
    bad = api.post(
        f"/api/v1/orders/{order.pk}/split/",
        {
            "packages": [
                [{"item": mug.pk, "quantity": 1}],
                [{"item": plate.pk, "quantity": 1}],
            ]
        },
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_input"
    assert api.post(f"/api/v1/orders/{order.pk}/split/undo/").status_code == 200
    assert not PlannedPackage.objects.exists()


def test_api_scope_and_isolation(organisation, orders):
    first, second = orders(2)
    reader = key_client(organisation, scopes=[Scope.ORDERS_READ])
    response = reader.post(
        "/api/v1/merge-groups/", {"order_ids": [first.pk, second.pk]}, format="json"
    )
    assert response.status_code == 403
    stranger_shop = ShopFactory(platform="taobao")
    stranger = key_client(stranger_shop.organisation)
    response = stranger.post(
        "/api/v1/merge-groups/", {"order_ids": [first.pk, second.pk]}, format="json"
    )
    assert response.status_code == 404
    assert nothing_merged()


def test_queue_merge_action(client, organisation, orders, operator):
    first, second = orders(2)
    client.force_login(operator.user)
    html = client.get("/warehouse/to-ship/").content.decode()
    assert 'id="merge-selected"' in html
    response = client.post("/warehouse/merge/", {"ids": [first.pk, second.pk]})
    assert response.status_code == 302
    group = MergeGroup.objects.get()
    html = client.get("/warehouse/to-ship/").content.decode()
    assert html.count(f'data-merge-group="{group.pk}"') == 2
    # The order page names the other order and offers the undo.
    page = client.get(f"/orders/{first.pk}/").content.decode()
    assert 'id="merge-info"' in page
    assert second.platform_order_id in page
    response = client.post(
        f"/warehouse/merge/{group.pk}/undo/", {"next": f"/orders/{first.pk}/"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{first.pk}/"
    assert nothing_merged()


def test_queue_merge_refusal_is_shown_and_packers_may_not_merge(
    client, organisation, shop, orders, operator
):
    (first,) = orders(1)
    other = make_order(
        shop, WAITING, buyer={"nick": "x", "name": "y", "phone": "", "email": ""}
    )
    client.force_login(operator.user)
    response = client.post(
        "/warehouse/merge/", {"ids": [first.pk, other.pk]}, follow=True
    )
    assert "different buyers" in response.content.decode()
    packer = MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    client.force_login(packer.user)
    assert (
        'id="merge-selected"' not in client.get("/warehouse/to-ship/").content.decode()
    )
    assert (
        client.post("/warehouse/merge/", {"ids": [first.pk, other.pk]}).status_code
        == 403
    )
    assert nothing_merged()


def test_scanning_a_merged_tiktok_parcel_collects_every_order(
    organisation, carrier, pool
):
    shop = ShopFactory(platform="tiktok", organisation=organisation)
    actor = Actor.member(MembershipFactory(organisation=organisation, role=Role.OWNER))
    first, second = (make_order(shop, "AWAITING_SHIPMENT") for _ in range(2))
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    batch, _pdf = print_batches.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[first.pk, second.pk],
        carrier_code=carrier.code,
    )
    assert batch.label_count == 1
    assert set(Order.objects.values_list("native_status", flat=True)) == {
        "AWAITING_COLLECTION"
    }
    package = print_batches.entries_of(batch)[0].package
    result = print_batches.scan(
        organisation=organisation,
        actor=actor,
        batch=batch,
        tracking_number=package.tracking_number,
    )
    assert result.outcome == print_batches.OK
    assert set(Order.objects.values_list("native_status", flat=True)) == {"IN_TRANSIT"}
