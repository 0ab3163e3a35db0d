"""Issue 11 failure 2: the warehouse API checks the same role permission as the pages,
and the same shop limits on every object that contains orders (a print batch, a merge
group …): a limited member or key gets 404 when any of its orders is another shop's.
"""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey, Scope
from logistics import merging
from logistics import print_batches as pb
from logistics.models import Package, PrintBatch, TrackingEvent
from orders.choices import Role
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.logistics.test_shipping import make_pool

pytestmark = pytest.mark.django_db


def member_client(organisation, role, shops=()) -> APIClient:
    membership = MembershipFactory(organisation=organisation, role=role)
    membership.shops.set(shops)
    client = APIClient()
    client.force_login(membership.user)
    return client


@pytest.fixture
def two_shops(organisation):
    other = ShopFactory(organisation=organisation, platform="taobao")
    return organisation.shops.exclude(pk=other.pk).get(), other


@pytest.fixture
def batch(organisation, carrier, two_shops):
    """A batch printed by the owner with one order of each shop."""
    make_pool(organisation, carrier, count=20)
    mine, other = two_shops
    orders = [make_order(mine, "WAIT_SELLER_SEND_GOODS"),
              make_order(other, "WAIT_SELLER_SEND_GOODS")]  # fmt: skip
    owner = MembershipFactory(organisation=organisation, role=Role.OWNER)
    batch, _ = pb.print_labels(
        organisation=organisation, actor=Actor.member(owner),
        order_ids=[o.pk for o in orders], carrier_code=carrier.code,
    )  # fmt: skip
    assert batch.label_count == 2
    return batch


def urls(batch_id: int) -> list[tuple[str, str]]:
    base = f"/api/v1/print-batches/{batch_id}/"
    return [
        ("get", base),
        ("get", base + "labels.pdf"),
        ("get", base + "packing-slips.pdf"),
        ("get", base + "pick-list.pdf"),
        ("post", base + "reprint/"),
        ("post", base + "scan/"),
    ]


def snapshot(batch) -> tuple:
    batch.refresh_from_db()
    return (
        batch.times_printed,
        list(
            Package.objects.order_by("pk").values_list("pk", "status", "handed_over_at")
        ),
        PrintBatch.objects.count(),
        TrackingEvent.objects.count(),
    )


def scan_body(batch) -> dict:
    return {"tracking_number": pb.entries_of(batch)[0].package.tracking_number}


