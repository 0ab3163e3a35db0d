"""A request body over the size limit is a JSON 413 in the API's error shape on every
endpoint under /api/ (API and platform webhook endpoints), whoever calls."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.api.conftest import key_client
from tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


def _paths(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def api_paths() -> list[str]:
    """Every API route, with its parameters filled in (1, or a word)."""
    found = set()
    for route in _paths(get_resolver().url_patterns):
        if not route.lstrip("^").startswith("api/"):
            continue
        path = re.sub(r"<int:[^>]+>", "1", route)
        path = re.sub(r"<[^>]+>", "x", path)
        path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "x", path).strip("^$")
        found.add("/" + path)
    return sorted(found)


def test_the_route_list_covers_the_api_and_the_webhooks():
    paths = api_paths()
    assert "/api/v1/orders/bulk-upsert/" in paths
    assert "/api/v1/platforms/1/webhook/" in paths
    assert "/api/v1/cases/ingest/" in paths
    assert len(paths) > 20


@pytest.mark.parametrize("path", api_paths())
def test_a_body_over_the_limit_is_a_json_413_everywhere(path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    shop = ShopFactory(platform="taobao")
    client = key_client(shop.organisation)
    for method in (client.post, client.put, client.patch):
        response = method(path, "x" * 5000, content_type="application/json")
        assert response.status_code == 413, (path, response.status_code)
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"max_bytes": 2000}
        assert set(response.json()) == {"error"}


def test_the_webhook_limit_answers_in_the_same_shape(settings):
    from integrations.inbound import MAX_BODY

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY * 4
    shop = ShopFactory(platform="tiktok")
    response = key_client(shop.organisation).post(
        f"/api/v1/platforms/{shop.pk}/webhook/",
        "x" * (MAX_BODY + 1),
        content_type="application/json",
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"max_bytes": MAX_BODY}
