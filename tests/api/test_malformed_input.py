"""The probe's malformed inputs, one by one (issue 11, failure 8).

Each was a server error (or a silent change) before: a 400 in the error shape now, or
an error for that item only in a batch, and nothing changes.
"""

import base64
import json

import pytest
from rest_framework.test import APIClient

from aftersales.services import open_case
from integrations.models import IdempotentRequest
from logistics.models import Carrier, Package, TrackingEvent
from orders.choices import Role
from orders.models import Order
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order, order_payload
from tests.integrations.test_inbound import body_of, deliver, envelope, tt_shop
from tests.integrations.test_inbound import tiktok_signature as sign

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.fixture
def client(shop):
    client = key_client(shop.organisation)
    client.raise_request_exception = False  # a server error is a response to assert on
    return client


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        b"[null,null]",
        b'["yesterday", 5]',
        b'[5, "2026-01-01T00:00:00+00:00"]',
        b'["0001-01-01T00:00:00+08:00", 5]',
        b'["2026-01-01T00:00:00+00:00", 99999999999999999999999]',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_a_bad_cursor_is_400_on_the_orders_list(client, shop, raw):
    make_order(shop, "UNPAID")
    response = client.get("/api/v1/orders/", {"cursor": _cursor(raw)})
    assert response.status_code == 400
    assert error_of(response)["details"] == {"fields": {"cursor": "invalid"}}


def test_a_cursor_we_made_still_pages(client, shop):
    made = [make_order(shop, "UNPAID") for _ in range(3)]
    first = client.get("/api/v1/orders/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == [order.pk for order in reversed(made)]


def test_a_nul_in_the_search_is_400_naming_the_parameter(client, shop):
    make_order(shop, "UNPAID")
    response = client.get("/api/v1/orders/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "invalid_input",
        "message": "The query parameter 'q' contains a NUL character.",
        "details": {"fields": {"q": "contains a NUL character"}},
    }


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"]
)
def test_a_time_filter_out_of_range_is_400(client, shop, value):
    response = client.get("/api/v1/orders/", {"created_after": value})
    assert response.status_code == 400
    assert error_of(response)["details"] == {
        "fields": {"created_after": "created_after must be between 1970 and 2199"}
    }


