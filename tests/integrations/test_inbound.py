"""Inbound platform webhooks: signatures, replay window, de-duplication and processing."""

import hashlib
import json
import time
from datetime import timedelta
from random import Random

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import inbound
from integrations.inbound import UNKNOWN_ORDER, process_inbound_event
from integrations.models import InboundEvent
from integrations.tasks import process_inbound_event_task
from orders.choices import EventType
from orders.jobs import JOBS, run_job
from orders.models import Order, OrderEvent
from platforms.tiktok import simulator as tiktok_sandbox
from tests.conftest import requires_postgres
from tests.factories import ShopFactory, make_order
from tests.race import race

pytestmark = pytest.mark.django_db

APP_KEY = "tt_app_key_123"
APP_SECRET = "tt_app_secret_456"


# --- an independent HMAC-SHA256 (RFC 2104), not the hmac module ---------------------


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest()


def tiktok_signature(body: bytes, app_key=APP_KEY, app_secret=APP_SECRET) -> str:
    return hmac_sha256_hex(app_secret.encode(), app_key.encode() + body)


def test_the_independent_hmac_matches_the_known_rfc_4231_vector():
    # RFC 4231 test case 2.
    assert hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


# --- helpers ------------------------------------------------------------------------


def tt_shop(**fields):
    fields.setdefault("app_key", APP_KEY)
    fields.setdefault("app_secret", APP_SECRET)
    return ShopFactory(platform="tiktok", **fields)


_ids = iter(range(10**12, 10**13))


def envelope(order_id="576469965418580001", status="AWAITING_SHIPMENT", **overrides):
    message = {
        "type": 1,
        "tts_notification_id": str(next(_ids)),
        "shop_id": "7494049642642441621",
        "timestamp": int(time.time()),
        "data": {
            "order_id": order_id,
            "order_status": status,
            "is_on_hold_order": False,
            "update_time": int(time.time()),
        },
    }
    message.update(overrides)
    return message


