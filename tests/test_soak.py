"""The probe's own pure parts (soak/): how it judges replies and counts results.

The probe itself runs in scripts/test.sh (``python -m soak --short``) against a stack of
its own; these tests keep its judging honest without one.
"""

import json

import pytest
import requests

from orders.permissions import ROLE_PERMISSIONS
from soak.areas.access import fallback_permission, shops_in
from soak.client import Api, error_shape_problem
from soak.result import AreaResult
from tests.api.test_schemathesis import RAW_SCHEMA


def reply(status: int, body, content_type="application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    return response


def test_the_error_shape_is_recognised_and_html_or_other_json_is_not():
    error = {"error": {"code": "not_found", "message": "No such order.", "details": {}}}
    assert error_shape_problem(reply(404, error)) is None
    assert "not JSON" in error_shape_problem(reply(403, b"<h1>CSRF</h1>", "text/html"))
    assert "not the error shape" in error_shape_problem(reply(400, {"detail": "x"}))
    assert error_shape_problem(reply(400, b"{", "application/json")) == "invalid JSON"


def test_shops_are_found_in_orders_cases_and_delivery_payloads():
    body = {
        "results": [
            {"id": 7, "platform_order_id": "1", "shop": 3},
            {"id": 8, "kind": "refund", "platform_order_id": "2", "shop": 4},
            {
                "payload": {
                    "data": {"order": {"id": 9, "platform_order_id": "3", "shop": 5}}
                }
            },
            {"id": 10, "shop": 6},  # not an order or a case: no platform_order_id
        ]
    }
    assert shops_in(body, "/api/v1/orders/") == {3, 4, 5}
    assert shops_in({"results": [{"id": 1}, {"id": 2}]}, "/api/v1/shops/") == {1, 2}


def test_every_operation_falls_back_to_a_permission_of_the_role_table():
    known = set().union(*ROLE_PERMISSIONS.values()) | {"orders.ingest"}
    for path, methods in RAW_SCHEMA["paths"].items():
        for method in methods:
            assert fallback_permission(method.upper(), path) in known, (method, path)


def test_results_count_every_probe_and_keep_one_sample_per_kind():
    result = AreaResult("x")
    assert result.check(True)
    assert not result.check(False, "GET /a/1/: server error 500")
    assert not result.check(False, "GET /a/2/: server error 500")
    result.fail("crashed", kind="crash")
    assert (result.tried, result.held, result.failed) == (4, 1, 3)
    assert result.kinds == {
        "server error N": [2, "GET /a/1/: server error 500"],
        "crash": [1, "crashed"],
    }


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "https://example.com", "http://169.254.169.254"]
)
def test_the_probe_refuses_to_talk_to_anything_but_loopback(url):
    with pytest.raises(ValueError):
        Api(url)
