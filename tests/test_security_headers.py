"""Headers and start-up refusals (issue 11, failure 12): a Content-Security-Policy on
every page with no inline script or style to allow; ``Cache-Control: no-store`` on
signed-in pages and API replies; no start with a weak ``SECRET_KEY`` when DEBUG is off."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client

from aftersales import services
from aftersales.choices import CaseKind
from logistics import print_batches as pb
from logistics.models import Carrier, PrintBatch
from orders.choices import Role
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.logistics.test_shipping import make_pool

ROOT = Path(__file__).resolve().parent.parent


def csp_of(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.fixture
def owner_client(db):
    shop = ShopFactory(platform="tiktok")
    membership = MembershipFactory(
        organisation=shop.organisation,
        role=Role.OWNER,
        user__is_staff=True,
        user__is_superuser=True,
    )
    client = Client()
    client.force_login(membership.user)
    return client, shop


def signed_in_pages(client, shop) -> list[str]:
    """The dashboard's pages, with data that brings out their scripts and styles."""
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, _ = services.open_case(
        make_order(shop, "AWAITING_SHIPMENT"),
        CaseKind.CANCEL,
        Actor.platform(shop.platform),
        platform_case_id="C-1",
    )
    taobao = ShopFactory(platform="taobao", organisation=shop.organisation)
    carrier, _ = Carrier.objects.get_or_create(
        code="YUNDA",
        defaults={"name": "韵达快递", "platform_codes": {"taobao": "YUNDA"}},
    )
    make_pool(shop.organisation, carrier, count=5)
    parcel = make_order(taobao, "WAIT_SELLER_SEND_GOODS")
    batch, _ = pb.print_labels(
        organisation=shop.organisation,
        actor=Actor.system("test"),
        order_ids=[parcel.pk],
        carrier_code="YUNDA",
    )
    return [
        "/orders/",
        f"/orders/{order.pk}/",
        f"/orders/{parcel.pk}/",
        f"/orders/{order.pk}/buyer/",
        "/orders/?tab=attention",
        "/aftersales/",
        f"/aftersales/cases/{case.pk}/",
        "/warehouse/print/",
        "/warehouse/to-ship/",
        "/warehouse/pools/",
        "/warehouse/carriers/",
        f"/warehouse/batches/{batch.pk}/",
        f"/warehouse/batches/{batch.pk}/scan/",
        "/admin/",
        "/api/v1/docs/",
    ]


@pytest.mark.django_db
def test_every_page_carries_a_strict_content_security_policy(owner_client):
    client, shop = owner_client
    anonymous = Client()
    for client_, path in [(client, p) for p in signed_in_pages(client, shop)] + [
        (anonymous, "/login/"),
        (anonymous, "/admin/login/"),
    ]:
        response = client_.get(path)
        assert response.status_code == 200, path
        csp = csp_of(response)
        assert csp.get("default-src") == ["'self'"], path
        assert csp.get("script-src") == ["'self'"], path  # no 'unsafe-inline', no eval
        assert csp.get("style-src") == ["'self'"], path
        assert csp.get("object-src") == ["'none'"], path
        assert csp.get("base-uri") == ["'none'"], path
        assert csp.get("frame-ancestors") == ["'none'"], path
        assert csp.get("form-action") == ["'self'"], path


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style[\s>]", re.I), "an inline <style>"),
    (re.compile(r"\sstyle=\"", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+=\"", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


@pytest.mark.django_db
def test_pages_hold_nothing_the_policy_would_block(owner_client):
    """What a browser would refuse under ``script-src 'self'; style-src 'self'``."""
    client, shop = owner_client
    pages = signed_in_pages(client, shop)
    batch = PrintBatch.objects.get()
    scanned = client.post(
        f"/warehouse/batches/{batch.pk}/scan/", {"tracking_number": "nothing"}
    )
    assert b"data-outcome=" in scanned.content
    for path, html in [(p, client.get(p).content.decode()) for p in pages] + [
        ("scan result", scanned.content.decode())
    ]:
        for pattern, what in INLINE:
            match = pattern.search(html)
            assert match is None, f"{path} has {what}: {match and match.group(0)}"


@pytest.mark.django_db
def test_signed_in_pages_and_api_replies_are_not_stored(owner_client):
    client, shop = owner_client
    order = make_order(shop, "AWAITING_SHIPMENT")
    for path in ("/orders/", f"/orders/{order.pk}/", "/aftersales/", "/admin/"):
        response = client.get(path)
        assert "no-store" in response["Cache-Control"], path
    api = key_client(shop.organisation)
    for path in ("/api/v1/orders/", f"/api/v1/orders/{order.pk}/", "/api/v1/nope/"):
        response = api.get(path)
        assert "no-store" in response["Cache-Control"], path
    assert "no-store" in client.get("/api/v1/orders/").get("Cache-Control", "")


def test_static_files_stay_cacheable(settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/css/oms.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# --- the secret key ------------------------------------------------------------------


def start(tmp_path, **env) -> subprocess.CompletedProcess:
    """Load the production settings in a fresh interpreter, as gunicorn would."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}
    }
    environ.update(OMS_VAR_DIR=str(tmp_path), ALLOWED_HOSTS="oms.example.com", **env)
    return subprocess.run(  # this interpreter, a fixed module
        [sys.executable, "-c", "import oms.settings.base"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


STRONG = "k9$Lq2!vX7#pR4@wZ8^mT1&nB6*yC3(hF5)jD0-gS_aE+uQ=iW"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "change-me",
        "change-me-compose-insecure-secret-key",
        "dev-only-insecure-key-do-not-use-in-production",
        "django-insecure-" + STRONG,
        "x" * 60,  # long but one character
        "abab" * 20,  # too few distinct characters
        STRONG[:30],  # too short
    ],
)
def test_a_weak_secret_key_refuses_to_start_without_debug(tmp_path, key):
    result = start(tmp_path, DEBUG="false", SECRET_KEY=key)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr
    assert key[:20] not in result.stderr or not key  # the key itself is never printed


def test_a_strong_secret_key_starts_and_debug_accepts_a_dev_key(tmp_path):
    assert start(tmp_path, DEBUG="false", SECRET_KEY=STRONG).returncode == 0
    assert start(tmp_path, DEBUG="true", SECRET_KEY="change-me").returncode == 0


def test_compose_and_env_example_ask_for_a_strong_key():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    key = compose["x-app"]["environment"]["SECRET_KEY"]
    assert key.startswith("${SECRET_KEY:?"), key  # compose refuses to start without one
    example = (ROOT / ".env.example").read_text()
    assert "secrets.token_urlsafe" in example


def test_a_trusted_proxy_that_is_no_address_refuses_to_start(tmp_path):
    result = start(
        tmp_path,
        DEBUG="false",
        SECRET_KEY=STRONG,
        OMS_TRUSTED_PROXIES="10.0.0.0/8,proxy",
    )
    assert result.returncode != 0
    assert "OMS_TRUSTED_PROXIES" in result.stderr
    ok = start(
        tmp_path,
        DEBUG="false",
        SECRET_KEY=STRONG,
        OMS_TRUSTED_PROXIES="10.0.0.0/8, ::1",
    )
    assert ok.returncode == 0, ok.stderr