def body_of(message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def deliver(shop_id, body: bytes, client=None, **headers):
    client = client or APIClient(enforce_csrf_checks=True)
    return client.post(
        f"/api/v1/platforms/{shop_id}/webhook/",
        data=body,
        content_type="application/json",
        **headers,
    )


def signed(shop, message, client=None):
    body = body_of(message)
    return deliver(shop.pk, body, client, HTTP_AUTHORIZATION=tiktok_signature(body))


def nothing_written():
    return not InboundEvent.objects.exists() and not Order.objects.exists()


@pytest.fixture
def no_broker(monkeypatch):
    """Record what would be enqueued after commit instead of sending it to a broker."""
    sent = []
    monkeypatch.setattr(process_inbound_event_task, "delay", sent.append)
    return sent


# --- signatures: nothing written for any failure -------------------------------------


def _other_shop_signature(shop, body):
    tt_shop(app_key="other_key", app_secret="other_secret")
    return {"HTTP_AUTHORIZATION": tiktok_signature(body, "other_key", "other_secret")}


NEGATIVE = {
    "missing header": lambda shop, body: {},
    "empty header": lambda shop, body: {"HTTP_AUTHORIZATION": ""},
    "wrong secret": lambda shop, body: {
        "HTTP_AUTHORIZATION": tiktok_signature(body, APP_KEY, "not-the-secret")
    },
    "body changed after signing": lambda shop, body: {
        "HTTP_AUTHORIZATION": tiktok_signature(body.replace(b"AWAITING", b"AWAITINK"))
    },
    "another shop's key and secret": _other_shop_signature,
    "uppercase hex (only the documented lowercase is accepted)": lambda shop, body: {
        "HTTP_AUTHORIZATION": tiktok_signature(body).upper()
    },
    "with a Bearer prefix": lambda shop, body: {
        "HTTP_AUTHORIZATION": "Bearer " + tiktok_signature(body)
    },
    "body only, without the app key": lambda shop, body: {
        "HTTP_AUTHORIZATION": hmac_sha256_hex(APP_SECRET.encode(), body)
    },
    "plain SHA-256 of secret + body (the unconfirmed variant)": lambda shop, body: {
        "HTTP_AUTHORIZATION": hashlib.sha256(APP_SECRET.encode() + body).hexdigest()
    },
    "the relay header instead of Authorization": lambda shop, body: {
        "HTTP_X_OMS_PLATFORM_SIGNATURE": tiktok_signature(body)
    },
    "truncated signature": lambda shop, body: {
        "HTTP_AUTHORIZATION": tiktok_signature(body)[:-2]
    },
}


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_a_bad_signature_is_401_and_writes_nothing(case, no_broker):
    shop = tt_shop()
    body = body_of(envelope())
    response = deliver(shop.pk, body, **NEGATIVE[case](shop, body))
    assert response.status_code == 401, case
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert error["details"] == {"reason": "invalid_signature"}
    assert nothing_written()
    assert no_broker == []


def test_an_unknown_shop_is_the_same_401_and_writes_nothing(no_broker):
    body = body_of(envelope())
    response = deliver(999_999_999, body, HTTP_AUTHORIZATION=tiktok_signature(body))
    assert response.status_code == 401
    assert response.json()["error"]["details"] == {"reason": "invalid_signature"}
    assert nothing_written()


def test_a_shop_without_an_app_secret_refuses_everything(no_broker):
    shop = tt_shop(app_secret="")
    body = body_of(envelope())
    # Even the signature made with an empty secret is refused.
    response = deliver(
        shop.pk, body, HTTP_AUTHORIZATION=tiktok_signature(body, APP_KEY, "")
    )
    assert response.status_code == 401
    assert nothing_written()


def test_a_deactivated_shop_refuses_pushes(no_broker):
    shop = tt_shop(is_active=False)
    assert signed(shop, envelope()).status_code == 401
    assert nothing_written()


@pytest.mark.parametrize("age", [-timedelta(minutes=6), timedelta(minutes=6)])
def test_a_timestamp_outside_five_minutes_is_401(age, no_broker):
    shop = tt_shop()
    sent = int((timezone.now() - age).timestamp())
    response = signed(shop, envelope(timestamp=sent))
    assert response.status_code == 401
    assert response.json()["error"]["details"] == {"reason": "stale_timestamp"}
    assert nothing_written()


def test_a_timestamp_within_five_minutes_is_accepted(no_broker):
    shop = tt_shop()
    sent = int((timezone.now() - timedelta(minutes=4)).timestamp())
    assert signed(shop, envelope(timestamp=sent)).json() == {"status": "accepted"}


def test_malformed_json_with_a_valid_signature_is_400_and_writes_nothing(no_broker):
    shop = tt_shop()
    for body in (b'{"type": 1, "tts_notification_id": ', b"NaN", b"\xff\xfe"):
        response = deliver(shop.pk, body, HTTP_AUTHORIZATION=tiktok_signature(body))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_request"
    assert nothing_written()


@pytest.mark.parametrize(
    "change",
    [
        {"tts_notification_id": ""},
        {"tts_notification_id": None},
        {"tts_notification_id": "x" * 129},
        {"timestamp": None},
        {"timestamp": "soon"},
        {"data": []},
    ],
)
def test_an_invalid_envelope_with_a_valid_signature_is_400(change, no_broker):
    shop = tt_shop()
    response = signed(shop, envelope(**change))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert nothing_written()


def test_a_json_array_is_400(no_broker):
    shop = tt_shop()
    body = b"[1, 2]"
    assert (
        deliver(shop.pk, body, HTTP_AUTHORIZATION=tiktok_signature(body)).status_code
        == 400
    )
    assert nothing_written()


def test_a_notification_for_another_platform_shop_id_is_refused(no_broker):
    shop = tt_shop(platform_shop_id="7494049642642441621")
    response = signed(shop, envelope(shop_id="1111"))
    assert response.status_code == 400
    assert nothing_written()
    assert signed(shop, envelope()).status_code == 200


def test_a_body_over_one_megabyte_is_413(no_broker):
    shop = tt_shop()
    message = envelope()
    message["data"]["padding"] = "x" * (1024 * 1024)
    response = signed(shop, message)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert nothing_written()


# --- accepted, stored once, enqueued after commit -------------------------------------


def test_a_valid_push_is_stored_once_and_enqueued_after_commit(
    django_capture_on_commit_callbacks, no_broker
):
    shop = tt_shop()
    message = envelope()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed(shop, message)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    event = InboundEvent.objects.get()
    assert event.shop == shop
    assert event.event_key == message["tts_notification_id"]
    assert event.topic == "1"
    assert event.payload == message
    assert event.status == InboundEvent.Status.RECEIVED
    assert len(callbacks) == 1
    assert no_broker == [event.pk]
    assert not Order.objects.exists()  # processing is the task's job


def test_twenty_sequential_deliveries_store_one_event_and_change_the_order_once(
    no_broker,
):
    shop = tt_shop()
    order = make_order(
        shop,
        "UNPAID",
        platform_updated_at=(timezone.now() - timedelta(hours=1)).isoformat(),
    )
    message = envelope(order.platform_order_id)
    statuses = [signed(shop, message).json()["status"] for _ in range(20)]
    assert statuses == ["accepted"] + ["duplicate"] * 19
    event = InboundEvent.objects.get()
    assert process_inbound_event(event.pk) == "processed"
    assert process_inbound_event(event.pk) == "skipped"
    order.refresh_from_db()
    assert order.native_status == "AWAITING_SHIPMENT"
    assert order.events.filter(type=EventType.STATUS_CHANGED).count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_store_one_event_and_change_the_order_once(no_broker):
    shop = tt_shop()
    order = make_order(
        shop,
        "UNPAID",
        platform_updated_at=(timezone.now() - timedelta(hours=1)).isoformat(),
    )
    message = envelope(order.platform_order_id)
    results = race(*[lambda: signed(shop, message).json()["status"]] * 10)
    assert sorted(results) == ["accepted"] + ["duplicate"] * 9
    event = InboundEvent.objects.get()
    assert no_broker == [event.pk]  # enqueued once, after the one insert committed
    processed = race(*[lambda: process_inbound_event(event.pk)] * 6)
    assert processed.count("processed") == 1
    assert set(processed) == {"processed", "skipped"}
    order.refresh_from_db()
    assert order.native_status == "AWAITING_SHIPMENT"
    assert order.version == 2
    assert order.events.filter(type=EventType.STATUS_CHANGED).count() == 1


def test_the_same_notification_id_for_two_shops_is_two_events(no_broker):
    first, second = tt_shop(), tt_shop()
    message = envelope()
    assert signed(first, message).json() == {"status": "accepted"}
    assert signed(second, message).json() == {"status": "accepted"}
    assert InboundEvent.objects.count() == 2


def test_the_endpoint_needs_no_csrf_token_and_ignores_api_keys(no_broker):
    shop = tt_shop()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION="Bearer oms_x_y")
    body = body_of(envelope())
    assert deliver(shop.pk, body, client).status_code == 401
    assert (
        signed(shop, envelope(), APIClient(enforce_csrf_checks=True)).status_code == 200
    )


