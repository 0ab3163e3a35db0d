"""A bad-input corpus against every operation of the API (issue 11, failure 8).

The operations are read from the OpenAPI schema, so an endpoint added later is probed
too. Each operation gets, where it applies: bad cursors, NUL characters and other bad
values in every query parameter, bad times and numbers, JSON bodies with a NUL or an
unpaired surrogate in every string, amounts like ``1e30``, times at year 1 with an
offset, huge integers, wrong types, nesting 1,000 deep, and bad ``If-Match`` and
``Idempotency-Key`` headers. Every answer must be below 500, an error must be in the
API's error shape, and nothing may change in the database.

Each probe runs in a savepoint that is rolled back, so the probes are independent and a
probe that broke the transaction shows as a failure of its own, not of the next one.
"""

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Count, Max, Sum
from django.test import Client
from rest_framework.test import APIClient

from aftersales.services import open_case
from integrations.models import (
    ApiKey,
    IdempotentRequest,
    Scope,
    WebhookDelivery,
    WebhookSubscription,
)
from logistics.models import PrintBatch
from orders.api.views import BATCH_INPUTS
from orders.services import Actor
from tests.factories import ShopFactory, make_order

SCHEMA_URL = "/api/v1/schema/?format=json"
RAW_SCHEMA = json.loads(Client().get(SCHEMA_URL, HTTP_HOST="localhost").content)
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in RAW_SCHEMA["paths"].items()
    for method, operation in methods.items()
]
TRACE = False
STATUSES = ["UNPAID", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = {
    "null pair": _b64(b"[null,null]"),
    "not base64": "!!!not-base64***",
    "base64 of non-JSON": _b64(b"\xff\xfe garbage"),
    "JSON object": _b64(b'{"a": 1}'),
    "wrong length": _b64(b'["2026-01-01T00:00:00+00:00"]'),
    "wrong types": _b64(b'[1, "2026-01-01T00:00:00+00:00"]'),
    "huge id": _b64(b'["2026-01-01T00:00:00+00:00", 99999999999999999999999999]'),
    "not a date": _b64(b'["yesterday", 5]'),
    "date out of range": _b64(b'["0001-01-01T00:00:00+08:00", 5]'),
    "year 9999": _b64(b'["9999-12-31T23:59:59-08:00", 5]'),
    "nested": _b64(b"[" * 100 + b"]" * 100),
    "NUL in a value": _b64(b'["2026-01-01T00:00:00+00:00\\u0000", 5]'),
    "bool id": _b64(b'["2026-01-01T00:00:00+00:00", true]'),
    "non-ASCII": "ＡＢＣ",
    "huge": "A" * 5000,
}
BAD_TIMES = [
    "0001-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-08:00",
    "2026-13-45T00:00:00Z",
    "yesterday",
    "２０２６-01-01T00:00:00Z",
]
BAD_WHOLE = ["١٢", "²", "9" * 30, "-1", "1e3", "0x10"]
BAD_VERSIONS = ["١", "²", "9" * 30, '"1\x00"', "W/" + "9" * 5000]
NUL = "a\x00b"
SURROGATE = "\ud800"
DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


# --- the schema ------------------------------------------------------------------------


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = RAW_SCHEMA["components"]["schemas"][name]
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            merged: dict = {}
            for part in schema[combined]:
                part = _resolve(part)
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                for key in ("type", "format", "enum", "items"):
                    if key in part:
                        merged.setdefault(key, part[key])
            return merged
    return schema


def _kind(schema: dict) -> str:
    if schema.get("enum"):
        return "enum"
    if schema.get("type") == "string":
        return {"decimal": "decimal", "date-time": "datetime"}.get(
            schema.get("format", ""), "string"
        )
    return schema.get("type", "object")


def sample(schema: dict, ids: dict, name: str = "", depth: int = 0) -> Any:
    """A valid-shaped value for ``schema``, with real ids where the name says id."""
    schema = _resolve(schema)
    kind = _kind(schema)
    if kind == "enum":
        return next((v for v in schema["enum"] if v not in ("", None)), "")
    if kind == "decimal":
        return "1.00"
    if kind == "datetime":
        return "2026-01-05T09:30:00+08:00"
    if kind == "string":
        return "text"
    if kind == "integer":
        return ids.get(name, 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample(schema.get("items", {}), ids, name, depth + 1)]
    if depth > 6:
        return {}
    return {
        key: sample(child, ids, key, depth + 1)
        for key, child in schema.get("properties", {}).items()
        if not _resolve(child).get("readOnly")
    }


def with_ids(value: Any, ids: dict, name: str = "") -> Any:
    """An example body with the tenant's ids where the example has made-up ones."""
    if isinstance(value, dict):
        return {key: with_ids(child, ids, key) for key, child in value.items()}
    if isinstance(value, list):
        return [with_ids(child, ids, name) for child in value]
    if isinstance(value, int) and not isinstance(value, bool) and name in ids:
        return ids[name]
    return value


def example(operation: dict, ids: dict) -> Any:
    """The operation's first documented request example, with real ids, if any."""
    content = operation.get("requestBody", {}).get("content", {})
    examples = content.get("application/json", {}).get("examples", {})
    for documented in examples.values():
        if isinstance(documented.get("value"), dict):
            return with_ids(documented["value"], ids)
    return None


def leaves(value: Any, schema: dict, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, kind) of every leaf of a sampled value."""
    schema = _resolve(schema)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, child in value.items():
            yield from leaves(child, properties.get(key, {}), (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, schema.get("items", {}), (*path, index))
    else:
        yield path, _kind(schema)


def replaced(value: Any, paths: list[tuple], new: Any) -> Any:
    value = copy.deepcopy(value)
    for path in paths:
        node = value
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = new
    return value


BODY_MUTATIONS = {
    # name: (leaf kinds, new value)
    "NUL in every string": (("string", "decimal", "datetime", "enum"), NUL),
    "surrogate in every string": (("string", "decimal", "datetime", "enum"), SURROGATE),
    "amounts 1e30": (("decimal",), "1e30"),
    "amounts negative": (("decimal",), "-5.00"),
    "amounts NaN": (("decimal",), "NaN"),
    "amounts Arabic-Indic digits": (("decimal",), "١٢"),
    "times at year 1 with an offset": (("datetime",), "0001-01-01T00:00:00+08:00"),
    "times at year 9999": (("datetime",), "9999-12-31T23:59:59-08:00"),
    "integers huge": (("integer",), 10**30),
    "integers negative": (("integer",), -1),
    "integers as floats": (("integer",), 1.5),
    "every leaf a list": (("string", "decimal", "datetime", "enum", "integer"), []),
    "every leaf an object": (("string", "decimal", "datetime", "integer"), {"a": 1}),
}
RAW_BODIES = {
    "nested 1,000 deep (list)": DEEP,
    "nested 1,000 deep (object)": DEEP_OBJECT,
    "a JSON string": '"text"',
    "JSON null": "null",
    "NaN": "NaN",
    "not UTF-8": b"\xff\xfe{}",
    "NUL byte": b'{"a": "\x00"}',
}


# --- the tenant --------------------------------------------------------------------------


@pytest.fixture
def tenant(db):
    """An organisation with orders, cases, a print batch and a webhook, and a key."""
    shop = ShopFactory(platform="tiktok")
    orders = [make_order(shop, status) for status in STATUSES for _ in range(2)]
    subscription = WebhookSubscription.objects.create(
        organisation=shop.organisation,
        url="https://erp.example/hook",
        events=["order.updated"],
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event_type="order.updated", payload={"id": 1}
    )
    batch = PrintBatch.objects.create(
        organisation=shop.organisation, created_by="warehouse"
    )
    platform = Actor.platform(shop.platform)
    case = open_case(orders[2], "cancel", platform)[0]
    _, raw = ApiKey.issue(
        organisation=shop.organisation,
        name="probe",
        scopes=list(Scope.values),
        rate_limit_per_minute=1_000_000,
    )
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    item = orders[2].items.first()
    ids = {
        "order_id": orders[2].pk,
        "case_id": case.pk,
        "batch_id": batch.pk,
        "subscription_id": subscription.pk,
        "delivery_id": delivery.pk,
        "shop_id": shop.pk,
        "shop": shop.pk,
        "id": orders[2].pk,
        "ids": orders[2].pk,
        "order_ids": orders[2].pk,
        "item": item.pk,
        "action": sorted(BATCH_INPUTS)[0],
    }
    return client, ids


# --- the fingerprint ----------------------------------------------------------------------

APPS = ("orders", "aftersales", "logistics", "integrations")
SKIPPED = {IdempotentRequest}


def fingerprint() -> list:
    """Row counts, versions and last updates of every table of the product."""
    result = []
    for model in apps.get_models():
        if model._meta.app_label not in APPS or model in SKIPPED:
            continue
        names = {field.name for field in model._meta.concrete_fields}
        aggregates = {"rows": Count("pk")}
        if "version" in names:
            aggregates["versions"] = Sum("version")
        if "updated_at" in names:
            aggregates["updated"] = Max("updated_at")
        result.append((model.__name__, model._base_manager.aggregate(**aggregates)))
    return result


# --- probes ----------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _url(path: str, ids: dict, overrides: dict | None = None) -> str:
    for name, value in {**ids, **(overrides or {})}.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def probes(method: str, path: str, operation: dict, ids: dict) -> Iterator[tuple]:
    """(label, url, query, body, headers) for every bad input this operation takes."""
    parameters = operation.get("parameters", [])
    url = _url(path, ids)
    query_params = [p for p in parameters if p["in"] == "query"]
    for parameter in query_params:
        name = parameter["name"]
        schema = _resolve(parameter.get("schema", {}))
        yield f"query {name}=NUL", url, {name: NUL}, None, {}
        yield f"query {name}=%00", url + f"?{name}=%00", None, None, {}
        yield f"query {name}=%ED%A0%80", url + f"?{name}=%ED%A0%80", None, None, {}
        if name == "cursor":
            for label, cursor in BAD_CURSORS.items():
                yield f"cursor {label}", url, {"cursor": cursor}, None, {}
        kind = _kind(schema.get("items", schema))
        if kind == "datetime":
            for value in BAD_TIMES:
                yield f"query {name}={value}", url, {name: value}, None, {}
        if kind == "integer":
            for value in BAD_WHOLE:
                yield f"query {name}={value}", url, {name: value}, None, {}
    yield "an undocumented query parameter NUL", url, {"x": NUL}, None, {}
    if query_params:
        every = {p["name"]: NUL for p in query_params}
        yield "every query parameter NUL", url, every, None, {}
    for parameter in parameters:
        if (
            parameter["in"] == "path"
            and _kind(parameter.get("schema", {})) == "integer"
        ):
            huge = _url(path, ids, {parameter["name"]: 10**20})
            yield f"path {parameter['name']} huge", huge, None, None, {}
    body_schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
    )
    if method in ("POST", "PUT", "PATCH") and body_schema is not None:
        valid = example(operation, ids)
        if valid is None:
            valid = sample(body_schema, ids)
        kinds = list(leaves(valid, body_schema))
        for label, (wanted, new) in BODY_MUTATIONS.items():
            paths = [path for path, kind in kinds if kind in wanted and path]
            if paths:
                yield label, url, None, replaced(valid, paths, new), {}
        for label, raw in RAW_BODIES.items():
            yield label, url, None, raw, {}
        names = {p["name"] for p in parameters}
        if "If-Match" in names:
            for value in BAD_VERSIONS:
                yield f"If-Match {value[:12]!r}", url, None, valid, {"If-Match": value}
        if "Idempotency-Key" in names:
            for value in ("ключ", "k\x00", "k" * 300):
                header = {"Idempotency-Key": value}
                yield f"Idempotency-Key {value[:8]!r}", url, None, valid, header


def _send(client, method: str, url: str, query, body, headers: dict):
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    if method == "GET":
        return client.get(url, query or {}, **extra)
    if query:
        url += "?" + urlencode(query)
    if method == "DELETE":
        return client.delete(url, **extra)
    send = getattr(client, method.lower())
    if isinstance(body, bytes):
        return send(url, body, content_type="application/json", **extra)
    if isinstance(body, str):
        return send(url, body.encode(), content_type="application/json", **extra)
    return send(url, json.dumps(body if body is not None else {}), content_type="application/json", **extra)  # fmt: skip


def _problem(response) -> str | None:
    """What is wrong with the answer to a bad input, or ``None``."""
    if response.status_code >= 500:
        return f"{response.status_code} server error"
    if response.status_code < 400:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return (
            f"{response.status_code} not in the error shape: {response.content[:80]!r}"
        )
    if not (
        isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
    ):
        return f"{response.status_code} error shape incomplete: {error!r}"[:200]
    return None


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in OPERATIONS],
)
def test_bad_input_is_refused_in_the_error_shape_and_changes_nothing(
    tenant, method, path, operation
):
    client, ids = tenant
    failures = []
    tried = 0
    before = fingerprint()  # every probe is rolled back: the same before each
    for label, url, query, body, headers in probes(method, path, operation, ids):
        tried += 1
        try:
            with transaction.atomic():
                response = _send(client, method, url, query, body, headers)
                problem = _problem(response)
                writes = method != "GET"  # reads never write; checked where it can
                if problem is None and writes and fingerprint() != before:
                    problem = f"{response.status_code} and the database changed"
                if problem is not None:
                    failures.append(f"{label}: {problem}")
                if TRACE:
                    print(
                        method,
                        path,
                        label,
                        response.status_code,
                        response.content[:150],
                    )
                raise _Rollback
        except _Rollback:
            pass
        except DatabaseError as exc:
            failures.append(f"{label}: the transaction broke: {exc!s:.120}")
    assert tried > 0
    assert failures == []


def test_every_paginated_list_and_bulk_endpoint_is_probed():
    """The corpus follows the schema: the lists with a cursor and the batch endpoints."""
    listed = {
        path
        for method, path, operation in OPERATIONS
        if any(p["name"] == "cursor" for p in operation.get("parameters", []))
    }
    assert listed >= {
        "/api/v1/orders/",
        "/api/v1/orders/{order_id}/events/",
        "/api/v1/orders/{order_id}/messages/",
        "/api/v1/orders/{order_id}/notes/",
        "/api/v1/cases/",
        "/api/v1/webhooks/{subscription_id}/deliveries/",
    }
    posted = {path for method, path, _ in OPERATIONS if method == "POST"}
    assert posted >= {
        "/api/v1/orders/bulk-upsert/",
        "/api/v1/orders/batch/memo/",
        "/api/v1/orders/batch/cancel/",
        "/api/v1/orders/batch/ship/",
        "/api/v1/cases/batch/{action}/",
        "/api/v1/cases/ingest/",
        "/api/v1/tracking-events/",
    }
