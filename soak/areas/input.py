"""Bad input: every probe here is malformed, so every answer under /api/ must be a 4xx in
the JSON error shape (``{"error": {"code", "message", "details"}}``), never a 5xx, and
nothing may change. Batches may instead answer 200 with a per-item error for the bad item.
"""

import base64
import json

from soak.areas.access import digest
from soak.client import error_shape_problem
from soak.result import AreaResult


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSORS = [
    b64("[null,null]"), "[null,null]", b64("null"), b64("[]"), b64("[1]"), b64('["x","y"]'),
    b64("[1e30,1]"), b64('[{"a":1},2]'), b64("[true,false]"), "%00", "not-base64!", "-1",
    "A" * 5000, b64("\udcff" if False else "[\"\\u0000\",1]"), "%ED%A0%80",
]  # fmt: skip
QUERIES = [
    "q=%00", "q=a%00b", "q=%ED%A0%80", "status=%00", "platform=%00",
    "created_after=0001-01-01T00:00:00%2B14:00", "created_before=0001-01-01T00:00:00%2B01:00",
    "updated_after=9999-12-31T23:59:59-14:00", "paid_after=%00", "shop=1e30",
    "shop=99999999999999999999999999", "page_size=1e30", "page_size=-1",
    "page_size=99999999999999999999", "channel=%ED%A0%80",
]  # fmt: skip
IF_MATCH = [
    '"１"',
    '"٣"',
    "１",
    '"99999999999999999999999999"',
    '"-1"',
    '"1e30"',
    'W/"x"',
]


def deep(depth: int) -> str:
    return '{"memo": ' + "[" * depth + "]" * depth + "}"


