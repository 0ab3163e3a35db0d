"""Webhook targets cannot reach inside (issue 11, failure 3) and the delivery log stays
organisation management (failure 2, the delivery log part).

No test here sends traffic anywhere but loopback: internal ranges are proven refused with
literal addresses (refused before any lookup) or with a stubbed resolver, and a guard on
``socket.create_connection`` fails the test if anything tries a non-loopback address.
"""

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import webhooks
from integrations.models import ApiKey, Scope, WebhookDelivery, WebhookSubscription
from oms.core.errors import ValidationFailed
from orders.choices import Role
from tests.factories import MembershipFactory, ShopFactory

pytestmark = pytest.mark.django_db

INTERNAL_URLS = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost:6379/",
    "https://localhost/",
    "https://LOCALHOST./",
    "https://api.localhost/",
    "https://169.254.169.254/latest/meta-data/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://10.0.0.1/hooks",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # CGNAT
    "https://100.100.100.200/",  # Alibaba Cloud metadata (in CGNAT)
    "https://0.0.0.0/",
    "https://224.0.0.1/",  # multicast
    "https://240.0.0.1/",  # reserved
    "https://255.255.255.255/",
    "https://[::1]/",
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "https://[::ffff:a00:1]/",  # IPv4-mapped 10.0.0.1
    "https://[fe80::1]/",
    "https://[fd00:ec2::254]/",  # AWS metadata over IPv6 (unique local)
    "https://[ff02::1]/",
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
    "https://2130706433/",  # 127.0.0.1 as one decimal number
    "https://0x7f.1/",  # 127.0.0.1 in hex, short form
    "https://0177.0.0.1/",  # 127.0.0.1 in octal
    "https://127.1/",
]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = False
    return settings


@pytest.fixture
def no_outside_traffic(monkeypatch):
    """Fail the test before any socket connects to an address that is not loopback."""
    real = socket.socket.connect
    tried: list[tuple] = []

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            tried.append(tuple(address[:2]))
            if not ipaddress.ip_address(address[0]).is_loopback:
                pytest.fail(f"a connection to {address} was attempted")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return tried


