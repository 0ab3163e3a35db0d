"""POST /api/v1/orders/bulk-upsert/: per-order results, idempotent, nothing half-applied."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Scope
from orders.choices import EventType
from orders.models import Order, OrderEvent, OrderItem
from tests.api.conftest import key_client
from tests.conftest import requires_postgres
from tests.factories import ShopFactory, make_order, order_payload

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/bulk-upsert/"


def upsert(client, orders):
    return client.post(URL, {"orders": orders}, format="json")


def with_shop(shop, status="AWAITING_SHIPMENT", **overrides):
    return {"shop": shop.pk, **order_payload(shop, status, **overrides)}


def test_mixed_orders_get_one_result_each(api, shop):
    foreign = ShopFactory(platform="tiktok")
    orders = [
        with_shop(shop),
        with_shop(shop, currency="??"),
        with_shop(foreign),
        "not an order",
        {k: v for k, v in with_shop(shop).items() if k != "shop"},
        with_shop(shop, native_status="TELEPORTED"),
        with_shop(shop, "UNPAID"),
    ]
    response = upsert(api, orders)
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["failed"]) == (2, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["ok"] for r in results] == [True, False, False, False, False, False, True]
    created = Order.objects.get(pk=results[0]["id"])
    assert results[0]["outcome"] == "created"
    assert created.platform_order_id == orders[0]["platform_order_id"]
    assert created.native_status == "AWAITING_SHIPMENT"
    assert results[1]["error"]["code"] == "invalid_input"
    assert "currency" in results[1]["error"]["details"]["fields"]
    assert results[2]["error"] == {
        "code": "not_found",
        "message": "No such shop.",
        "details": {"shop": foreign.pk},
    }
    assert results[3]["error"]["code"] == "invalid_input"
    assert results[4]["error"]["details"] == {"fields": {"shop": "required"}}
    assert "native_status" in results[5]["error"]["details"]["fields"]
    assert results[6]["outcome"] == "created"
    # Only the two good orders exist; the foreign shop got nothing.
    assert Order.objects.count() == 2
    assert not Order.objects.filter(shop=foreign).exists()
    created_event = created.events.get()
    assert (created_event.type, created_event.actor_kind) == (
        EventType.CREATED,
        "api_client",
    )


def test_the_same_body_twice_is_unchanged_the_second_time(api, shop):
    orders = [with_shop(shop), with_shop(shop, "UNPAID"), with_shop(shop, "IN_TRANSIT")]
    first = upsert(api, orders).json()
    assert [r["outcome"] for r in first["results"]] == ["created"] * 3
    events = OrderEvent.objects.count()
    second = upsert(api, orders).json()
    assert [r["outcome"] for r in second["results"]] == ["unchanged"] * 3
    assert [r["id"] for r in second["results"]] == [r["id"] for r in first["results"]]
    assert (second["ok"], second["failed"]) == (3, 0)
    assert Order.objects.count() == 3
    assert OrderEvent.objects.count() == events


def test_newer_updates_apply_and_older_ones_are_stale(api, shop):
    now = timezone.now()
    order = make_order(shop, "UNPAID", platform_updated_at=now.isoformat())
    newer = with_shop(
        shop,
        platform_order_id=order.platform_order_id,
        platform_updated_at=(now + timedelta(minutes=1)).isoformat(),
    )
    older = with_shop(
        shop,
        "CANCELLED",
        platform_order_id=order.platform_order_id,
        platform_updated_at=(now - timedelta(minutes=1)).isoformat(),
    )
    results = upsert(api, [newer, older]).json()["results"]
    assert [(r["id"], r["outcome"]) for r in results] == [
        (order.pk, "updated"),
        (order.pk, "stale"),
    ]
    order.refresh_from_db()
    assert order.native_status == "AWAITING_SHIPMENT"


@pytest.mark.parametrize(
    "body",
    [
        {"orders": []},
        {"orders": "nope"},
        {"orders": {"shop": 1}},
        {"order": [{}]},
        [{"shop": 1}],
        "orders",
    ],
)
def test_a_body_without_one_to_500_orders_is_400(api, shop, body):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_501_orders_are_400_and_nothing_is_written(api, shop):
    orders = [with_shop(shop) for _ in range(501)]
    response = upsert(api, orders)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Order.objects.exists()


def test_500_orders_are_accepted(api, shop):
    body = upsert(api, [with_shop(shop) for _ in range(500)]).json()
    assert (body["ok"], body["failed"]) == (500, 0)


def test_malformed_json_is_400(api, shop):
    response = api.post(URL, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


@requires_postgres
def test_a_failing_order_is_not_half_applied_and_others_proceed(api, shop):
    """Database-level failures roll back that order's savepoint only."""
    existing = make_order(shop, "UNPAID")
    items_before = list(existing.items.values_list("sku", flat=True))
    update = with_shop(
        shop,
        platform_order_id=existing.platform_order_id,
        platform_updated_at=(timezone.now() + timedelta(minutes=1)).isoformat(),
        buyer={"name": "x" * 200},  # longer than the column: fails at save
        items=[
            {"sku": "SKU-1", "title": "T-shirt", "quantity": 2, "unit_price": "49.90"},
            {"sku": "NEW", "title": "Socks", "quantity": 1, "unit_price": "5"},
        ],
    )
    too_long_new = with_shop(shop, buyer={"name": "y" * 200})
    fine = with_shop(shop)
    body = upsert(api, [update, too_long_new, fine]).json()
    assert [r["ok"] for r in body["results"]] == [False, False, True]
    assert body["results"][0]["error"]["code"] == "invalid_input"
    assert "does not fit" in body["results"][1]["error"]["message"]
    existing.refresh_from_db()
    # The new item was written before the failing save: rolled back with it.
    assert list(existing.items.values_list("sku", flat=True)) == items_before
    assert (existing.native_status, existing.version) == ("UNPAID", 1)
    assert existing.events.count() == 1
    assert not Order.objects.filter(
        platform_order_id=too_long_new["platform_order_id"]
    ).exists()
    assert not OrderItem.objects.filter(order__isnull=True).exists()
    assert Order.objects.filter(platform_order_id=fine["platform_order_id"]).exists()


def test_a_key_limited_to_one_shop_cannot_upsert_into_another(shop):
    other = ShopFactory(organisation=shop.organisation, platform="tiktok")
    client = key_client(shop.organisation)
    client_key = shop.organisation.api_keys.get()
    client_key.shops.set([shop])
    results = upsert(client, [with_shop(shop), with_shop(other)]).json()["results"]
    assert results[0]["ok"] is True
    assert results[1]["error"]["code"] == "not_found"
    assert not Order.objects.filter(shop=other).exists()


def test_the_orders_write_scope_is_required(shop):
    client = key_client(shop.organisation, scopes=[Scope.ORDERS_READ])
    response = upsert(client, [with_shop(shop)])
    assert response.status_code == 403
    assert not Order.objects.exists()


def test_the_route_is_not_taken_by_the_order_detail(api, shop):
    assert api.get(URL).status_code == 405
