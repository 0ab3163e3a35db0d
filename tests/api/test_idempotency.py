"""Idempotency keys after failures (issue 11, failure 9).

A request whose view fails with an unhandled error must not leave its key claimed: the
client's retry with the same key runs the request. A claim left behind by a process that
died mid-request expires after a short lease, not after the 24-hour replay window.
"""

import hashlib
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

import oms.core.api.base as api_base
from integrations.models import ApiKey, IdempotentRequest
from orders import actions
from orders.models import Order
from tests.api.conftest import key_client
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def _crash(*args, **kwargs):
    raise RuntimeError("the database went away")


def test_a_retry_after_an_unhandled_error_runs_the_request(shop, monkeypatch):
    api = key_client(shop.organisation)
    api.raise_request_exception = False
    order = make_order(shop, "UNPAID")
    url = f"/api/v1/orders/{order.pk}/memo/"
    with monkeypatch.context() as patch:
        patch.setattr(actions, "perform", _crash)
        failed = api.post(url, {"memo": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k9")
    assert failed.status_code == 500
    assert not IdempotentRequest.objects.filter(key="k9").exists()

    retry = api.post(url, {"memo": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k9")
    assert retry.status_code == 200
    assert retry.json()["memo"] == "x"
    assert Order.objects.get(pk=order.pk).seller_memo == "x"
    record = IdempotentRequest.objects.get(key="k9")
    assert (record.completed, record.response_status) == (True, 200)


def _abandoned_claim(shop, url: str, body: bytes, key: str) -> IdempotentRequest:
    """The row a worker left when it was killed between claiming and answering."""
    api_key = ApiKey.objects.get(organisation=shop.organisation)
    return IdempotentRequest.objects.create(
        client=f"key:{api_key.pk}",
        key=key,
        method="POST",
        path=url,
        request_hash=hashlib.sha256(b"POST" + url.encode() + b"\n" + body).hexdigest(),
    )


def test_a_claim_left_by_a_dead_process_expires_after_the_lease(shop):
    api = key_client(shop.organisation)
    order = make_order(shop, "UNPAID")
    url = f"/api/v1/orders/{order.pk}/memo/"
    body = json.dumps({"memo": "late"}).encode()
    _abandoned_claim(shop, url, body, "k10")

    def send():
        return api.post(
            url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k10"
        )

    now = timezone.now()
    with time_machine.travel(now + api_base.IDEMPOTENCY_LEASE - timedelta(seconds=5)):
        running = send()
    assert (running.status_code, running.json()["error"]["code"]) == (
        409,
        "idempotency_in_progress",
    )
    assert Order.objects.get(pk=order.pk).seller_memo == ""
    with time_machine.travel(now + api_base.IDEMPOTENCY_LEASE + timedelta(seconds=5)):
        taken_over = send()
    assert taken_over.status_code == 200
    assert Order.objects.get(pk=order.pk).seller_memo == "late"
    assert IdempotentRequest.objects.get(key="k10").completed is True


def test_the_lease_is_minutes_not_the_replay_window():
    assert timedelta(minutes=1) <= api_base.IDEMPOTENCY_LEASE <= timedelta(minutes=15)
