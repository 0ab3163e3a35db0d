"""Property-based conformance of the whole API against its own OpenAPI schema.

Schemathesis takes every operation the schema lists (including endpoints added later)
and sends the schema's examples and a bounded number of generated requests to a live
server, with an API key of an organisation that has data. Every response must not be a
5xx, must use a documented status code and content type, and its body must match the
documented schema.

Path parameters named like an id are drawn half of the time from the ids that exist, so
detail, timeline and action endpoints answer with real 200s, not only with 404s.

The schema is read at collection time (one pytest item per operation, named
``[GET /api/v1/orders/{order_id}/]``), from the same view the live server serves;
``test_the_live_server_serves_the_tested_schema`` proves the two are the same.
``schemathesis.pytest.from_fixture`` would load it from the live server directly, but
in schemathesis 4.32.5 it reads ``Node._nodeid``, which pytest 9.2 no longer has.
"""

import json

import hypothesis
import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from aftersales.services import open_case
from integrations.models import ApiKey, Scope, WebhookDelivery, WebhookSubscription
from logistics.models import PrintBatch
from orders.api.views import BATCH_INPUTS
from orders.services import Actor
from tests.factories import ShopFactory, make_order

MAX_EXAMPLES = 15
SEED = 20260101
SCHEMA_URL = "/api/v1/schema/?format=json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STATUSES = ["UNPAID", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT"]

# Collected before pytest-django's test environment (and its ALLOWED_HOSTS) is set up.
RAW_SCHEMA = json.loads(Client().get(SCHEMA_URL, HTTP_HOST="localhost").content)
# The ids of the organisation under test, per resource; filled by the ``tenant`` fixture
# and read while Hypothesis draws path parameters.
KNOWN_IDS: dict[str, list[int]] = {}

schema = schemathesis.openapi.from_dict(
    RAW_SCHEMA,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "positive",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"coverage": {"enabled": False}},
        }
    ),
)


def _resource(name: str, path: str) -> str:
    """``order_id`` → order; ``{id}`` after ``/webhooks/`` → webhook; ``deliveries`` → delivery."""
    resource = name.removesuffix("_id").removesuffix("_pk")
    if resource in ("id", "pk"):
        resource = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource.removesuffix("s")


@schema.hook
def flatmap_path_parameters(ctx, path_parameters):
    strategies = {}
    for name, value in (path_parameters or {}).items():
        known = KNOWN_IDS.get(_resource(name, ctx.operation.path), [])
        strategies[name] = (
            st.one_of(st.just(value), st.sampled_from(known))
            if known
            else st.just(value)
        )
    return st.fixed_dictionaries(strategies)


@pytest.fixture
def tenant(transactional_db):
    """An organisation with a shop, orders in several statuses and a webhook."""
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
    cases = [
        open_case(orders[2], "cancel", platform)[0],  # awaiting shipment
        open_case(orders[6], "return", platform)[0],  # in transit
    ]
    _, raw = ApiKey.issue(
        organisation=shop.organisation,
        name="schemathesis",
        scopes=list(Scope.values),
        rate_limit_per_minute=1_000_000,  # never 429 during the run
    )
    KNOWN_IDS.clear()
    KNOWN_IDS.update(
        order=[order.pk for order in orders],
        shop=[shop.pk],
        webhook=[subscription.pk],
        subscription=[subscription.pk],
        delivery=[delivery.pk],
        batch=[batch.pk],
        case=[case.pk for case in cases],
        action=sorted(BATCH_INPUTS),  # /orders/batch/{action}/
    )
    yield {"Authorization": f"Bearer {raw}"}
    KNOWN_IDS.clear()


@pytest.mark.django_db(transaction=True)
def test_the_live_server_serves_the_tested_schema(live_server):
    served = requests.get(live_server.url + SCHEMA_URL, timeout=10).json()
    assert served == RAW_SCHEMA


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_operation_conforms_to_the_schema(case, live_server, tenant):
    response = case.call(base_url=live_server.url, headers=tenant)
    case.validate_response(response, checks=CHECKS, headers=tenant)
