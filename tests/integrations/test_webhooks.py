"""Outbound webhooks: fan-out after commit, signed delivery to a real local HTTP server,
back-off and giving up, the retry sweep, redelivery, and the API's organisation isolation.

Celery never runs here: the task's ``delay`` is replaced by a recorder, and tests call
``deliver`` directly. Signatures are checked with an implementation written here.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import webhooks
from integrations.models import Scope, WebhookDelivery, WebhookSubscription
from integrations.tasks import deliver_webhook_task
from oms.core.errors import ValidationFailed
from orders.choices import DeadlineKind, Role
from orders.deadlines import process_due_deadlines
from orders.jobs import JOBS, run_job
from orders.services import Actor, apply_event
from tests.api.conftest import key_client
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.race import race

pytestmark = pytest.mark.django_db

# --- a real endpoint ----------------------------------------------------------------


class Endpoint:
    """A local HTTP server that records every request and answers with ``status``.

    Recorded headers are case-insensitive, as HTTP header names are.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.location = ""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                endpoint.requests.append(
                    {"path": self.path, "headers": self.headers, "body": body}
                )
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                self.send_response(endpoint.status)
                if endpoint.location:
                    self.send_header("Location", endpoint.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def enqueued(monkeypatch):
    """Task ids the code enqueued (instead of a broker)."""
    ids: list[int] = []
    monkeypatch.setattr(deliver_webhook_task, "delay", ids.append)
    return ids


@pytest.fixture
def shop(db):
    return ShopFactory(platform="taobao")


def subscribe(organisation, url, events=webhooks.EVENT_TYPES, **fields):
    return webhooks.create_subscription(
        organisation=organisation, url=url, events=list(events), **fields
    )


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Independent of integrations.webhooks.sign: what a receiver would compute."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    mac.update(timestamp.encode("ascii") + b"." + body)
    return mac.hexdigest()


def parse_signature(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(","))


def ship(order, capture):
    with capture(execute=True):
        apply_event(order.pk, "ship", Actor.platform("taobao"))


# --- fan-out and signed delivery ---------------------------------------------------


def test_a_shipment_is_delivered_signed_with_the_exact_body(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    subscription = subscribe(
        shop.organisation,
        endpoint.url,
        [webhooks.ORDER_STATUS_CHANGED, webhooks.ORDER_SHIPPED],
    )
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    assert WebhookDelivery.objects.count() == 0  # created event: not subscribed

    ship(order, django_capture_on_commit_callbacks)

    deliveries = {d.event_type: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {"order.status_changed", "order.shipped"}
    assert sorted(enqueued) == sorted(d.pk for d in deliveries.values())
    shipped = deliveries["order.shipped"]
    assert shipped.subscription == subscription
    assert shipped.status == "pending"
    payload = shipped.payload
    assert payload["id"] == str(shipped.event_id)
    assert payload["type"] == "order.shipped"
    assert payload["data"]["order"]["id"] == order.pk
    assert payload["data"]["order"]["native_status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert payload["data"]["order"]["stage"] == "shipped"
    assert payload["data"]["order"]["buyer"]["phone"] == "138****5678"
    assert payload["data"]["change"]["from_stage"] == "awaiting_shipment"
    assert payload["data"]["change"]["to_status"] == "WAIT_BUYER_CONFIRM_GOODS"

    before = int(time.time())
    delivered = webhooks.deliver(shipped.pk)
    after = int(time.time())

    (request,) = endpoint.requests
    headers = request["headers"]
    assert request["path"] == "/hooks"
    assert json.loads(request["body"]) == payload
    assert headers["Content-Type"] == "application/json"
    assert headers["X-OMS-Event"] == "order.shipped"
    assert headers["X-OMS-Event-Id"] == str(shipped.event_id)
    assert headers["X-OMS-Delivery"] == str(shipped.pk)
    signature = parse_signature(headers["X-OMS-Signature"])
    assert before <= int(signature["t"]) <= after
    assert signature["v1"] == expected_signature(
        subscription.secret, signature["t"], request["body"]
    )
    assert delivered.status == "succeeded"
    assert delivered.attempts == 1
    assert delivered.last_status_code == 200
    assert delivered.delivered_at is not None

    # Idempotent: a succeeded delivery is never sent again (a duplicated task).
    webhooks.deliver(shipped.pk)
    deliver_webhook_task.run(shipped.pk)
    assert len(endpoint.requests) == 1


def test_the_signature_covers_the_timestamp_for_replay_protection(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    """A receiver rejects stale ``t``; an attacker cannot re-sign with a fresh ``t``."""
    subscription = subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_SHIPPED])
    ship(make_order(shop, "WAIT_SELLER_SEND_GOODS"), django_capture_on_commit_callbacks)
    webhooks.deliver(WebhookDelivery.objects.get().pk)
    (request,) = endpoint.requests
    signature = parse_signature(request["headers"]["X-OMS-Signature"])
    fresh = str(int(signature["t"]) + 600)
    assert signature["v1"] != expected_signature(
        subscription.secret, fresh, request["body"]
    )
    assert (
        signature["v1"]
        != hmac.new(
            subscription.secret.encode(), request["body"], hashlib.sha256
        ).hexdigest()
    )  # the body alone is not what is signed
    assert signature["v1"] != expected_signature(
        "another secret", signature["t"], request["body"]
    )


def test_created_events_go_only_to_matching_active_subscriptions_of_the_organisation(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    wanted = subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_CREATED])
    subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_SHIPPED])
    subscribe(
        shop.organisation, endpoint.url, [webhooks.ORDER_CREATED], is_active=False
    )
    other = ShopFactory(platform="taobao")
    subscribe(other.organisation, endpoint.url)

    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(shop, "WAIT_SELLER_SEND_GOODS")

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.subscription == wanted
    assert delivery.event_type == "order.created"
    assert delivery.payload["data"]["order"]["id"] == order.pk
    assert enqueued == [delivery.pk]