def test_customer_service_may_not_print_reprint_scan_or_track(
    organisation, batch, two_shops, carrier
):
    service = member_client(organisation, Role.CUSTOMER_SERVICE)
    before = snapshot(batch)
    for method, url in urls(batch.pk):
        response = getattr(service, method)(url, scan_body(batch), format="json")
        assert response.status_code == 403, (url, response.status_code)
        assert response.json()["error"]["code"] == "permission_denied", url
    order = make_order(two_shops[0], "WAIT_SELLER_SEND_GOODS")
    response = service.post(
        "/api/v1/print-batches/",
        {"order_ids": [order.pk], "carrier": carrier.code}, format="json",
    )  # fmt: skip
    assert response.status_code == 403
    number = pb.entries_of(batch)[0].package.tracking_number
    response = service.post(
        "/api/v1/tracking-events/",
        {"events": [{"carrier": carrier.code, "tracking_number": number,
                     "occurred_at": timezone.now().isoformat(), "code": "delivered"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 403
    assert snapshot(batch) == before


@pytest.mark.parametrize("who", ["member", "key"])
def test_a_shop_limited_caller_never_reaches_a_batch_with_another_shops_order(
    organisation, batch, two_shops, who
):
    mine, _other = two_shops
    if who == "member":
        client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    else:
        client = key_client(organisation, scopes=list(Scope.values))
        ApiKey.objects.get().shops.set([mine])
    before = snapshot(batch)
    for method, url in urls(batch.pk):
        response = getattr(client, method)(url, scan_body(batch), format="json")
        assert response.status_code == 404, (url, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
    assert snapshot(batch) == before


def test_a_shop_limited_member_sees_the_batch_of_its_own_shop(
    organisation, carrier, two_shops
):
    mine, _ = two_shops
    make_pool(organisation, carrier, count=5)
    order = make_order(mine, "WAIT_SELLER_SEND_GOODS")
    client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    created = client.post(
        "/api/v1/print-batches/", {"order_ids": [order.pk], "carrier": carrier.code},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    assert client.get(f"/api/v1/print-batches/{batch_id}/labels.pdf").status_code == 200


def test_the_dashboard_hides_a_batch_with_another_shops_order(
    organisation, batch, two_shops
):
    mine, _ = two_shops
    client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    assert client.get(f"/warehouse/batches/{batch.pk}/").status_code == 404
    assert client.get(f"/warehouse/batches/{batch.pk}/labels.pdf").status_code == 404
    page = client.get("/warehouse/print/")
    assert page.status_code == 200
    assert batch not in list(page.context["batches"])


def test_a_shop_limited_member_may_not_undo_a_merge_group_of_another_shop(
    organisation, two_shops
):
    _mine, other = two_shops
    orders = [make_order(other, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]
    owner = MembershipFactory(organisation=organisation, role=Role.OWNER)
    group = merging.merge_orders(
        order_ids=[o.pk for o in orders], actor=Actor.member(owner)
    )
    client = member_client(organisation, Role.OPERATOR, shops=[_mine])
    response = client.post(f"/api/v1/orders/{orders[0].pk}/merge/undo/", format="json")
    assert response.status_code == 404
    assert merging.group_orders(orders[0].pk)[0] == group.pk


def test_a_shop_limited_member_cannot_track_or_scan_another_shops_parcel(
    organisation, carrier, batch, two_shops
):
    mine, other = two_shops
    theirs = Package.objects.get(order__shop=other)
    own = make_order(mine, "WAIT_SELLER_SEND_GOODS")
    client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    response = client.post(
        "/api/v1/tracking-events/",
        {"events": [{"carrier": carrier.code, "tracking_number": theirs.tracking_number,
                     "occurred_at": timezone.now().isoformat(), "code": "delivered"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "error"
    assert response.json()["results"][0]["error"]["code"] == "not_found"
    assert not TrackingEvent.objects.filter(package=theirs).exists()

    created = client.post(
        "/api/v1/print-batches/",
        {"order_ids": [own.pk], "carrier": carrier.code},
        format="json",
    )
    scanned = client.post(
        f"/api/v1/print-batches/{created.json()['id']}/scan/",
        {"tracking_number": theirs.tracking_number},
        format="json",
    )
    assert scanned.json() == {"outcome": "unknown"}


def test_a_batch_that_refused_another_shops_order_is_not_found_either(
    organisation, carrier, two_shops
):
    """The refusals list names orders and reasons: they count as the batch's orders."""
    mine, other = two_shops
    make_pool(organisation, carrier, count=5)
    unpaid = make_order(other, "WAIT_BUYER_PAY")
    shippable = make_order(mine, "WAIT_SELLER_SEND_GOODS")
    owner = MembershipFactory(organisation=organisation, role=Role.OWNER)
    batch, _ = pb.print_labels(
        organisation=organisation, actor=Actor.member(owner),
        order_ids=[shippable.pk, unpaid.pk], carrier_code=carrier.code,
    )  # fmt: skip
    assert [row["order_id"] for row in batch.failures] == [unpaid.pk]
    client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    assert client.get(f"/api/v1/print-batches/{batch.pk}/").status_code == 404
    assert client.get(f"/warehouse/batches/{batch.pk}/").status_code == 404
    unlimited = member_client(organisation, Role.WAREHOUSE)
    assert unlimited.get(f"/api/v1/print-batches/{batch.pk}/").status_code == 200


def test_a_shop_limited_member_may_not_undo_another_shops_merge_on_the_page(
    organisation, two_shops
):
    mine, other = two_shops
    orders = [make_order(other, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]
    owner = MembershipFactory(organisation=organisation, role=Role.OWNER)
    group = merging.merge_orders(
        order_ids=[o.pk for o in orders], actor=Actor.member(owner)
    )
    client = member_client(organisation, Role.OPERATOR, shops=[mine])
    assert client.post(f"/warehouse/merge/{group.pk}/undo/").status_code == 404
    assert merging.group_orders(orders[0].pk)[0] == group.pk


def test_a_shop_limited_member_still_opens_a_batch_that_refused_an_order_it_cannot_see(
    organisation, carrier, two_shops
):
    """A typed id of another shop's order is refused as not found: that reveals nothing,
    so the member's own batch stays theirs to open."""
    mine, other = two_shops
    make_pool(organisation, carrier, count=5)
    own = make_order(mine, "WAIT_SELLER_SEND_GOODS")
    theirs = make_order(other, "WAIT_SELLER_SEND_GOODS")
    client = member_client(organisation, Role.WAREHOUSE, shops=[mine])
    created = client.post(
        "/api/v1/print-batches/",
        {"order_ids": [own.pk, theirs.pk], "carrier": carrier.code},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["failures"] == [
        {"order_id": theirs.pk, "reason": body["failures"][0]["reason"]}
    ]
    assert not Package.objects.filter(order=theirs).exists()
    labels = client.get(f"/api/v1/print-batches/{body['id']}/labels.pdf")
    assert labels.status_code == 200