def stub_resolver(monkeypatch, *answers):
    """``socket.getaddrinfo`` answering each lookup of a name with the next list of
    addresses (the last one repeats); IP literals go to the real, numeric-only lookup."""
    real = socket.getaddrinfo
    calls: list[str] = []
    remaining = list(answers)

    def fake(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return real(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
        calls.append(host)
        addresses = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port or 443, 0, 0) if ":" in a else (a, port or 443),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


class Endpoint:
    """A loopback HTTP server recording requests; answers ``status`` with ``body``."""

    def __init__(self, status=200, body=b"ok") -> None:
        self.requests: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                endpoint.requests.append({"path": self.path, "headers": self.headers})
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def shop(db):
    return ShopFactory(platform="taobao")


def legacy_subscription(organisation, url) -> WebhookSubscription:
    """A row stored before the rules (or by SQL): validation is bypassed on purpose."""
    return WebhookSubscription.objects.create(
        organisation=organisation, url=url, events=list(webhooks.EVENT_TYPES)
    )


def pending_delivery(subscription) -> WebhookDelivery:
    return WebhookDelivery.objects.get(
        pk=webhooks.publish(
            organisation_id=subscription.organisation_id,
            event_type=webhooks.AFTERSALES_OPENED,
            data={"case": {"id": 1}},
        )[0]
    )


@pytest.fixture
def enqueued(monkeypatch):
    from integrations.tasks import deliver_webhook_task

    ids: list[int] = []
    monkeypatch.setattr(deliver_webhook_task, "delay", ids.append)
    return ids


# --- at subscription -----------------------------------------------------------------


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_targets_are_refused_at_subscription(
    production, no_outside_traffic, monkeypatch, url
):
    calls = stub_resolver(monkeypatch, ["93.184.216.34"])
    with pytest.raises(ValidationFailed):
        webhooks.validate_url(url)
    assert calls == []  # refused on its face, before any lookup
    assert no_outside_traffic == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hooks", "https://169.254.169.254/", "https://[::1]/"],
)
def test_the_api_refuses_internal_targets_and_stores_nothing(shop, production, url):
    from tests.api.conftest import key_client

    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    response = api.post(
        "/api/v1/webhooks/", {"url": url, "events": ["order.created"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert WebhookSubscription.objects.count() == 0
    subscription = webhooks.create_subscription(
        organisation=shop.organisation,
        url="https://erp.example.com/hooks",
        events=["order.created"],
    )
    response = api.patch(
        f"/api/v1/webhooks/{subscription.pk}/", {"url": url}, format="json"
    )
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.url == "https://erp.example.com/hooks"


def test_the_admin_form_refuses_internal_targets(shop, production, admin_client):
    response = admin_client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "organisation": shop.organisation_id,
            "url": "https://10.0.0.1/hooks",
            "events": ["order.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert WebhookSubscription.objects.count() == 0


def test_loopback_only_with_the_explicit_setting(settings):
    settings.DEBUG = False
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = True
    assert webhooks.validate_url("http://127.0.0.1:8080/hooks")
    assert webhooks.validate_url("http://localhost:8080/hooks")
    assert webhooks.validate_url("http://[::1]:8080/hooks")
    for url in (
        "http://10.0.0.1/",
        "https://169.254.169.254/",
        "http://erp.example.com/",
    ):
        with pytest.raises(ValidationFailed):
            webhooks.validate_url(url)
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationFailed):
        webhooks.validate_url("http://127.0.0.1:8080/hooks")


def test_deploy_check_warns_when_loopback_is_allowed_in_production(settings):
    from integrations.apps import check_webhook_targets

    settings.DEBUG = False
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = True
    assert [m.id for m in check_webhook_targets(None)] == ["integrations.W001"]
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = False
    assert check_webhook_targets(None) == []


# --- at delivery ---------------------------------------------------------------------


def test_a_stored_loopback_target_is_never_contacted_with_the_setting_off(
    shop, production, endpoint, enqueued, no_outside_traffic
):
    subscription = legacy_subscription(shop.organisation, endpoint.url)
    delivery = webhooks.deliver(pending_delivery(subscription).pk)
    assert endpoint.requests == []
    assert no_outside_traffic == []
    assert delivery.status == "failed"
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("Refused")


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["127.0.0.1"],
        ["100.64.0.1"],
        ["::ffff:10.0.0.1"],
        ["fd00:ec2::254"],
        ["0.0.0.0"],  # noqa: S104 - an address refused, not one bound
        ["93.184.216.34", "192.168.0.10"],  # one inside is enough to refuse
    ],
)
def test_a_name_resolving_inside_is_refused_at_delivery_without_connecting(
    shop, production, enqueued, monkeypatch, no_outside_traffic, addresses
):
    subscription = webhooks.create_subscription(
        organisation=shop.organisation,
        url="https://erp.example.com/hooks",
        events=list(webhooks.EVENT_TYPES),
    )
    calls = stub_resolver(monkeypatch, addresses)
    delivery = webhooks.deliver(pending_delivery(subscription).pk)
    assert calls == ["erp.example.com"]
    assert no_outside_traffic == []
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("Refused")


def test_delivery_connects_to_the_address_it_checked_keeping_the_host(
    shop, settings, endpoint, enqueued, monkeypatch, no_outside_traffic
):
    """DNS rebinding: the first answer is checked and used; a later answer (inside)
    is never asked for, and the request still names the subscribed host."""
    settings.DEBUG = True  # plain http to a name, as in development
    settings.OMS_WEBHOOK_ALLOW_LOOPBACK = True
    subscription = webhooks.create_subscription(
        organisation=shop.organisation,
        url=f"http://hooks.example.test:{endpoint.port}/hooks",
        events=list(webhooks.EVENT_TYPES),
    )
    calls = stub_resolver(monkeypatch, ["127.0.0.1"], ["10.0.0.1"])
    delivery = webhooks.deliver(pending_delivery(subscription).pk)
    assert delivery.status == "succeeded", delivery.last_error
    assert calls == ["hooks.example.test"]  # resolved once
    assert no_outside_traffic == [("127.0.0.1", endpoint.port)]
    (request,) = endpoint.requests
    assert request["headers"]["Host"] == f"hooks.example.test:{endpoint.port}"


def test_the_log_keeps_status_and_timing_never_the_answer(
    shop, enqueued, no_outside_traffic
):
    leaky = Endpoint(status=500, body=b"redis_version:7.2.4 secret-internal-answer")
    try:
        subscription = webhooks.create_subscription(
            organisation=shop.organisation,
            url=leaky.url,
            events=list(webhooks.EVENT_TYPES),
        )
        before = timezone.now()
        delivery = webhooks.deliver(pending_delivery(subscription).pk)
    finally:
        leaky.close()
    assert len(leaky.requests) == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert delivery.last_attempt_at >= before
    assert delivery.last_duration_ms is not None
    from tests.api.conftest import key_client

    api = key_client(shop.organisation, scopes=[Scope.WEBHOOKS])
    log = api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/")
    assert log.status_code == 200
    assert b"secret-internal-answer" not in log.content
    assert log.json()["results"][0]["last_error"] == "HTTP 500"


def test_a_redirect_is_not_followed(shop, enqueued, no_outside_traffic):
    target = Endpoint()
    redirecting = Endpoint(status=307)
    try:
        subscription = webhooks.create_subscription(
            organisation=shop.organisation,
            url=redirecting.url,
            events=list(webhooks.EVENT_TYPES),
        )
        delivery = webhooks.deliver(pending_delivery(subscription).pk)
    finally:
        target.close()
        redirecting.close()
    assert len(redirecting.requests) == 1
    assert target.requests == []
    assert delivery.status == "pending"
    assert delivery.last_status_code == 307


# --- the log is organisation management ----------------------------------------------


def shop_limited_key(shop, other_shop) -> APIClient:
    key, raw = ApiKey.issue(
        organisation=shop.organisation, name="one shop", scopes=[Scope.WEBHOOKS]
    )
    key.shops.add(shop)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_shop_limited_key_or_member_cannot_read_the_delivery_log(shop, enqueued):
    other_shop = ShopFactory(platform="taobao", organisation=shop.organisation)
    subscription = webhooks.create_subscription(
        organisation=shop.organisation,
        url="https://erp.example.com/hooks",
        events=list(webhooks.EVENT_TYPES),
    )
    delivery = pending_delivery(subscription)
    owner = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    limited_owner = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    limited_owner.shops.add(shop)
    member = APIClient()
    member.force_login(limited_owner.user)
    base = f"/api/v1/webhooks/{subscription.pk}/"
    for client in (shop_limited_key(shop, other_shop), member):
        for response in (
            client.get("/api/v1/webhooks/"),
            client.get(base),
            client.get(f"{base}deliveries/"),
            client.patch(base, {"is_active": False}, format="json"),
            client.post(
                "/api/v1/webhooks/",
                {"url": "https://erp.example.com/x", "events": ["order.created"]},
                format="json",
            ),
            client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/"),
        ):
            assert response.status_code == 403, response.content
            assert response.json()["error"]["code"] == "permission_denied"
    subscription.refresh_from_db()
    assert subscription.is_active
    assert WebhookSubscription.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
    # The same owner without a shop limit reads it.
    whole = APIClient()
    whole.force_login(owner.user)
    assert whole.get(f"{base}deliveries/").status_code == 200


# --- TLS: pinned to the checked address, verified for the URL's host ----------------


def _self_signed(directory, name: str) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(  # noqa: S603 - a fixed command line, no shell
        [
            shutil.which("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


class TlsEndpoint(Endpoint):
    """The loopback endpoint over TLS, recording the SNI name each client sent."""

    def __init__(self, cert: str, key: str) -> None:
        super().__init__()
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)


@pytest.mark.parametrize(
    "certificate_for", ["hooks.example.test", "other.example.test"]
)
def test_https_goes_to_the_checked_address_with_the_hosts_name_and_certificate(
    shop,
    production,
    enqueued,
    monkeypatch,
    no_outside_traffic,
    tmp_path,
    certificate_for,
):
    production.OMS_WEBHOOK_ALLOW_LOOPBACK = (
        True  # the only way to reach the test server
    )
    cert, key = _self_signed(tmp_path, certificate_for)
    trusting = ssl.create_default_context(cafile=cert)
    server = TlsEndpoint(cert, key)
    try:
        subscription = webhooks.create_subscription(
            organisation=shop.organisation,
            url=f"https://hooks.example.test:{server.port}/hooks",
            events=list(webhooks.EVENT_TYPES),
        )
        monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: trusting)
        stub_resolver(monkeypatch, ["127.0.0.1"], ["10.0.0.1"])
        delivery = webhooks.deliver(pending_delivery(subscription).pk)
    finally:
        server.close()
    assert no_outside_traffic == [("127.0.0.1", server.port)]
    assert server.server_names == ["hooks.example.test"]  # SNI: the URL's host
    if certificate_for == "hooks.example.test":
        assert delivery.status == "succeeded", delivery.last_error
        (request,) = server.requests
        assert request["headers"]["Host"] == f"hooks.example.test:{server.port}"
    else:  # verified against the URL's host, not the address connected to
        assert server.requests == []
        assert delivery.status == "pending"
        assert delivery.last_error == "TLS certificate not valid for the host"