def test_nothing_is_written_for_a_rolled_back_change(shop, endpoint, enqueued):
    subscribe(shop.organisation, endpoint.url)
    make_order(shop, "WAIT_SELLER_SEND_GOODS")  # on_commit never runs in this test
    assert WebhookDelivery.objects.count() == 0
    assert enqueued == []


def test_a_ship_warning_is_a_deadline_at_risk_event(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_DEADLINE_AT_RISK])
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    early = order.deadlines.get(kind=DeadlineKind.SHIP_WARNING_EARLY)
    with django_capture_on_commit_callbacks(execute=True):
        process_due_deadlines(now=early.due_at + timedelta(seconds=1))

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "order.deadline_at_risk"
    change = delivery.payload["data"]["change"]
    assert change["warning"] == "ship_warning_early"
    assert delivery.payload["data"]["order"]["id"] == order.pk


def test_fan_out_is_a_constant_number_of_queries_and_runs_once(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    from orders.models import OrderEvent

    subscribe(shop.organisation, endpoint.url)
    subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_CREATED])
    orders = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(6)]
    ids = list(OrderEvent.objects.filter(order__in=orders).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as one:
        webhooks.on_order_events(ids[:1])
    with CaptureQueriesContext(connection) as many:
        webhooks.on_order_events(ids[1:])
    assert len(many) == len(one)
    assert WebhookDelivery.objects.count() == 12  # 6 events x 2 subscriptions
    # The same events again (a handler run twice): nothing new, same event ids.
    webhooks.on_order_events(ids)
    assert WebhookDelivery.objects.count() == 12


# --- failure, back-off, giving up -------------------------------------------------


def test_a_failing_endpoint_is_retried_on_the_back_off_then_given_up(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    endpoint.status = 500
    subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_SHIPPED])
    ship(make_order(shop, "WAIT_SELLER_SEND_GOODS"), django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()
    assert [w.total_seconds() for w in webhooks.BACKOFF] == [
        60, 300, 1800, 7200, 21600, 54000,
    ]  # fmt: skip
    assert webhooks.MAX_ATTEMPTS == 7
    with time_machine.travel(start, tick=False) as traveller:
        for attempt, wait in enumerate(webhooks.BACKOFF, start=1):
            delivery = webhooks.deliver(delivery.pk)
            assert delivery.status == "pending"
            assert delivery.attempts == attempt
            assert delivery.last_status_code == 500
            assert "HTTP 500" in delivery.last_error
            assert delivery.next_attempt_at == timezone.now() + wait
            # Not due yet: calling again sends nothing.
            traveller.shift(wait - timedelta(seconds=1))
            webhooks.deliver(delivery.pk)
            assert len(endpoint.requests) == attempt
            traveller.shift(timedelta(seconds=1))
        delivery = webhooks.deliver(delivery.pk)
        assert delivery.status == "failed"
        assert delivery.attempts == 7
        assert timezone.now() - start >= timedelta(hours=23)
        traveller.shift(timedelta(days=2))
        webhooks.deliver(delivery.pk)
    assert len(endpoint.requests) == 7
    # Every try carried the same event id.
    assert {r["headers"]["X-OMS-Event-Id"] for r in endpoint.requests} == {
        str(delivery.event_id)
    }


def test_a_redirect_or_an_unreachable_endpoint_is_a_failure(shop, endpoint, enqueued):
    endpoint.status, endpoint.location = 302, "http://127.0.0.1:9/elsewhere"
    subscription = subscribe(shop.organisation, endpoint.url)
    delivery = webhooks.publish(
        organisation_id=shop.organisation_id,
        event_type=webhooks.AFTERSALES_OPENED,
        data={"case": 1},
    )[0]
    result = webhooks.deliver(delivery)
    assert result.status == "pending"
    assert result.last_status_code == 302
    assert len(endpoint.requests) == 1

    subscription.url = "http://127.0.0.1:9/closed"  # discard port: refused
    subscription.save()
    WebhookDelivery.objects.filter(pk=delivery).update(next_attempt_at=timezone.now())
    result = webhooks.deliver(delivery)
    assert result.attempts == 2
    assert result.last_status_code is None
    assert result.last_error


# --- the retry sweep ---------------------------------------------------------------


def _delivery(subscription, **fields) -> WebhookDelivery:
    event_id = uuid.uuid4()
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event_id=event_id,
        event_type="order.created",
        payload={"id": str(event_id), "type": "order.created", "data": {}},
        **fields,
    )