def test_json_nested_1000_deep_is_400_malformed(client, shop):
    order = make_order(shop, "UNPAID")
    body = '{"memo":' * 1000 + '"x"' + "}" * 1000
    response = client.post(
        f"/api/v1/orders/{order.pk}/memo/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


@pytest.mark.parametrize(
    ("memo", "problem"),
    [
        ("a\x00b", "contains a NUL character"),
        ("\ud800", "contains an unpaired surrogate"),
    ],
)
def test_a_nul_or_a_lone_surrogate_in_a_body_is_400_and_changes_nothing(
    client, shop, memo, problem
):
    order = make_order(shop, "UNPAID")
    response = client.post(
        f"/api/v1/orders/{order.pk}/memo/",
        json.dumps({"memo": memo}),  # ASCII, with \u0000 and \ud800 escapes
        content_type="application/json",
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == {"fields": {"memo": problem}}
    order.refresh_from_db()
    assert (order.seller_memo, order.version) == ("", 1)


@pytest.mark.parametrize("header", ["١", "²", "9" * 40, '"1\x00"'])
def test_if_match_takes_ascii_digits_only(client, shop, header):
    order = make_order(shop, "UNPAID")
    response = client.post(
        f"/api/v1/orders/{order.pk}/memo/",
        {"memo": "x"},
        format="json",
        HTTP_IF_MATCH=header,
    )
    assert response.status_code == 400
    assert list(error_of(response)["details"]["fields"]) == ["If-Match"]
    order.refresh_from_db()
    assert (order.seller_memo, order.version) == ("", 1)


@pytest.mark.parametrize("key", ["k\x00", "ключ", "k" * 256])
def test_a_bad_idempotency_key_is_400(client, shop, key):
    order = make_order(shop, "UNPAID")
    response = client.post(
        f"/api/v1/orders/{order.pk}/memo/",
        {"memo": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_input"
    assert not IdempotentRequest.objects.exists()
    assert Order.objects.get(pk=order.pk).seller_memo == ""


# --- batches: one bad field is that item's error -----------------------------------------


def test_bulk_upsert_reports_bad_amounts_and_times_per_order(client, shop):
    def one(**overrides):
        return {
            "shop": shop.pk,
            **order_payload(shop, "AWAITING_SHIPMENT", **overrides),
        }

    orders = [
        one(total="1e30"),
        one(created_at="0001-01-01T00:00:00+08:00"),
        one(deadlines={"ship_by": "9999-12-31T23:59:59-08:00"}),
        one(platform_order_id="x" * 65),
        one(end_reason="r" * 500),
        one(),
    ]
    response = client.post(
        "/api/v1/orders/bulk-upsert/", {"orders": orders}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["failed"]) == (1, 5)
    errors = [result.get("error") for result in body["results"]]
    assert errors[0]["details"] == {
        "fields": {"total": "total is not a decimal number"}
    }
    assert errors[1]["details"] == {
        "fields": {"created_at": "created_at must be between 1970 and 2199"}
    }
    assert errors[2]["details"] == {
        "fields": {
            "deadlines.ship_by": "deadlines.ship_by must be between 1970 and 2199"
        }
    }
    assert errors[3]["details"] == {
        "fields": {"platform_order_id": "required, at most 64 characters"}
    }
    assert errors[4]["code"] == "invalid_input"  # longer than its column
    assert Order.objects.get().platform_order_id == orders[5]["platform_order_id"]


def test_tracking_events_report_a_bad_event_for_that_event_only(client, shop):
    order = make_order(shop, "AWAITING_SHIPMENT")
    carrier = Carrier.objects.get(code="YUNDA")
    package = Package.objects.create(
        organisation=shop.organisation,
        order=order,
        carrier=carrier,
        tracking_number="YD0000000001",
    )
    good = {
        "carrier": "YUNDA",
        "tracking_number": "YD0000000001",
        "occurred_at": "2026-01-05T09:30:00+08:00",
        "code": "in_transit",
    }
    events = [
        {**good, "occurred_at": "0001-01-01T00:00:00+08:00"},
        {**good, "code": "teleported"},
        good,
        "not an event",
    ]
    response = client.post(
        "/api/v1/tracking-events/", {"events": events}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert [r["outcome"] for r in body["results"]] == [
        "error",
        "error",
        "created",
        "error",
    ]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert (body["created"], body["failed"]) == (1, 3)
    assert list(body["results"][0]["error"]["details"]["fields"]) == ["occurred_at"]
    assert list(body["results"][1]["error"]["details"]["fields"]) == ["code"]
    assert TrackingEvent.objects.get().package == package


# --- platform pushes ---------------------------------------------------------------------


def test_a_signed_push_nested_1000_deep_is_400_and_stores_nothing():
    shop = tt_shop()
    body = ('{"a":' * 1000 + "1" + "}" * 1000).encode()
    response = deliver(shop.pk, body, HTTP_AUTHORIZATION=sign(body))
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


def test_a_signed_push_with_a_nul_is_400_and_stores_nothing():
    shop = tt_shop()
    body = body_of(envelope(order_id="576\x00"))
    response = deliver(shop.pk, body, HTTP_AUTHORIZATION=sign(body))
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_input"


# --- the dashboard ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["a\x00b", "%ED%A0%80"])
def test_the_dashboard_search_and_filters_take_nul_and_surrogates(text):
    shop = ShopFactory(platform="tiktok")
    make_order(shop, "UNPAID")
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    browser = APIClient(raise_request_exception=False)
    browser.force_login(membership.user)
    query = {"q": text, "native_status": text, "flag": text, "shop": text}
    response = browser.get("/orders/", query)
    assert response.status_code in (200, 302)
    cases = browser.get("/aftersales/", {"q": text, "reason": text, "shop": text})
    assert cases.status_code in (200, 302)


def test_a_dashboard_memo_with_a_nul_is_a_form_error():
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "UNPAID")
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    browser = APIClient(raise_request_exception=False)
    browser.force_login(membership.user)
    response = browser.post(
        f"/orders/{order.pk}/memo/",
        {"memo": "gift\x00 wrap", "version": "١"},
        follow=True,
    )
    assert response.status_code == 200
    assert "contains a NUL character" in response.content.decode()
    order.refresh_from_db()
    assert (order.seller_memo, order.version) == ("", 1)


def test_json_numbers_are_not_floats_for_money(client, shop):
    order = make_order(shop, "UNPAID")
    response = client.post(
        f"/api/v1/orders/{order.pk}/adjust-price/", {"total": 12.5}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == {
        "fields": {"total": ["total must be a decimal string, not a float"]}
    }


def test_the_schema_still_documents_amounts_as_decimal_strings():
    schema = json.loads(
        APIClient().get("/api/v1/schema/?format=json", HTTP_HOST="localhost").content
    )
    total = schema["components"]["schemas"]["PriceInputRequest"]["properties"]["total"]
    assert (total["type"], total["format"]) == ("string", "decimal")


def test_dashboard_posts_with_a_nul_are_form_errors_not_server_errors():
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    case = open_case(
        make_order(shop, "AWAITING_SHIPMENT"), "cancel", Actor.platform("tiktok")
    )[0]
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    browser = APIClient(raise_request_exception=False)
    browser.force_login(membership.user)
    hold = browser.post(f"/orders/{order.pk}/hold/", {"reason": "x\x00"}, follow=True)
    assert "contains a NUL character" in hold.content.decode()
    matching = browser.post(
        "/orders/batch/",
        {"action": "hold", "scope": "filter", "query": "q=a\x00b", "reason": "r"},
    )
    assert matching.status_code in (200, 302)
    act = browser.post(
        f"/aftersales/cases/{case.pk}/act/", {"action": "reject", "reason": "x\x00"}
    )
    assert act.status_code == 400
    assert "contains a NUL character" in act.content.decode()
    switch = browser.post("/organisation/", {"organisation": "a\x00"})
    assert switch.status_code == 302
    order.refresh_from_db()
    case.refresh_from_db()
    assert (order.on_hold, order.version, case.version) == (False, 1, 1)


@pytest.mark.parametrize("page", ["9" * 30, "١٢", "-1", "0"])
def test_a_dashboard_page_number_out_of_range_shows_the_first_page(page):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    browser = APIClient(raise_request_exception=False)
    browser.force_login(membership.user)
    for url in ("/orders/", "/aftersales/", "/warehouse/to-ship/"):
        response = browser.get(url, {"page": page})
        assert response.status_code == 200, url
    assert (
        order.platform_order_id
        in browser.get("/orders/", {"page": page}).content.decode()
    )


@pytest.mark.parametrize("size", ["١٢", "²", "9" * 30, "1e3", "0", "201"])
def test_page_size_is_ascii_digits_from_1_to_200(client, shop, size):
    response = client.get("/api/v1/orders/", {"page_size": size})
    assert response.status_code == 400
    assert list(error_of(response)["details"]["fields"]) == ["page_size"]
