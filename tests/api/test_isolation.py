"""Tenant isolation over every operation of the OpenAPI schema.

The operations are read from ``/api/v1/schema/`` at collection time, so an endpoint
added later is covered without touching this file (or fails loudly here, when one of
its path parameters names a resource this file cannot yet fill in: see RESOURCES).

Organisation A has a shop, orders in several statuses, a webhook subscription and a
delivery; organisation B has its own, and an API key with every scope. With B's key:

- an operation on one of A's objects (``{order_id}``, ``{subscription_id}``, …) answers
  404 with the one error body, exactly as for an id that does not exist, and A's data
  is unchanged (orders' version, status, memo, …; subscriptions, deliveries, events);
- a batch over A's ids answers ``not_found`` for each and changes nothing;
- a list shows none of A's ids, order numbers, names, URLs or secrets;
- any other call (a create, an upsert) with A's ids in its body changes nothing of A.

An operation the schema declares without authentication (a platform's inbound webhook)
is called without credentials: 401 or 404, and nothing written.
Also: a key limited to shop S1 gets 404 for orders of shop S2 of the same organisation,
and a signed-in member of B gets 404 for A's objects.
"""

import json
import re
import uuid
from dataclasses import dataclass, field

import pytest
from django.test import Client
from rest_framework.test import APIClient