def test_the_sweep_enqueues_only_due_pending_deliveries(shop, endpoint, enqueued):
    subscription = subscribe(shop.organisation, endpoint.url)
    now = timezone.now()
    due = [
        _delivery(subscription, next_attempt_at=now - timedelta(minutes=i))
        for i in range(3)
    ]
    _delivery(subscription, next_attempt_at=now + timedelta(minutes=1))
    _delivery(
        subscription, next_attempt_at=now - timedelta(hours=1), status="succeeded"
    )
    _delivery(subscription, next_attempt_at=now - timedelta(hours=1), status="failed")

    counts, errors = webhooks.retry_due_deliveries(now, batch_size=2)
    assert errors == []
    assert counts["enqueued"] == 3
    assert sorted(enqueued) == sorted(d.pk for d in due)

    # The job registry runs it too (beat: orders.run_job("webhooks")).
    assert "webhooks" in JOBS
    run = run_job("webhooks", now=now)
    assert run.status == "succeeded"
    assert run.counts["enqueued"] == 3


# --- concurrency -------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_attempt(shop, endpoint, enqueued):
    endpoint.delay = 0.5
    subscription = subscribe(shop.organisation, endpoint.url)
    delivery = _delivery(subscription)
    results = race(
        lambda: webhooks.deliver(delivery.pk), lambda: webhooks.deliver(delivery.pk)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(endpoint.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 1


# --- URL rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://erp.example.com/hooks",
        "ftp://erp.example.com/hooks",
        "file:///etc/passwd",
        "https://user:pw@erp.example.com/",
        "https://bad_host!/",
        "not a url",
    ],
)
def test_refused_urls(settings, url):
    settings.DEBUG = False
    with pytest.raises(ValidationFailed):
        webhooks.validate_url(url)


def test_allowed_urls(settings):
    settings.DEBUG = False
    assert webhooks.validate_url("https://erp.example.com/hooks")
    # Loopback only because the test settings turn OMS_WEBHOOK_ALLOW_LOOPBACK on.
    assert webhooks.validate_url("http://localhost:8080/hooks")
    assert webhooks.validate_url("http://127.0.0.1:8080/hooks")
    settings.DEBUG = True
    assert webhooks.validate_url("http://erp.example.com/hooks")


# --- API ---------------------------------------------------------------------------


def error_code(response):
    return response.json()["error"]["code"]


