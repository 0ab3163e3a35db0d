"""Platform webhooks in: verify, store once, answer fast, process after commit.

``POST /api/v1/platforms/<shop_id>/webhook/`` is called by the platforms themselves (no
API key). Each platform has an ``InboundFormat`` in ``FORMATS``: the header that carries
its signature, how to verify it, how to read the envelope (notification id, topic,
replay window) and how to process a stored event. A fourth platform adds one entry.

- **TikTok Shop** (platforms.md §1.6): header ``Authorization`` (no "Bearer") is the
  lowercase hex HMAC-SHA256, keyed with the shop's ``app_secret``, of ``app_key`` + the
  raw body. Envelope ``{type, tts_notification_id, shop_id, timestamp, data}``; deduped
  by ``tts_notification_id``; a ``timestamp`` more than 5 minutes away is refused.
- **Taobao and AliExpress**: neither platform's push is confirmed (Taobao's TMC is a
  WebSocket client, AliExpress has none; §2.6, §3.6), so this endpoint takes the
  **OMS relay format** an integrator's bridge (TMC consumer, poller …) must send:
  header ``X-OMS-Platform-Signature`` = lowercase hex HMAC-SHA256(app_secret,
  app_key + raw body), body ``{"message_id": "...", "topic": "...", "timestamp": <Unix
  seconds, optional>, "data": {"order": {<the platform's own order payload>}}}``.
  ``id`` is accepted for ``message_id``; a ``timestamp``, when sent, gets the same
  5-minute window as TikTok's.

Only lowercase hex is accepted (the documented form); anything else is a 401.
Nothing is written for a request that fails verification.
"""

import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, DataError, transaction
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import InboundEvent
from oms.core import input as strict_json
from oms.core.errors import OmsError, ValidationFailed
from oms.core.timeutils import parse_unix
from orders.api.serializers import ErrorOutput
from orders.ingest import ingest_native, ingest_order
from orders.models import Order, Shop
from orders.platforms import get_spec

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MB
REPLAY_WINDOW = timedelta(minutes=5)
RECOVERY_AFTER = timedelta(minutes=1)
JOB_BATCH = 500
UNKNOWN_ORDER = "unknown order; fetch pending"
RELAY_HEADER = "X-OMS-Platform-Signature"


# --- errors -------------------------------------------------------------------------


class SignatureInvalid(OmsError):
    code = "authentication_failed"
    http_status = 401
    message = "The request signature is missing or invalid."


class PayloadTooLarge(OmsError):
    code = "payload_too_large"
    http_status = 413
    message = "The request body is larger than 1 MB."


class MalformedBody(OmsError):
    code = "malformed_request"
    http_status = 400
    message = "The request body is not valid JSON."


# --- signatures ---------------------------------------------------------------------