from aftersales.models import Case, CaseEvent
from aftersales.services import open_case
from integrations.models import (
    ApiKey,
    InboundEvent,
    Scope,
    WebhookDelivery,
    WebhookSubscription,
)
from logistics.models import Carrier, Package, PrintBatch, PrintBatchPackage
from orders.api.views import BATCH_INPUTS
from orders.models import (
    Notification,
    Order,
    OrderDeadline,
    OrderEvent,
    OrderItem,
    Shop,
    Violation,
)
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v1/schema/?format=json"
METHODS = ("get", "post", "put", "patch", "delete")
# Collected before pytest-django's test environment (and its ALLOWED_HOSTS) is set up.
SCHEMA = json.loads(Client().get(SCHEMA_URL, HTTP_HOST="localhost").content)
MISSING_ID = 999_999_999
UNAUTHENTICATED_STATUSES = (401, 404)
STATUSES = ["UNPAID", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT"]
# Every field a batch body may need; each action's input ignores the others.
BATCH_BODY = {"reason": "seller_cancel_reason_out_of_stock", "memo": "x", "flag": "red"}


# --- the schema's operations ------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict = field(hash=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_parameters(self) -> list[dict]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def is_unauthenticated(self) -> bool:
        """No security requirement, or an empty one (authentication optional)."""
        security = self.spec.get("security", SCHEMA.get("security"))
        return not security or {} in security

    @property
    def example_body(self) -> dict | None:
        """The request schema's first example, else ``{}``; None without a body."""
        if self.method in ("get", "delete"):
            return None
        content = self.spec.get("requestBody", {}).get("content", {})
        media = content.get("application/json", {})
        for example in media.get("examples", {}).values():
            if "value" in example:
                return json.loads(json.dumps(example["value"]))
        return json.loads(json.dumps(media.get("example", {})))

    @property
    def is_batch(self) -> bool:
        body = self.spec.get("requestBody", {}).get("content", {})
        ref = body.get("application/json", {}).get("schema", {}).get("$ref", "")
        properties = (
            SCHEMA["components"]["schemas"]
            .get(ref.rsplit("/", 1)[-1], {})
            .get("properties", {})
        )
        return "/batch/" in self.path and "ids" in properties


OPERATIONS = [
    Operation(method, path, spec)
    for path, item in SCHEMA["paths"].items()
    for method, spec in item.items()
    if method in METHODS
]


def resource_of(name: str, path: str) -> str:
    """``order_id`` → order; ``{id}`` after ``/webhooks/`` → webhook; deliveries → delivery."""
    resource = name.removesuffix("_id").removesuffix("_pk")
    if resource in ("id", "pk"):
        resource = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource.removesuffix("s")


# Which of a tenant's objects a path parameter names, by resource.
RESOURCES = (
    "order", "shop", "subscription", "webhook", "delivery", "event", "batch", "case",
)  # fmt: skip


def _ops(predicate) -> list:
    return [pytest.param(op, id=op.label) for op in OPERATIONS if predicate(op)]


def _on_objects(op: Operation) -> bool:
    return (
        not op.is_unauthenticated
        and bool(op.path_parameters)
        and not op.is_batch
        and all(
            resource_of(p["name"], op.path) in RESOURCES for p in op.path_parameters
        )
    )


OBJECT_OPERATIONS = _ops(_on_objects)
BATCH_OPERATIONS = _ops(lambda op: not op.is_unauthenticated and op.is_batch)
LIST_OPERATIONS = _ops(
    lambda op: (
        not op.is_unauthenticated and not op.path_parameters and op.method == "get"
    )
)
OTHER_OPERATIONS = _ops(
    lambda op: (
        not op.is_unauthenticated and not op.path_parameters and op.method != "get"
    )
)
UNAUTHENTICATED_OPERATIONS = _ops(lambda op: op.is_unauthenticated)
ORDER_OPERATIONS = _ops(
    lambda op: (
        _on_objects(op)
        and {resource_of(p["name"], op.path) for p in op.path_parameters} == {"order"}
    )
)
SESSION_READS = _ops(lambda op: _on_objects(op) and op.method == "get")


def test_every_operation_is_covered():
    """Each operation falls in one of the groups below; none is silently left out."""
    groups = [
        OBJECT_OPERATIONS,
        BATCH_OPERATIONS,
        LIST_OPERATIONS,
        OTHER_OPERATIONS,
        UNAUTHENTICATED_OPERATIONS,
    ]
    covered = {param.id for group in groups for param in group}
    missing = sorted({op.label for op in OPERATIONS} - covered)
    assert not missing, (
        f"No isolation check for {missing}: teach RESOURCES / resource_of() what "
        "their path parameters name"
    )
    assert OBJECT_OPERATIONS
    assert LIST_OPERATIONS
    assert BATCH_OPERATIONS


# --- two tenants ---------------------------------------------------------------------------


@dataclass
class Tenant:
    organisation: object
    shops: list
    orders: list
    subscription: object
    delivery: object
    markers: list[str]  # strings only this tenant's data contains
    batch: object = None  # a print batch (logistics)

    @property
    def ids(self) -> dict[str, list]:
        """Read now, oldest first: what the tenant has after a call is all its own (an
        object it just created may share its id with another tenant's case)."""
        organisation = self.organisation
        subscriptions = [
            *WebhookSubscription.objects.filter(organisation=organisation)
            .order_by("pk")
            .values_list("pk", flat=True)
        ]
        return {
            "order": [order.pk for order in self.orders],
            "shop": [shop.pk for shop in self.shops],
            "subscription": subscriptions,
            "webhook": subscriptions,
            "delivery": [
                *WebhookDelivery.objects.filter(subscription__organisation=organisation)
                .order_by("pk")
                .values_list("pk", flat=True)
            ],
            "batch": [
                *PrintBatch.objects.filter(organisation=organisation)
                .order_by("pk")
                .values_list("pk", flat=True)
            ],
            "case": [
                *Case.objects.filter(organisation=organisation)
                .order_by("pk")
                .values_list("pk", flat=True)
            ],
            "event": [
                *OrderEvent.objects.filter(order__in=self.orders).values_list(
                    "pk", flat=True
                )
            ],
        }

    def snapshot(self) -> dict:
        """Everything of the tenant an API call could change."""
        organisation = self.organisation
        orders = Order.objects.filter(shop__organisation=organisation)
        return {
            "shops": list(
                Shop.objects.filter(organisation=organisation).order_by("pk").values()
            ),
            "orders": list(orders.order_by("pk").values()),
            "items": list(
                OrderItem.objects.filter(order__in=orders).order_by("pk").values()
            ),
            "events": list(
                OrderEvent.objects.filter(order__in=orders)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            "deadlines": list(
                OrderDeadline.objects.filter(order__in=orders).order_by("pk").values()
            ),
            "subscriptions": list(
                WebhookSubscription.objects.filter(organisation=organisation)
                .order_by("pk")
                .values()
            ),
            "deliveries": list(
                WebhookDelivery.objects.filter(subscription__organisation=organisation)
                .order_by("pk")
                .values()
            ),
            "inbound": InboundEvent.objects.filter(
                shop__organisation=organisation
            ).count(),
            "violations": Violation.objects.filter(organisation=organisation).count(),
            "notifications": Notification.objects.filter(
                organisation=organisation
            ).count(),
            "cases": list(
                Case.objects.filter(organisation=organisation).order_by("pk").values()
            ),
            "case_events": CaseEvent.objects.filter(
                case__organisation=organisation
            ).count(),
        }


def make_tenant(tag: str, platform: str = "tiktok", shops: int = 1) -> Tenant:
    shop_list = [
        ShopFactory(
            platform=platform,
            name=f"{tag}-shop-{n}",
            platform_shop_id=f"{tag}-platform-shop-{n}",
        )
        for n in range(shops)
    ]
    for shop in shop_list[1:]:
        shop.organisation = shop_list[0].organisation
        shop.save(update_fields=["organisation"])
    organisation = shop_list[0].organisation
    buyer = {"nick": f"{tag}-nick", "name": f"{tag}-buyer", "phone": "13900001111"}
    orders = [
        make_order(shop, status, buyer={**buyer, "email": ""})
        for shop in shop_list
        for status in STATUSES
    ]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        seller_memo=f"{tag}-memo"
    )
    subscription = WebhookSubscription.objects.create(
        organisation=organisation,
        url=f"https://{tag}.example/hook",
        events=["order.updated"],
        secret=f"{tag}-secret-{uuid.uuid4().hex}",
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="order.updated",
        payload={"order": orders[0].platform_order_id, "tag": f"{tag}-payload"},
    )
    markers = [
        *(o.platform_order_id for o in orders),
        *(s.name for s in shop_list),
        *(s.platform_shop_id for s in shop_list),
        f"{tag}-nick",
        f"{tag}-buyer",
        f"{tag}-memo",
        subscription.url,
        subscription.secret,
        str(delivery.event_id),
        f"{tag}-payload",
    ]
    batch = PrintBatch.objects.create(
        organisation=organisation, created_by=f"{tag}-warehouse", label_count=1
    )
    package = Package.objects.create(
        organisation=organisation,
        order=orders[0],
        carrier=Carrier.objects.get(code="YTO"),
        tracking_number=f"YT{uuid.uuid4().int % 10**13:013d}",
    )
    PrintBatchPackage.objects.create(batch=batch, package=package, sequence=1)
    case, _ = open_case(
        orders[3],  # in transit: a return request
        "return",
        Actor.platform(platform),
        platform_case_id=f"{tag}-case-1",
        reason=f"{tag}-case-reason",
    )
    markers += [case.platform_case_id, case.reason]
    return Tenant(
        organisation, shop_list, orders, subscription, delivery, markers, batch
    )


@pytest.fixture
def a():
    return make_tenant("tenant-a", shops=2)


@pytest.fixture
def b(a):  # created after A, so both exist whatever the order of fixtures
    return make_tenant("tenant-b")


def key_client(organisation, shops=()) -> APIClient:
    key, raw = ApiKey.issue(
        organisation=organisation,
        name="isolation",
        scopes=list(Scope.values),
        rate_limit_per_minute=100_000,
    )
    key.shops.set(shops)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def b_client(b):
    return key_client(b.organisation)


# --- helpers ----------------------------------------------------------------------------


def fill_path(op: Operation, ids: dict[str, list]) -> str:
    path = op.path
    for parameter in op.path_parameters:
        value = ids[resource_of(parameter["name"], op.path)][0]
        path = path.replace("{" + parameter["name"] + "}", str(value))
    return path


def call(client, op: Operation, path: str, body=None):
    if body is None:
        body = op.example_body
    kwargs = {"format": "json"} if body is not None else {}
    return getattr(client, op.method)(path, body, **kwargs)


def error_code(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


def id_like_values(data, key: str = "") -> set[int]:
    """Integers under keys that hold ids: id, ids, *_id, shop, order, …"""
    found: set[int] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            found |= id_like_values(v, k)
    elif isinstance(data, list):
        for v in data:
            found |= id_like_values(v, key)
    elif isinstance(data, int) and not isinstance(data, bool):
        idish = key in ("id", "ids", *RESOURCES) or key.endswith("_id")
        if idish:
            found.add(data)
    return found


def assert_nothing_of(
    tenant: Tenant, response, *, visible: Tenant, sent: frozenset = frozenset()
) -> None:
    """The response shows none of ``tenant``'s markers or (unambiguous) ids.

    Ids the caller ``sent`` may be echoed (``{"order_id": 5}`` in a 404's details, a
    batch's per-id results): that tells the caller nothing new.
    """
    text = response.content.decode()
    leaked = [marker for marker in tenant.markers if marker in text]
    assert not leaked, f"{leaked} leaked in {text[:500]}"
    if not text or not response["Content-Type"].startswith("application/json"):
        return
    # An id both tenants have (order 7 of A, shop 7 of B) proves nothing either way.
    own = {i for ids in visible.ids.values() for i in ids}
    theirs = {i for ids in tenant.ids.values() for i in ids} - own - sent
    assert not id_like_values(response.json()) & theirs, text[:500]


def substitute_ids(body, ids: dict[str, list]):
    """The body with every integer id field (``shop``, ``order_id``, ``ids``) → ``ids``."""
    if isinstance(body, list):
        return [substitute_ids(value, ids) for value in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        resource = "order" if key in ("id", "ids") else resource_of(key, "")
        is_int = isinstance(value, int) and not isinstance(value, bool)
        is_ints = isinstance(value, list) and value and isinstance(value[0], int)
        if resource in ids and (is_int or is_ints):
            out[key] = list(ids[resource]) if is_ints else ids[resource][0]
        else:
            out[key] = substitute_ids(value, ids)
    return out


# --- B's key against A's data -----------------------------------------------------------


@pytest.mark.parametrize("op", OBJECT_OPERATIONS)
def test_others_objects_are_not_found(op, a, b, b_client):
    before = a.snapshot()
    response = call(b_client, op, fill_path(op, a.ids))
    missing = call(
        b_client, op, fill_path(op, {name: [MISSING_ID] for name in RESOURCES})
    )
    assert response.status_code == 404, response.content
    assert error_code(response) == "not_found"
    # Indistinguishable from an id that does not exist.
    assert (missing.status_code, error_code(missing)) == (404, "not_found")
    assert a.snapshot() == before
    sent = frozenset(
        a.ids[resource_of(p["name"], op.path)][0] for p in op.path_parameters
    )
    assert_nothing_of(a, response, visible=b, sent=sent)


@pytest.mark.parametrize("op", BATCH_OPERATIONS)
def test_batches_answer_not_found_for_each_of_others_orders(op, a, b, b_client):
    names = {p["name"]: p.get("schema", {}) for p in op.path_parameters}
    before = a.snapshot()
    for name, declared in names.items():
        for value in declared.get("enum") or sorted(BATCH_INPUTS):
            path = op.path.replace("{" + name + "}", value)
            body = {**BATCH_BODY, "ids": a.ids["order"]}
            response = call(b_client, op, path, body)
            assert response.status_code == 200, (value, response.content)
            results = response.json()["results"]
            assert [r["id"] for r in results] == a.ids["order"]
            assert all(not r["ok"] for r in results), (value, results)
            assert {r["error"]["code"] for r in results} == {"not_found"}
            assert response.json()["failed"] == len(a.ids["order"])
            assert_nothing_of(a, response, visible=b, sent=frozenset(a.ids["order"]))
    assert a.snapshot() == before


@pytest.mark.parametrize("op", LIST_OPERATIONS)
def test_lists_show_nothing_of_others(op, a, b, b_client):
    response = call(b_client, op, op.path)
    assert response.status_code == 200, response.content
    assert_nothing_of(a, response, visible=b)
    if op.path.endswith("/orders/"):  # the check can see something: B's own orders
        assert b.orders[0].platform_order_id in response.content.decode()


@pytest.mark.parametrize("op", OTHER_OPERATIONS)
def test_writes_with_others_ids_change_nothing_of_theirs(op, a, b, b_client):
    before = a.snapshot()
    body = substitute_ids(op.example_body, a.ids)
    response = call(b_client, op, op.path, body)
    assert response.status_code < 500, response.content
    assert a.snapshot() == before
    assert_nothing_of(a, response, visible=b, sent=frozenset(id_like_values(body)))


@pytest.mark.parametrize("op", UNAUTHENTICATED_OPERATIONS)
def test_unauthenticated_operations_write_nothing(op, a, b):
    """A platform's inbound webhook: unsigned, a key does not make it valid."""
    before = a.snapshot()
    ids = {**a.ids}
    path = op.path
    for parameter in op.path_parameters:
        declared = parameter.get("schema", {})
        resource = resource_of(parameter["name"], op.path)
        if resource in ids:
            value = ids[resource][0]
        elif declared.get("enum"):
            value = (
                a.shops[0].platform
                if a.shops[0].platform in declared["enum"]
                else declared["enum"][0]
            )
        else:
            value = a.shops[0].platform
        path = path.replace("{" + parameter["name"] + "}", str(value))
    for client in (APIClient(), key_client(b.organisation)):
        response = call(client, op, path, substitute_ids(op.example_body, ids))
        assert response.status_code in UNAUTHENTICATED_STATUSES, response.content
        assert_nothing_of(a, response, visible=b)
    assert a.snapshot() == before


# --- a key limited to some shops, a signed-in member --------------------------------------


@pytest.mark.parametrize("op", ORDER_OPERATIONS)
def test_a_shop_limited_key_does_not_reach_other_shops(op, a):
    s1, s2 = a.shops
    client = key_client(a.organisation, shops=[s1])
    s2_orders = [o.pk for o in a.orders if o.shop_id == s2.pk]
    before = a.snapshot()
    response = call(client, op, fill_path(op, {"order": s2_orders}))
    assert response.status_code == 404, response.content
    assert error_code(response) == "not_found"
    assert a.snapshot() == before
    s1_order = next(o.pk for o in a.orders if o.shop_id == s1.pk)
    if op.method == "get":
        assert call(client, op, fill_path(op, {"order": [s1_order]})).status_code == 200


def test_a_shop_limited_key_lists_and_batches_only_its_shops(a):
    s1, s2 = a.shops
    client = key_client(a.organisation, shops=[s1])
    listed = client.get("/api/v1/orders/?page_size=200").json()["results"]
    assert {row["shop"] for row in listed} == {s1.pk}
    assert [s["id"] for s in client.get("/api/v1/shops/").json()] == [s1.pk]
    s2_orders = [o.pk for o in a.orders if o.shop_id == s2.pk]
    before = a.snapshot()
    response = client.post(
        "/api/v1/orders/batch/memo/", {"ids": s2_orders, "memo": "x"}, format="json"
    )
    assert {r["error"]["code"] for r in response.json()["results"]} == {"not_found"}
    assert a.snapshot() == before


@pytest.mark.parametrize("op", SESSION_READS)
def test_a_signed_in_member_of_another_organisation_gets_404(op, a, b):
    member = MembershipFactory(organisation=b.organisation)
    client = APIClient()
    client.force_login(member.user)
    response = call(client, op, fill_path(op, a.ids))
    assert response.status_code == 404, response.content
    assert error_code(response) == "not_found"
    own = call(client, op, fill_path(op, b.ids))
    assert own.status_code == 200, own.content


def test_a_signed_in_member_of_another_organisation_cannot_act_on_an_order(a, b):
    member = MembershipFactory(organisation=b.organisation)
    client = APIClient()
    client.force_login(member.user)
    order = a.orders[1]
    before = a.snapshot()
    response = client.post(
        f"/api/v1/orders/{order.pk}/memo/", {"memo": "mine"}, format="json"
    )
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert a.snapshot() == before


def test_the_schema_is_served_as_json_at_format_json():
    response = Client().get(SCHEMA_URL)
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert re.match(r"3\.\d", json.loads(response.content)["openapi"])
