"""The orders API: reading, filtering, actions, errors, versions, idempotency, limits."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations.models import ApiKey
from orders.choices import Role
from orders.models import Order
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


def error_code(response):
    return response.json()["error"]["code"]


def test_without_a_key_401_and_a_bad_key_401(shop):
    assert APIClient().get("/api/v1/orders/").status_code in (401, 403)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer oms_nothing_here")
    response = client.get("/api/v1/orders/")
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_a_revoked_key_is_refused(shop):
    client = key_client(shop.organisation)
    ApiKey.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert client.get("/api/v1/orders/").status_code == 401


def test_list_masks_phones_and_detail_shows_them(api, shop):
    order = make_order(shop, "AWAITING_SHIPMENT")
    listed = api.get("/api/v1/orders/").json()
    assert listed["next"] is None
    (row,) = listed["results"]
    assert row["buyer"]["phone"] == "138****5678"
    assert row["items"][0]["unit_price"] == "49.90"
    detail = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["buyer"]["phone"] == "13812345678"
    assert detail["native_status"] == "AWAITING_SHIPMENT"
    assert detail["native_status_label"] == "Awaiting shipment"
    assert "ship" in detail["allowed_actions"]
    assert "hold" in detail["allowed_actions"]
    assert set(detail["deadlines"]) == {
        "ship_by",
        "ship_warning_early",
        "ship_warning_late",
    }
    assert detail["running_deadlines"][0]["time_zone"] == "Asia/Kuala_Lumpur"
    events = api.get(f"/api/v1/orders/{order.pk}/events/").json()["results"]
    assert [e["type"] for e in events] == ["created"]


def test_filters_and_cursor_pages(api, shop):
    orders = [make_order(shop, "UNPAID") for _ in range(5)] + [
        make_order(shop, "AWAITING_SHIPMENT")
    ]
    assert [
        r["id"]
        for r in api.get("/api/v1/orders/?stage=awaiting_shipment").json()["results"]
    ] == [orders[-1].pk]
    assert (
        api.get("/api/v1/orders/?native_status=UNPAID").json()["results"].__len__() == 5
    )
    seen, url = [], "/api/v1/orders/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted((o.pk for o in orders), reverse=True)
    bad = api.get("/api/v1/orders/?stage=nonsense")
    assert (bad.status_code, error_code(bad)) == (400, "invalid_input")
    assert "stage" in bad.json()["error"]["details"]["fields"]
    assert api.get("/api/v1/orders/?q=13812345678").json()["results"]


def test_the_list_costs_the_same_queries_for_10_and_100_orders(api, shop):
    for _ in range(100):
        make_order(shop, "UNPAID")
    api.get("/api/v1/shops/")  # the key's last-used time is written once a minute
    counts = []
    for size in (10, 100):
        with CaptureQueriesContext(connection) as queries:
            assert (
                len(api.get(f"/api/v1/orders/?page_size={size}").json()["results"])
                == size
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_action_needs_the_write_scope(shop):
    order = make_order(shop, "AWAITING_SHIPMENT")
    reader = key_client(shop.organisation, scopes=["orders:read"])
    response = reader.post(
        f"/api/v1/orders/{order.pk}/memo/", {"memo": "x"}, format="json"
    )
    assert (response.status_code, error_code(response)) == (403, "permission_denied")
    assert response.json()["error"]["details"]["reason"] == "missing_scope"


def test_memo_flag_hold_release_and_the_timeline(api, shop):
    order = make_order(shop, "AWAITING_SHIPMENT")
    response = api.post(
        f"/api/v1/orders/{order.pk}/memo/",
        {"memo": "礼品包装", "flag": "red"},
        format="json",
    )
    assert response.status_code == 200
    assert (
        response.json()["memo"],
        response.json()["flag"],
        response.json()["version"],
    ) == ("礼品包装", "red", 2)
    assert api.post(
        f"/api/v1/orders/{order.pk}/hold/", {"reason": "stock"}, format="json"
    ).json()["overlays"] == ["on_hold"]
    again = api.post(f"/api/v1/orders/{order.pk}/hold/", {}, format="json")
    assert (again.status_code, error_code(again)) == (409, "invalid_transition")
    assert again.json()["error"]["details"]["reason"] == "already_on_hold"
    api.post(f"/api/v1/orders/{order.pk}/release/", {}, format="json")
    types = [
        e["type"]
        for e in api.get(f"/api/v1/orders/{order.pk}/events/").json()["results"]
    ]
    assert types == ["created", "memo_changed", "held", "released"]


def test_price_only_while_unpaid_and_address_only_before_shipment(api, shop):
    unpaid = make_order(shop, "UNPAID")
    response = api.post(
        f"/api/v1/orders/{unpaid.pk}/adjust-price/", {"total": "99.00"}, format="json"
    )
    assert (
        response.status_code,
        response.json()["total"],
        response.json()["discount"],
    ) == (200, "99.00", "8.80")
    shipped = make_order(shop, "IN_TRANSIT")
    refused = api.post(
        f"/api/v1/orders/{shipped.pk}/adjust-price/", {"total": "99.00"}, format="json"
    )
    assert (refused.status_code, refused.json()["error"]["details"]["reason"]) == (
        409,
        "not_unpaid",
    )
    moved = api.post(
        f"/api/v1/orders/{unpaid.pk}/address/",
        {"address": {"city": "宁波市"}},
        format="json",
    )
    assert moved.json()["address"]["city"] == "宁波市"
    late = api.post(
        f"/api/v1/orders/{shipped.pk}/address/",
        {"address": {"city": "宁波市"}},
        format="json",
    )
    assert late.json()["error"]["details"]["reason"] == "already_shipped"
    bad = api.post(
        f"/api/v1/orders/{unpaid.pk}/adjust-price/", {"total": "abc"}, format="json"
    )
    assert (bad.status_code, error_code(bad)) == (400, "invalid_input")


def test_cancel_with_the_platforms_reason(api, shop):
    order = make_order(shop, "AWAITING_SHIPMENT")
    wrong = api.post(
        f"/api/v1/orders/{order.pk}/cancel/", {"reason": "because"}, format="json"
    )
    assert (wrong.status_code, wrong.json()["error"]["details"]["reason"]) == (
        409,
        "reason_not_allowed",
    )
    done = api.post(
        f"/api/v1/orders/{order.pk}/cancel/",
        {"reason": "seller_cancel_reason_out_of_stock"},
        format="json",
    )
    assert (done.status_code, done.json()["native_status"], done.json()["stage"]) == (
        200,
        "CANCELLED",
        "closed",
    )


def test_if_match_refuses_a_lost_update(api, shop):
    order = make_order(shop, "UNPAID")
    first = api.post(
        f"/api/v1/orders/{order.pk}/memo/",
        {"memo": "a"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert first.status_code == 200
    second = api.post(
        f"/api/v1/orders/{order.pk}/memo/",
        {"memo": "b"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert (second.status_code, error_code(second)) == (412, "version_conflict")
    assert second.json()["error"]["details"]["current_version"] == 2
    body = api.post(
        f"/api/v1/orders/{order.pk}/memo/", {"memo": "c", "version": 1}, format="json"
    )
    assert body.status_code == 412
    assert Order.objects.get(pk=order.pk).seller_memo == "a"


def test_idempotency_key_replays_refuses_other_bodies(api, shop):
    order = make_order(shop, "UNPAID")
    url = f"/api/v1/orders/{order.pk}/memo/"
    first = api.post(url, {"memo": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(url, {"memo": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert (
        Order.objects.get(pk=order.pk).events.filter(type="memo_changed").count() == 1
    )
    other = api.post(url, {"memo": "twice"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")


def test_a_retry_while_the_first_is_running_gets_409(api, shop):
    from integrations.models import IdempotentRequest

    order = make_order(shop, "UNPAID")
    url = f"/api/v1/orders/{order.pk}/memo/"
    body = json.dumps({"memo": "x"}).encode()
    import hashlib

    key = ApiKey.objects.get()
    IdempotentRequest.objects.create(
        client=f"key:{key.pk}", key="k2", method="POST", path=url,
        request_hash=hashlib.sha256(b"POST" + url.encode() + b"\n" + body).hexdigest(),
    )  # fmt: skip
    response = api.post(
        url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert (response.status_code, error_code(response)) == (
        409,
        "idempotency_in_progress",
    )


def test_rate_limit_headers_and_429(shop):
    client = key_client(shop.organisation, rate_limit_per_minute=3)
    responses = [client.get("/api/v1/shops/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0]["X-RateLimit-Limit"] == "3"
    assert responses[0]["X-RateLimit-Remaining"] == "2"
    assert int(responses[0]["X-RateLimit-Reset"]) > 0
    assert error_code(responses[3]) == "rate_limited"
    assert int(responses[3]["Retry-After"]) >= 1


def test_batch_reports_each_order(api, shop):
    orders = [make_order(shop, "AWAITING_SHIPMENT") for _ in range(2)] + [
        make_order(shop, "COMPLETED")
    ]
    foreign = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    ids = [o.pk for o in orders] + [foreign.pk]
    response = api.post(
        "/api/v1/orders/batch/hold/", {"ids": ids, "reason": "audit"}, format="json"
    )
    body = response.json()
    assert (body["ok"], body["failed"]) == (2, 2)
    assert [r["ok"] for r in body["results"]] == [True, True, False, False]
    assert body["results"][2]["error"]["details"]["reason"] == "not_open"
    assert body["results"][3]["error"]["code"] == "not_found"
    assert not Order.objects.get(pk=foreign.pk).on_hold
    too_many = api.post(
        "/api/v1/orders/batch/memo/",
        {"ids": list(range(1, 502)), "memo": "x"},
        format="json",
    )
    assert too_many.status_code == 400


def test_the_dashboard_session_works_with_csrf(shop):
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OPERATOR)
    order = make_order(shop, "UNPAID")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(membership.user)
    assert client.get("/api/v1/orders/").status_code == 200
    refused = client.post(
        f"/api/v1/orders/{order.pk}/memo/", {"memo": "x"}, format="json"
    )
    assert refused.status_code == 403


def test_a_warehouse_member_may_not_cancel(shop):
    membership = MembershipFactory(organisation=shop.organisation, role=Role.WAREHOUSE)
    order = make_order(shop, "AWAITING_SHIPMENT")
    client = APIClient()
    client.force_login(membership.user)
    response = client.post(
        f"/api/v1/orders/{order.pk}/cancel/",
        {"reason": "seller_cancel_reason_out_of_stock"},
        format="json",
    )
    assert (response.status_code, error_code(response)) == (403, "permission_denied")


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()