def sign(app_key: str, app_secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with ``app_secret`` over ``app_key`` + ``body``."""
    return hmac.new(
        app_secret.encode(), app_key.encode() + body, hashlib.sha256
    ).hexdigest()


def verify_app_hmac(shop: Shop, body: bytes, supplied: str) -> bool:
    """Constant-time check of ``supplied`` against the shop's app signature of ``body``."""
    if not (shop.app_key and shop.app_secret and supplied):
        return False
    expected = sign(shop.app_key, shop.app_secret, body)
    return hmac.compare_digest(expected.encode(), supplied.encode(errors="replace"))


# --- envelopes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    event_key: str
    topic: str


def _key(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationFailed(
            "The notification id is missing.", fields={field: "required"}
        )
    key = str(value).strip()
    if not key or len(key) > 128:
        raise ValidationFailed(
            "The notification id is missing or too long.",
            fields={field: "1 to 128 characters"},
        )
    return key


def _check_time(value: Any, now: datetime) -> None:
    """Replay protection: a notification sent more than 5 minutes from now is refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(
            "timestamp must be Unix seconds.", fields={"timestamp": "Unix seconds"}
        )
    sent = parse_unix(value, field="timestamp")
    if sent is None:
        raise ValidationFailed(
            "timestamp is required.", fields={"timestamp": "required"}
        )
    if abs(now - sent) > REPLAY_WINDOW:
        raise SignatureInvalid(
            "The notification timestamp is outside the 5-minute window.",
            reason="stale_timestamp",
        )


def _object(message: Any) -> Mapping[str, Any]:
    if not isinstance(message, Mapping):
        raise ValidationFailed("The notification must be a JSON object.")
    if "data" in message and not isinstance(message["data"], Mapping):
        raise ValidationFailed("data must be an object.", fields={"data": "object"})
    return message


def tiktok_envelope(shop: Shop, message: Any, now: datetime) -> Envelope:
    message = _object(message)
    key = _key(message.get("tts_notification_id"), "tts_notification_id")
    _check_time(message.get("timestamp"), now)
    sent_for = message.get("shop_id")
    # One TikTok app serves many shops with the same secret: the envelope's shop must
    # be this one when both are known.
    if (
        shop.platform_shop_id
        and sent_for not in (None, "")
        and str(sent_for) != (shop.platform_shop_id)
    ):
        raise ValidationFailed(
            "The notification is for another shop.", fields={"shop_id": str(sent_for)}
        )
    return Envelope(key, str(message.get("type", ""))[:60])


def relay_envelope(shop: Shop, message: Any, now: datetime) -> Envelope:
    message = _object(message)
    field = "message_id" if message.get("message_id") not in (None, "") else "id"
    key = _key(message.get(field), "message_id")
    if message.get("timestamp") not in (None, ""):
        _check_time(message["timestamp"], now)
    return Envelope(key, str(message.get("topic") or "")[:60])


# --- processing ---------------------------------------------------------------------

TIKTOK_ORDER_STATUS_CHANGE = 1


def unified_payload(order: Order) -> dict[str, Any]:
    """The order as it stands, in the unified shape ``ingest_order`` takes.

    Sent back with a new status and update time, it changes only the status (and what
    follows from it): every other field is equal to what the order already has.
    """

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    payload: dict[str, Any] = {
        "shop": order.shop_id,
        "platform_order_id": order.platform_order_id,
        "native_status": order.native_status,
        "platform_updated_at": iso(order.platform_updated_at),
        "created_at": iso(order.created_at),
        "buyer": {
            "nick": order.buyer_nick,
            "name": order.buyer_name,
            "phone": order.buyer_phone,
            "phone_country_code": order.buyer_phone_country_code,
            "email": order.buyer_email,
        },
        "address": {
            "country": order.address_country,
            "province": order.address_province,
            "city": order.address_city,
            "district": order.address_district,
            "street": order.address_street,
            "postcode": order.address_postcode,
        },
        "currency": order.currency,
        "shipping_fee": str(order.shipping_fee),
        "discount": str(order.discount),
        "tax": str(order.tax),
        "total": str(order.total),
        "deadlines": dict(order.platform_deadlines or {}),
        "items": [
            {
                "line_id": item.line_id,
                "platform_line_ids": list(item.platform_line_ids or []),
                "sku": item.sku,
                "title": item.title,
                "spec": item.spec,
                "quantity": item.quantity,
                "unit_price": str(item.unit_price),
                "discount": str(item.discount),
                "image_url": item.image_url,
                "native_status": item.native_status,
                "refund_status": item.refund_status,
            }
            for item in order.items.order_by("id")
        ],
    }
    for name in ("paid_at", "shipped_at", "delivered_at", "completed_at", "closed_at"):
        if getattr(order, name):
            payload[name] = iso(getattr(order, name))
    return payload


def _full_order(event: InboundEvent) -> Mapping[str, Any] | None:
    data = event.payload.get("data") or {}
    order = data.get("order") if isinstance(data, Mapping) else None
    return order if isinstance(order, Mapping) else None


def process_tiktok(event: InboundEvent) -> str:
    """Type 1 (ORDER_STATUS_CHANGE): the full order when our relay/sandbox sent it,
    else the status change applied to the order we have. Other types are noted only."""
    message = event.payload
    if str(message.get("type")) != str(TIKTOK_ORDER_STATUS_CHANGE):
        return f"ignored: type {message.get('type')!r} is not handled yet"
    full = _full_order(event)
    if full is not None:
        ingest_native(shop=event.shop, payload=full)
        return ""
    data = message.get("data") or {}
    order_id = str(data.get("order_id") or "").strip()
    status = str(data.get("order_status") or "").strip()
    updated = parse_unix(data.get("update_time"), field="update_time")
    if not order_id or not status or updated is None:
        raise ValidationFailed(
            "An order status change needs order_id, order_status and update_time.",
            fields={"data": "order_id, order_status, update_time"},
        )
    status = get_spec(event.shop.platform).normalise(status)  # CANCEL → CANCELLED
    order = (
        Order.objects.select_for_update(of=("self",), no_key=True)
        .select_related("shop")
        .filter(shop=event.shop, platform_order_id=order_id)
        .first()
    )
    if order is None:
        # A real platform client would fetch the order detail here (Get Order Detail)
        # and ingest it; there is none in this system yet, so the event says so.
        return UNKNOWN_ORDER
    # Locked above, so nothing changes the order between reading it and ingesting.
    payload = unified_payload(order)
    payload["native_status"] = status
    payload["platform_updated_at"] = updated.isoformat()
    ingest_order(shop=event.shop, payload=payload)
    return ""


def process_relay(event: InboundEvent) -> str:
    """OMS relay format (Taobao, AliExpress): ingest ``data.order`` when present."""
    full = _full_order(event)
    if full is None:
        # No platform client exists here to fetch the order the message names.
        return "no order detail in the message; fetch pending"
    ingest_native(shop=event.shop, payload=full)
    return ""


@dataclass(frozen=True)
class InboundFormat:
    """How one platform's pushes are verified, read and processed."""

    signature_header: str
    verify: Callable[[Shop, bytes, str], bool]
    envelope: Callable[[Shop, Any, datetime], Envelope]
    process: Callable[[InboundEvent], str]  # a note ("" for none); raises OmsError


FORMATS: dict[str, InboundFormat] = {
    "tiktok": InboundFormat("Authorization", verify_app_hmac, tiktok_envelope, process_tiktok),
    "taobao": InboundFormat(RELAY_HEADER, verify_app_hmac, relay_envelope, process_relay),
    "aliexpress": InboundFormat(RELAY_HEADER, verify_app_hmac, relay_envelope, process_relay),
}  # fmt: skip


def _describe(exc: OmsError) -> str:
    text = f"{exc.code}: {exc.message}"
    if exc.details:
        text += " " + json.dumps(exc.details, ensure_ascii=False, default=str)
    return text[:2000]


def process_inbound_event(event_id: int) -> str:
    """Process one stored event once; returns its status ("skipped" if not ours now).

    Domain errors mark the event failed with their text and are not raised; database
    errors are (the event stays ``received`` and the ``inbound`` job retries it).
    """
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("shop")
            .filter(pk=event_id)
            .first()
        )
        if event is None or event.status != InboundEvent.Status.RECEIVED:
            return "skipped"  # missing, being processed elsewhere, or done already
        inbound = FORMATS.get(event.shop.platform)
        try:
            with transaction.atomic():
                if inbound is None:
                    raise ValidationFailed(
                        f"No inbound format for {event.shop.platform}."
                    )
                note = inbound.process(event)
            event.status, event.error = InboundEvent.Status.PROCESSED, note
        except OmsError as exc:
            event.status, event.error = InboundEvent.Status.FAILED, _describe(exc)
        except DatabaseError:
            raise
        except Exception as exc:  # a bug: recorded, not retried forever
            logger.exception("inbound event %s failed", event_id)
            event.status = InboundEvent.Status.FAILED
            event.error = f"unexpected error: {exc!r}"[:2000]
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return event.status


def run_inbound_job(now: datetime) -> tuple[dict, list]:
    """Crash recovery: process events still ``received`` a minute after arriving."""
    ids = list(
        InboundEvent.objects.filter(
            status=InboundEvent.Status.RECEIVED, received_at__lt=now - RECOVERY_AFTER
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:JOB_BATCH]
    )
    counts: Counter[str] = Counter()
    errors = []
    for event_id in ids:
        try:
            counts[process_inbound_event(event_id)] += 1
        except Exception as exc:
            logger.exception("inbound event %s could not be processed", event_id)
            errors.append({"inbound_event_id": event_id, "error": repr(exc)[:500]})
    return dict(counts), errors


# --- receiving ----------------------------------------------------------------------


def receive(*, shop_id: int, headers: Mapping[str, str], body: bytes) -> str:
    """Verify and store one push; "accepted" or "duplicate". Raises OmsError."""
    shop = Shop.objects.filter(pk=shop_id, is_active=True).first()
    inbound = FORMATS.get(shop.platform) if shop is not None else None
    # Unknown shop, no secret, missing or wrong signature: one answer, nothing written.
    if inbound is None or not inbound.verify(
        shop, body, headers.get(inbound.signature_header) or ""
    ):
        raise SignatureInvalid(reason="invalid_signature")
    try:
        message = strict_json.loads(body)  # bounded depth, no NaN
    except ValueError as exc:
        raise MalformedBody() from exc
    found = strict_json.first_text_problem(message)
    if found is not None:  # NUL or an unpaired surrogate: jsonb cannot hold it
        raise ValidationFailed(
            "The notification cannot be stored.",
            field=strict_json.clean_text(found[0]),
        )
    envelope = inbound.envelope(shop, message, timezone.now())
    from integrations.tasks import process_inbound_event_task

    try:
        with transaction.atomic():
            event, created = InboundEvent.objects.get_or_create(
                shop=shop,
                event_key=envelope.event_key,
                defaults={"topic": envelope.topic, "payload": message},
            )
            if created:
                process_inbound_event_task.delay_on_commit(event.pk)
    except DataError as exc:  # e.g. a NUL character PostgreSQL's jsonb refuses
        raise ValidationFailed("The notification cannot be stored.") from exc
    return "accepted" if created else "duplicate"


def read_body(request) -> bytes:
    """The raw body, refusing more than 1 MB before reading it when the length is sent."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise PayloadTooLarge(max_bytes=MAX_BODY)
    body = request.body
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(max_bytes=MAX_BODY)
    return body


# --- the endpoint -------------------------------------------------------------------

ACK = inline_serializer(
    "InboundWebhookAck",
    {"status": serializers.ChoiceField(choices=["accepted", "duplicate"])},
)
SHOP_ID = OpenApiParameter(
    "shop_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH,
    description="The OMS shop id (the URL registered with the platform).",
)  # fmt: skip
WEBHOOK_DESCRIPTION = f"""Called by the platforms, not by ERPs: no API key. The signature
is verified on the raw body before anything is parsed or written; failures answer 401.

**TikTok Shop**: header `Authorization` (no "Bearer") = lowercase hex
HMAC-SHA256(key = app_secret, message = app_key + raw body), with the shop's app key and
secret. Envelope `{{type, tts_notification_id, shop_id, timestamp, data}}`; a
`timestamp` more than 5 minutes from now is refused (401); deduplicated by
`tts_notification_id`.

**Taobao and AliExpress** (their push formats are not confirmed; an integrator's bridge
relays them): header `{RELAY_HEADER}` = the same lowercase hex HMAC-SHA256 over app_key +
raw body; body `{{"message_id", "topic", "timestamp" (Unix seconds, optional),
"data": {{"order": <the platform's own order payload>}}}}`; deduplicated by `message_id`
(or `id`).

A new notification answers `accepted` and is processed in the background; one already
received answers `duplicate`. Bodies over 1 MB answer 413."""


class PlatformWebhookApi(APIView):
    """Inbound platform push: verify, store once, answer 200 fast."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="platforms_webhook_receive",
        summary="Receive a platform's signed push notification",
        description=WEBHOOK_DESCRIPTION,
        tags=["platform webhooks"],
        auth=[],
        parameters=[SHOP_ID],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={200: ACK, 400: ErrorOutput, 401: ErrorOutput, 413: ErrorOutput},
        examples=[
            OpenApiExample(
                "TikTok Shop order status change",
                request_only=True,
                value={
                    "type": 1,
                    "tts_notification_id": "7327112393057371910",
                    "shop_id": "7494049642642441621",
                    "timestamp": 1767225600,
                    "data": {
                        "order_id": "576469965418580000",
                        "order_status": "AWAITING_SHIPMENT",
                        "is_on_hold_order": False,
                        "update_time": 1767225590,
                    },
                },
            ),
            OpenApiExample(
                "OMS relay format (Taobao, AliExpress)",
                request_only=True,
                value={
                    "message_id": "tmc-2026-000001",
                    "topic": "taobao_trade_TradeBuyerPay",
                    "timestamp": 1767225600,
                    "data": {
                        "order": {
                            "tid": "4012345678901234",
                            "status": "WAIT_SELLER_SEND_GOODS",
                        }
                    },
                },
            ),
            OpenApiExample(
                "Accepted", response_only=True, value={"status": "accepted"}
            ),
        ],
    )
    def post(self, request, shop_id: int):
        body = read_body(request._request)
        return Response(
            {"status": receive(shop_id=shop_id, headers=request.headers, body=body)}
        )
