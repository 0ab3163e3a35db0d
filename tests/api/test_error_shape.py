"""Every reply under /api/ is JSON in the error shape, whatever layer refuses the request;
the rest of the site keeps its HTML pages (issue 11, failure 11)."""

import pytest
from django.test import Client, override_settings

from orders.choices import Role
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, make_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("production_errors")]


@pytest.fixture
def production_errors():
    with override_settings(DEBUG=False):
        yield


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[
        :200
    ]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/%00/",
        "/api/%E2%80%AE%E2%80%AE/",
        "/api/%0A",
        "/api/v1/%0D%0Aorders/",
        "/api/v1/orders/%FF%FE/",
        "/api/v1/orders/..%2F..%2F/",
    ],
)
def test_unknown_api_paths_with_odd_characters_answer_json_404(shop, path):
    response = key_client(shop.organisation).get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_csrf_failure_on_the_api_is_json_403(shop):
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    response = client.post("/api/v1/nothing-here/", {"x": "1"})
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "csrf_failed"
    assert error["details"] == {"reason": "CSRF cookie not set."}


def test_a_csrf_failure_on_a_page_stays_html(shop):
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    response = client.post("/orders/batch/", {"action": "hold"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_body_over_the_limit_is_json_413_and_changes_nothing(shop, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api = key_client(shop.organisation)
    body = '{"orders": [' + ",".join(['{"platform_order_id": "x"}'] * 100) + "]}"
    for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": "big-1"}):
        response = api.post(
            "/api/v1/orders/bulk-upsert/",
            body,
            content_type="application/json",
            **headers,
        )
        assert response.status_code == 413
        error = error_of(response)
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"max_bytes": 1000}
    assert shop.orders.count() == 0


def test_a_session_caller_also_gets_json_413(shop, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client = Client()
    client.force_login(membership.user)
    response = client.post(
        "/api/v1/orders/bulk-upsert/", "x" * 5000, content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_an_unhandled_error_in_an_api_view_is_a_json_500_without_internals(
    shop, monkeypatch
):
    order = make_order(shop, "AWAITING_SHIPMENT")

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("orders.api.views.detail", broken)
    api = key_client(shop.organisation)
    api.raise_request_exception = False
    response = api.get(f"/api/v1/orders/{order.pk}/")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_a_disallowed_host_on_the_api_is_json_400(shop):
    response = Client(HTTP_HOST="evil.example").get("/api/v1/orders/")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_pages_keep_their_html_error_pages(shop):
    client = Client()
    client.force_login(MembershipFactory(organisation=shop.organisation).user)
    response = client.get("/no-such-page/%E2%80%AE/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