# --- the relay format (Taobao, AliExpress) ----------------------------------------------


@pytest.mark.parametrize("platform", ["taobao", "aliexpress"])
def test_the_relay_format_verifies_the_oms_header_and_dedupes_by_message_id(
    platform, no_broker
):
    shop = ShopFactory(
        platform=platform, app_key="relay_key", app_secret="relay_secret"
    )
    body = body_of(
        {"message_id": "m-1", "topic": "taobao_trade_TradeBuyerPay", "data": {}}
    )
    good = tiktok_signature(body, "relay_key", "relay_secret")
    assert deliver(shop.pk, body, HTTP_AUTHORIZATION=good).status_code == 401
    assert (
        deliver(shop.pk, body, HTTP_X_OMS_PLATFORM_SIGNATURE=good.upper()).status_code
        == 401
    )
    assert not InboundEvent.objects.exists()
    response = deliver(shop.pk, body, HTTP_X_OMS_PLATFORM_SIGNATURE=good)
    assert response.json() == {"status": "accepted"}
    again = body_of({"id": "m-1", "topic": "x"})
    response = deliver(
        shop.pk,
        again,
        HTTP_X_OMS_PLATFORM_SIGNATURE=tiktok_signature(
            again, "relay_key", "relay_secret"
        ),
    )
    assert response.json() == {"status": "duplicate"}
    event = InboundEvent.objects.get()
    assert (event.event_key, event.topic) == ("m-1", "taobao_trade_TradeBuyerPay")
    assert process_inbound_event(event.pk) == "processed"
    event.refresh_from_db()
    assert "fetch pending" in event.error