def test_create_shows_the_secret_once(shop, endpoint):
    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    response = api.post(
        "/api/v1/webhooks/",
        {"url": endpoint.url, "events": ["order.created", "order.shipped"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert created["secret"] == subscription.secret
    assert subscription.organisation == shop.organisation
    assert created["events"] == ["order.created", "order.shipped"]

    listed = api.get("/api/v1/webhooks/").json()
    assert [row["id"] for row in listed] == [subscription.pk]
    assert "secret" not in listed[0]
    detail = api.get(f"/api/v1/webhooks/{subscription.pk}/").json()
    assert "secret" not in detail
    patched = api.patch(
        f"/api/v1/webhooks/{subscription.pk}/", {"is_active": False}, format="json"
    ).json()
    assert patched["is_active"] is False
    assert "secret" not in patched
    assert subscription.secret not in json.dumps([listed, detail, patched])


def test_create_validates_events_and_urls(shop, settings):
    settings.DEBUG = False
    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    bad_event = api.post(
        "/api/v1/webhooks/",
        {"url": "https://erp.example.com/h", "events": ["order.exploded"]},
        format="json",
    )
    assert bad_event.status_code == 400
    assert error_code(bad_event) == "invalid_input"
    plain_http = api.post(
        "/api/v1/webhooks/",
        {"url": "http://erp.example.com/h", "events": ["order.created"]},
        format="json",
    )
    assert plain_http.status_code == 400
    assert error_code(plain_http) == "invalid_input"
    assert WebhookSubscription.objects.count() == 0


def test_the_webhooks_scope_is_required(shop):
    api = key_client(shop.organisation, scopes=[Scope.ORDERS_READ])
    response = api.get("/api/v1/webhooks/")
    assert response.status_code == 403


def test_only_owners_manage_webhooks_when_signed_in(shop):
    client = APIClient()
    operator = MembershipFactory(organisation=shop.organisation, role=Role.OPERATOR)
    client.force_login(operator.user)
    assert client.get("/api/v1/webhooks/").status_code == 403
    owner = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client.force_login(owner.user)
    assert client.get("/api/v1/webhooks/").status_code == 200


def test_another_organisations_webhooks_are_404_and_invisible(shop, endpoint, enqueued):
    theirs = subscribe(ShopFactory(platform="taobao").organisation, endpoint.url)
    delivery = _delivery(theirs)
    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    assert api.get("/api/v1/webhooks/").json() == []
    base = f"/api/v1/webhooks/{theirs.pk}/"
    for response in (
        api.get(base),
        api.patch(base, {"is_active": False}, format="json"),
        api.delete(base),
        api.get(f"{base}deliveries/"),
        api.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "not_found"
    theirs.refresh_from_db()
    assert theirs.is_active
    assert WebhookDelivery.objects.count() == 1
    assert enqueued == []


def test_delivery_log_is_newest_first_and_paginated(shop, endpoint):
    subscription = subscribe(shop.organisation, endpoint.url)
    now = timezone.now()
    rows = [
        _delivery(subscription, created_at=now - timedelta(minutes=i)) for i in range(3)
    ]
    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    url = f"/api/v1/webhooks/{subscription.pk}/deliveries/"
    first = api.get(url, {"page_size": 2}).json()
    assert [r["id"] for r in first["results"]] == [rows[0].pk, rows[1].pk]
    assert first["results"][0]["event_id"] == str(rows[0].event_id)
    second = api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [rows[2].pk]
    assert second["next"] is None


def test_redelivery_through_the_api_sends_the_same_event_again(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks
):
    endpoint.status = 500
    subscription = subscribe(shop.organisation, endpoint.url, [webhooks.ORDER_SHIPPED])
    ship(make_order(shop, "WAIT_SELLER_SEND_GOODS"), django_capture_on_commit_callbacks)
    original = WebhookDelivery.objects.get()
    webhooks.deliver(original.pk)
    WebhookDelivery.objects.filter(pk=original.pk).update(status="failed")
    enqueued.clear()

    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/webhooks/deliveries/{original.pk}/redeliver/")
    assert response.status_code == 201, response.json()
    copy = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert copy.pk != original.pk
    assert copy.event_id == original.event_id
    assert copy.payload == original.payload
    assert copy.status == "pending"
    assert copy.attempts == 0
    assert enqueued == [copy.pk]

    endpoint.status = 200
    assert webhooks.deliver(copy.pk).status == "succeeded"
    first, second = endpoint.requests
    assert first["headers"]["X-OMS-Event-Id"] == second["headers"]["X-OMS-Event-Id"]
    assert first["headers"]["X-OMS-Delivery"] != second["headers"]["X-OMS-Delivery"]
    assert first["body"] == second["body"]
    signature = parse_signature(second["headers"]["X-OMS-Signature"])
    assert signature["v1"] == expected_signature(
        subscription.secret, signature["t"], second["body"]
    )
    log = api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").json()
    assert [r["id"] for r in log["results"]] == [copy.pk, original.pk]


def test_admin_redeliver_action(
    shop, endpoint, enqueued, django_capture_on_commit_callbacks, admin_client
):
    subscription = subscribe(shop.organisation, endpoint.url)
    delivery = _delivery(subscription, status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/integrations/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    copy = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert copy.event_id == delivery.event_id
    assert enqueued == [copy.pk]
    assert (
        admin_client.get("/admin/integrations/webhooksubscription/").status_code == 200
    )
    assert (
        admin_client.get(
            f"/admin/integrations/webhookdelivery/{delivery.pk}/change/"
        ).status_code
        == 200
    )