def run(ctx, result: AreaResult) -> AreaResult:
    world = ctx.world
    key = world.principal("key:all")
    member = world.principal("owner")
    order = world.targets["own"].order
    org = world.orgs["A"]
    subscription = world.targets["own"].subscription
    o = f"/api/v1/orders/{order.pk}"

    def probe(who, method, path, *, label=None, json_body=None, raw=None, headers=None,
              batch=False, lenient=False):  # fmt: skip
        headers = dict(headers or {})
        if raw is not None:
            headers.setdefault("Content-Type", "application/json")
        before = digest(organisation=org) if method != "GET" else None
        label = label or f"{method} {path[:90]}"
        try:
            response = who.request(
                method, path, json=json_body, data=raw, headers=headers
            )
        except Exception as exc:
            result.fail(f"{label}: {exc!r}", kind="no answer")
            return None
        problems = []
        status = response.status_code
        if status >= 500:
            problems.append(f"server error {status}")
        elif not ((batch or lenient) and status == 200) and not 400 <= status < 500:
            problems.append(f"accepted with {status}")
        if path.startswith("/api/") and status != 200:
            shape = error_shape_problem(response)
            if shape:
                problems.append(shape)
        if before is not None and not batch and digest(organisation=org) != before:
            problems.append("data changed")
        kind = f"{label.split(' ', 2)[0]} {label.split(' ', 2)[-1][:40]}: " + (
            "; ".join(p.split(" (")[0] for p in problems)
        )
        result.check(not problems, f"{label}: {'; '.join(problems)}", kind=kind)
        return response

    # Bad cursors on every paginated list.
    lists = [
        "/api/v1/orders/",
        "/api/v1/cases/",
        f"/api/v1/webhooks/{subscription.pk}/deliveries/",
    ]
    for path in lists:
        for cursor in CURSORS[: ctx.size(8, len(CURSORS))]:
            probe(
                key,
                "GET",
                f"{path}?cursor={cursor}",
                label=f"GET {path} cursor={cursor[:30]}",
            )
    # NUL, lone surrogates, year 1 with an offset, huge numbers in filters.
    # A search or a filter may also answer 200 (it found nothing), never a 5xx or HTML.
    for query in QUERIES:
        probe(key, "GET", f"/api/v1/orders/?{query}", lenient=True)
        if query.startswith(("q=", "status=")):
            probe(key, "GET", f"/api/v1/cases/?{query}", lenient=True)
    # Names, reasons, memos, money.
    bodies = [
        ("memo", {"memo": "a\u0000b"}), ("memo", {"memo": "\ud800"}), ("memo", {"flag": 1e30}),
        ("memo", {"memo": "x" * 100_000}),
        ("adjust-price", {"total": "1e30"}), ("adjust-price", {"total": 1e30}),
        ("adjust-price", {"total": 10**100}), ("adjust-price", {"total": "-5.00"}),
        ("adjust-price", {"total": "NaN"}), ("adjust-price", {"total": "Infinity"}),
        ("cancel", {"reason": "\u0000"}), ("hold", {"reason": "\ud800\u0000"}),
        ("address", {"address": {"city": "\u0000", "street": "\udfff"}}),
        ("notes", {"body": "\u0000", "subject": "buyer"}),
        ("messages", {"body": "\ud800"}),
    ]  # fmt: skip
    for action, body in bodies:
        raw = json.dumps(
            body
        ).encode()  # \ud800 stays an escape: a lone surrogate on the wire
        probe(
            key, "POST", f"{o}/{action}/", raw=raw, label=f"POST {action} {raw[:50]!r}"
        )
    # Deep nesting, broken JSON, wrong types of body.
    for raw, label in [
        (deep(1000).encode(), "JSON nested 1,000 deep"),
        (deep(100_000).encode(), "JSON nested 100,000 deep"),
        (b"{", "truncated JSON"), (b"\xff\xfe\x00", "not UTF-8"), (b"", "empty body"),
        (b"NaN", "NaN"), (b'{"memo": Infinity}', "Infinity"), (b"[]", "a list"),
        (b'"memo"', "a string"),
    ]:  # fmt: skip
        probe(key, "POST", f"{o}/memo/", raw=raw, label=f"POST memo {label}")
    probe(key, "POST", f"{o}/memo/", raw=b"memo=x", label="POST memo as a form",
          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    # Oversized body.
    big = json.dumps({"memo": "x" * (12 * 1024 * 1024)}).encode()
    probe(key, "POST", f"{o}/memo/", raw=big, label="POST memo 12 MB body")
    # Bad headers.
    for value in IF_MATCH:
        probe(key, "POST", f"{o}/memo/", json_body={"memo": "if-match"},
              headers={"If-Match": value.encode()}, label=f"POST memo If-Match {value}")  # fmt: skip
    # Under gunicorn's 8,190-byte header limit, so Django answers, not gunicorn's 431.
    probe(key, "POST", f"{o}/memo/", json_body={"memo": "huge key"},
          headers={"Idempotency-Key": "k" * 4_000}, label="POST memo Idempotency-Key 4,000 chars")  # fmt: skip
    for auth in (
        "Bearer oms_",
        "Bearer oms_x_y",
        "Bearer " + "a" * 4_000,
        "Basic Og==",
    ):
        probe(world.api, "GET", "/api/v1/orders/", headers={"Authorization": auth},
              label=f"GET orders Authorization {auth[:20]!r}")  # fmt: skip
    probe(member, "GET", "/api/v1/orders/", headers={"X-OMS-Organisation": "%00\u00e9".encode("latin-1")},
          label="GET orders X-OMS-Organisation odd bytes")  # fmt: skip
    # Odd paths, unknown paths, CSRF failures: still JSON under /api/.
    for path in ["/api/v1/orders/%00/", "/api/v1/%E2%80%AE/", f"{o}%00/", "/api/%ff/",
                 "/api/v1/orders/99999999999999999999999/", "/api/v1/orders/-1/",
                 "/api/v1/orders/1e30/", "/api/v1/nothing/"]:  # fmt: skip
        probe(key, "GET", path)
        probe(key, "POST", path, json_body={})
    no_csrf = {k: v for k, v in member.headers.items() if k != "X-CSRFToken"}
    probe(world.api, "POST", f"{o}/memo/", json_body={"memo": "no csrf"},
          headers=no_csrf, label="POST memo session without CSRF token")  # fmt: skip
    probe(world.api, "POST", "/api/v1/nothing/", json_body={}, headers=no_csrf,
          label="POST unknown path session without CSRF token")  # fmt: skip
    # Bulk: one bad field among many gives per-item errors, never a 500 or a stored bad value.
    _bulk(ctx, result, probe, key)
    return result


def _bulk(ctx, result, probe, key):
    from django.db.models import Q

    from orders.models import Order, OrderItem
    from tests.factories import order_payload

    shop = ctx.world.shops["A1"]
    bad_fields = [
        {"unit_price": "-5.00"}, {"total": "1e30"}, {"created_at": "0001-01-01T00:00:00+14:00"},
        {"buyer": {"name": "\u0000"}}, {"total": "-1.00"}, {"shipping_fee": "-8.00"},
        {"native_status": "\ud800"}, {"platform_order_id": "\u0000"},
    ]  # fmt: skip
    size = ctx.size(20, 500)
    for bad in bad_fields:
        orders = []
        for i in range(size):
            payload = order_payload(shop, "WAIT_SELLER_SEND_GOODS")
            payload["shop"] = shop.pk
            payload["platform_order_id"] = f"SOAKBULK{id(bad)}{i}"
            orders.append(payload)
        target = orders[size // 2]
        if "unit_price" in bad:
            target["items"][0]["unit_price"] = bad["unit_price"]
        elif "name" in bad.get("buyer", {}):
            target["buyer"]["name"] = bad["buyer"]["name"]
        else:
            target.update(bad)
        raw = json.dumps({"orders": orders}).encode()
        response = probe(key, "POST", "/api/v1/orders/bulk-upsert/", raw=raw, batch=True,
                         label=f"POST bulk-upsert x{size} with {json.dumps(bad)[:40]}")  # fmt: skip
        if response is not None and response.status_code == 200:
            body = response.json()
            text = json.dumps(body)
            result.check("error" in text,
                         f"bulk-upsert with {json.dumps(bad)[:40]}: 200 without a per-item error",
                         kind="bulk: bad item not reported")  # fmt: skip
    negative = (
        Order.objects.filter(
            Q(total__lt=0) | Q(shipping_fee__lt=0), organisation=shop.organisation
        ).count()
        + OrderItem.objects.filter(unit_price__lt=0, order__shop=shop).count()
    )
    result.check(
        negative == 0,
        f"{negative} negative amounts stored",
        kind="negative money stored",
    )