def test_the_relay_ingests_a_full_native_order():
    from platforms.taobao import simulator as taobao_sandbox

    shop = ShopFactory(platform="taobao", app_key="k", app_secret="s")
    native = taobao_sandbox.simulate(
        status="WAIT_SELLER_SEND_GOODS", now=timezone.now(), rng=Random(3)
    ).payload
    event = InboundEvent.objects.create(
        shop=shop,
        event_key="m-2",
        payload={"message_id": "m-2", "data": {"order": native}},
    )
    assert process_inbound_event(event.pk) == "processed"
    assert Order.objects.get(shop=shop).native_status == "WAIT_SELLER_SEND_GOODS"


# --- processing ---------------------------------------------------------------------


def stored(shop, message) -> InboundEvent:
    return InboundEvent.objects.create(
        shop=shop,
        event_key=message["tts_notification_id"],
        topic=str(message["type"]),
        payload=message,
    )


def status_change(shop, order, status, at):
    message = envelope(order.platform_order_id, status)
    message["data"]["update_time"] = int(at.timestamp())
    return stored(shop, message)


@pytest.fixture
def unpaid():
    shop = tt_shop()
    updated = timezone.now().replace(microsecond=0) - timedelta(minutes=30)
    order = make_order(shop, "UNPAID", platform_updated_at=updated.isoformat())
    return shop, order, updated


def test_a_status_change_moves_an_existing_order_and_nothing_else(unpaid):
    shop, order, updated = unpaid
    before = Order.objects.get(pk=order.pk)
    items = list(order.items.values_list("sku", "quantity", "unit_price"))
    event = status_change(
        shop, order, "AWAITING_SHIPMENT", updated + timedelta(minutes=5)
    )
    assert process_inbound_event(event.pk) == "processed"
    event.refresh_from_db()
    assert (event.status, event.error) == ("processed", "")
    assert event.processed_at is not None
    order.refresh_from_db()
    assert order.native_status == "AWAITING_SHIPMENT"
    assert order.stage == "awaiting_shipment"
    assert order.platform_updated_at == updated + timedelta(minutes=5)
    for name in ("buyer_name", "buyer_phone", "address_street", "total", "items_total",
                 "currency", "channel", "created_at", "seller_memo"):  # fmt: skip
        assert getattr(order, name) == getattr(before, name), name
    assert list(order.items.values_list("sku", "quantity", "unit_price")) == items
    change = order.events.get(type=EventType.STATUS_CHANGED)
    assert (change.from_status, change.to_status) == ("UNPAID", "AWAITING_SHIPMENT")
    assert change.data["changed"] == []
    assert change.actor_kind == "platform"


