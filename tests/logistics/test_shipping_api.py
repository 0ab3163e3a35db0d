"""Shipping over the API and on the dashboard: ship, batch ship, packages, roles."""

import pytest
from django.urls import reverse

from integrations.models import Scope
from logistics.models import NumberStatus, Package, TrackingNumber
from logistics.selectors import pool_stats
from logistics.services import pool_create_from_range
from orders.choices import Role
from orders.models import Order
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(organisation):
    return key_client(organisation)


@pytest.fixture
def pool(organisation, carrier):
    return pool_create_from_range(
        organisation=organisation,
        carrier=carrier,
        prefix="YD",
        start=1,
        end=10,
        width=8,
        price="0.80",
        currency="CNY",
        expires_at=None,
        name="Yunda batch",
    )


def snapshot(order) -> tuple:
    order.refresh_from_db()
    return (
        order.native_status,
        order.version,
        Package.objects.filter(order=order).count(),
        TrackingNumber.objects.filter(order=order).count(),
        order.events.count(),
    )


def test_ship_with_a_scanned_number(api, carrier, shop):
    carrier.tracking_url_template = "https://track.example/?n={number}"
    carrier.save()
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    response = api.post(
        f"/api/v1/orders/{order.pk}/ship/",
        {"carrier": "YUNDA", "tracking_number": "YD100"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["package"]["tracking_number"] == "YD100"
    assert body["package"]["tracking_url"] == "https://track.example/?n=YD100"
    assert body["package"]["platform_sync_status"] == "pending"
    assert body["order"]["native_status"] == "WAIT_BUYER_CONFIRM_GOODS"
    listed = api.get(f"/api/v1/orders/{order.pk}/packages/").json()["results"]
    assert [p["tracking_number"] for p in listed] == ["YD100"]
    assert listed[0]["items"][0]["quantity"] == 2


def test_partial_shipment_from_a_pool(api, carrier, shop, pool):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    item = order.items.get()
    response = api.post(
        f"/api/v1/orders/{order.pk}/ship/",
        {
            "carrier": "YUNDA",
            "allocate": True,
            "items": [{"item": item.pk, "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["order"]["native_status"] == "SELLER_CONSIGNED_PART"
    assert response.json()["package"]["partial"] is True
    too_many = api.post(
        f"/api/v1/orders/{order.pk}/ship/",
        {
            "carrier": "YUNDA",
            "allocate": True,
            "items": [{"item": item.pk, "quantity": 2}],
        },
        format="json",
    )
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "invalid_input"
    assert too_many.json()["error"]["details"]["item"] == item.pk
    assert pool_stats(pool).used == 1


def test_a_reused_number_is_409_with_the_owning_order_and_nothing_changes(
    api, carrier, shop
):
    first, second = (make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2))
    assert (
        api.post(
            f"/api/v1/orders/{first.pk}/ship/",
            {"carrier": "YUNDA", "tracking_number": "YD555"},
            format="json",
        ).status_code
        == 201
    )
    before = snapshot(second)
    response = api.post(
        f"/api/v1/orders/{second.pk}/ship/",
        {"carrier": "YUNDA", "tracking_number": "YD555"},
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "tracking_number_taken"
    assert error["details"]["orders"] == {"YD555": first.pk}
    assert snapshot(second) == before


def test_a_refused_order_answers_409_with_the_reason(api, carrier, shop, pool):
    order = make_order(shop, "PAID_FORBID_CONSIGN")
    before = snapshot(order)
    response = api.post(
        f"/api/v1/orders/{order.pk}/ship/",
        {"carrier": "YUNDA", "allocate": True},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert response.json()["error"]["details"]["status"] == "PAID_FORBID_CONSIGN"
    assert snapshot(order) == before
    assert pool_stats(pool).available == 10


def test_bad_input_is_400(api, carrier, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    for body in (
        {"carrier": "YUNDA"},
        {"carrier": "YUNDA", "tracking_number": "YD1", "allocate": True},
        {"carrier": "NOPE", "tracking_number": "YD1"},
        {"carrier": "YUNDA", "tracking_number": "YD-1 !"},
    ):
        response = api.post(f"/api/v1/orders/{order.pk}/ship/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert snapshot(order)[2] == 0


def test_ship_needs_the_logistics_scope(carrier, shop, organisation):
    client = key_client(organisation, scopes=[Scope.ORDERS_READ, Scope.ORDERS_WRITE])
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    response = client.post(
        f"/api/v1/orders/{order.pk}/ship/",
        {"carrier": "YUNDA", "tracking_number": "YD1"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "missing_scope"


def test_another_organisations_order_is_404(carrier, shop, pool):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    stranger = key_client(ShopFactory().organisation)
    before = snapshot(order)
    for call in (
        lambda: stranger.post(
            f"/api/v1/orders/{order.pk}/ship/",
            {"carrier": "YUNDA", "allocate": True},
            format="json",
        ),
        lambda: stranger.get(f"/api/v1/orders/{order.pk}/packages/"),
    ):
        response = call()
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    batch = stranger.post(
        "/api/v1/orders/batch/ship/",
        {"ids": [order.pk], "carrier": "YUNDA", "allocate": True},
        format="json",
    )
    assert batch.json()["results"][0]["error"]["code"] == "not_found"
    assert snapshot(order) == before
    assert pool_stats(pool).available == 10


def test_batch_ship_ships_the_others_and_lists_the_refused(api, carrier, shop, pool):
    good = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]
    unpaid = make_order(shop, "WAIT_BUYER_PAY")
    ids = [good[0].pk, unpaid.pk, good[1].pk]
    response = api.post(
        "/api/v1/orders/batch/ship/",
        {"ids": ids, "carrier": "YUNDA", "allocate": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ok"], body["failed"]) == (2, 1)
    assert [r["id"] for r in body["results"]] == ids
    refused = body["results"][1]
    assert refused["ok"] is False
    assert refused["error"]["code"] == "invalid_transition"
    assert refused["error"]["details"]["reason"] == "not_allowed_in_status"
    assert Order.objects.get(pk=good[0].pk).native_status == "WAIT_BUYER_CONFIRM_GOODS"
    assert pool_stats(pool).used == 2


def test_batch_ship_with_numbers_per_order(api, carrier, shop):
    orders = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]
    response = api.post(
        "/api/v1/orders/batch/ship/",
        {
            "ids": [o.pk for o in orders],
            "carrier": "YUNDA",
            "tracking_numbers": [
                {"id": orders[0].pk, "tracking_number": "YD1"},
                {"id": orders[1].pk, "tracking_number": "YD1"},
            ],
        },
        format="json",
    )
    results = response.json()["results"]
    assert {r["error"]["code"] for r in results} == {"tracking_number_taken"}
    assert not Package.objects.exists()


def test_the_other_batch_actions_still_route(api, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    response = api.post(
        "/api/v1/orders/batch/memo/", {"ids": [order.pk], "memo": "x"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["ok"] == 1


# --- dashboard ----------------------------------------------------------------------------


def member_client(client, organisation, role):
    membership = MembershipFactory(organisation=organisation, role=role)
    client.force_login(membership.user)
    return client


def test_warehouse_ships_from_the_order_page(client, carrier, shop, organisation):
    carrier.tracking_url_template = "https://track.example/{number}"
    carrier.save()
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    member_client(client, organisation, Role.WAREHOUSE)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'id="ship-form"' in page
    response = client.post(
        reverse("logistics:ship", args=[order.pk]),
        {"carrier": "YUNDA", "tracking_number": "YD4242", "version": order.version},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="https://track.example/YD4242"' in page
    order.refresh_from_db()
    assert order.native_status == "WAIT_BUYER_CONFIRM_GOODS"


def test_a_dashboard_refusal_shows_the_reason_and_changes_nothing(
    client, carrier, shop, organisation
):
    first, second = (make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2))
    member_client(client, organisation, Role.WAREHOUSE)
    client.post(
        reverse("logistics:ship", args=[first.pk]),
        {"carrier": "YUNDA", "tracking_number": "YD9"},
    )
    before = snapshot(second)
    response = client.post(
        reverse("logistics:ship", args=[second.pk]),
        {"carrier": "YUNDA", "tracking_number": "YD9"},
        follow=True,
    )
    assert f"#{first.pk}" in response.content.decode()
    assert snapshot(second) == before


def test_customer_service_may_not_ship(client, carrier, shop, organisation):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    member_client(client, organisation, Role.CUSTOMER_SERVICE)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'id="ship-form"' not in page
    response = client.post(
        reverse("logistics:ship", args=[order.pk]),
        {"carrier": "YUNDA", "tracking_number": "YD1"},
    )
    assert response.status_code == 403
    assert not Package.objects.exists()
    assert not TrackingNumber.objects.filter(status=NumberStatus.RESERVED).exists()


def test_another_organisations_order_is_404_on_the_dashboard(client, carrier, shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    member_client(client, ShopFactory().organisation, Role.WAREHOUSE)
    response = client.post(
        reverse("logistics:ship", args=[order.pk]),
        {"carrier": "YUNDA", "tracking_number": "YD1"},
    )
    assert response.status_code == 404
    assert not Package.objects.exists()


def test_batch_ship_refuses_a_bad_number_for_that_order_only(api, carrier, shop):
    """A malformed number is the error of its order (issue 11, failure 8)."""
    orders = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(3)]
    response = api.post(
        "/api/v1/orders/batch/ship/",
        {
            "ids": [o.pk for o in orders],
            "carrier": "YUNDA",
            "tracking_numbers": [
                {"id": orders[0].pk, "tracking_number": "Y" * 41},
                {"id": orders[1].pk, "tracking_number": "YD-1 2"},
                {"id": orders[2].pk, "tracking_number": "YD0000000009"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert [r["ok"] for r in body["results"]] == [False, False, True]
    assert [r.get("error", {}).get("code") for r in body["results"][:2]] == [
        "invalid_input",
        "invalid_input",
    ]
    assert Package.objects.get().tracking_number == "YD0000000009"