def test_an_older_update_time_changes_nothing(unpaid):
    shop, order, updated = unpaid
    event = status_change(
        shop, order, "AWAITING_SHIPMENT", updated - timedelta(minutes=1)
    )
    assert process_inbound_event(event.pk) == "processed"
    order.refresh_from_db()
    assert order.native_status == "UNPAID"
    assert order.version == 1
    assert order.platform_updated_at == updated
    assert not order.events.exclude(type=EventType.CREATED).exists()


def test_cancel_is_read_as_cancelled(unpaid):
    shop, order, updated = unpaid
    event = status_change(shop, order, "CANCEL", updated + timedelta(minutes=1))
    assert process_inbound_event(event.pk) == "processed"
    order.refresh_from_db()
    assert order.native_status == "CANCELLED"
    assert order.stage == "closed"


def test_an_unknown_order_is_processed_with_a_note():
    shop = tt_shop()
    event = stored(shop, envelope("999"))
    assert process_inbound_event(event.pk) == "processed"
    event.refresh_from_db()
    assert event.error == UNKNOWN_ORDER
    assert not Order.objects.exists()


def test_a_full_order_in_data_is_ingested_natively():
    shop = tt_shop()
    native = tiktok_sandbox.simulate(
        status="AWAITING_SHIPMENT", now=timezone.now(), rng=Random(7), market="MY"
    ).payload
    message = envelope(native["id"])
    message["data"]["order"] = native
    event = stored(shop, message)
    assert process_inbound_event(event.pk) == "processed"
    order = Order.objects.get(shop=shop)
    assert (order.platform_order_id, order.native_status) == (
        str(native["id"]),
        "AWAITING_SHIPMENT",
    )


def test_domain_errors_fail_the_event_without_raising(unpaid):
    shop, order, updated = unpaid
    bad_status = status_change(
        shop, order, "TELEPORTED", updated + timedelta(minutes=1)
    )
    assert process_inbound_event(bad_status.pk) == "failed"
    bad_status.refresh_from_db()
    assert "unknown_native_status" in bad_status.error
    incomplete = envelope(order.platform_order_id)
    del incomplete["data"]["update_time"]
    event = stored(shop, incomplete)
    assert process_inbound_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.error.startswith("invalid_input")
    order.refresh_from_db()
    assert (order.native_status, order.version) == ("UNPAID", 1)


def test_other_types_are_processed_without_changes(unpaid):
    shop, order, _ = unpaid
    event = stored(shop, envelope(order.platform_order_id, type=12))
    assert process_inbound_event(event.pk) == "processed"
    event.refresh_from_db()
    assert "not handled" in event.error
    order.refresh_from_db()
    assert order.version == 1


def test_the_task_calls_the_service(unpaid):
    shop, order, updated = unpaid
    event = status_change(
        shop, order, "AWAITING_SHIPMENT", updated + timedelta(minutes=1)
    )
    assert process_inbound_event_task.name == "integrations.process_inbound_event"
    assert process_inbound_event_task.run(event.pk) == {
        "inbound_event": event.pk,
        "status": "processed",
    }


def test_the_inbound_job_recovers_events_left_received(unpaid):
    shop, order, updated = unpaid
    assert JOBS["inbound"] is inbound.run_inbound_job
    now = timezone.now()
    old = status_change(
        shop, order, "AWAITING_SHIPMENT", updated + timedelta(minutes=1)
    )
    InboundEvent.objects.filter(pk=old.pk).update(
        received_at=now - timedelta(minutes=2)
    )
    fresh = stored(shop, envelope("999"))
    run = run_job("inbound", now=now)
    assert run.counts == {"processed": 1}
    assert run.errors == []
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == "processed"
    assert fresh.status == "received"  # its own task has a minute to run first
    order.refresh_from_db()
    assert order.native_status == "AWAITING_SHIPMENT"
    assert run_job("inbound", now=now).counts == {}
    assert (
        OrderEvent.objects.filter(order=order, type=EventType.STATUS_CHANGED).count()
        == 1
    )
