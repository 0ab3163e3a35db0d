"""Platform webhooks in: verify, store once, answer fast, process after commit.

``POST /api/v1/platforms/<shop_id>/webhook/`` is called by the platforms themselves (no
API key). Each platform package declares its ``WebhookFormat`` (``Platform.webhook``,
types in ``orders.webhook_formats``): the header that carries its signature, how to
compute it, how to read the envelope (notification id, topic, send time, shop) and what
a stored push says about an order. This module looks the format up by ``shop.platform``
and does the rest the same way for every platform: a send time more than 5 minutes
away is refused, one event is stored per notification id, and processing ingests the
full native order, applies a status change to the order we have, or notes why nothing
changes. A fourth platform adds its format to its own package.

Only lowercase hex is accepted (the documented form); anything else is a 401.
Nothing is written for a request that fails verification.
"""

import json
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, DataError, transaction
from django.utils import timezone
from django.utils.functional import lazy
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
from orders.api.serializers import ErrorOutput
from orders.ingest import ingest_native, ingest_order
from orders.models import Order, Shop
from orders.platforms import get_spec, platforms
from orders.webhook_formats import (
    Envelope,
    WebhookFormat,
    app_hmac,
)

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MB
REPLAY_WINDOW = timedelta(minutes=5)
RECOVERY_AFTER = timedelta(minutes=1)
JOB_BATCH = 500
UNKNOWN_ORDER = "unknown order; fetch pending"


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


# --- signatures and envelopes ---------------------------------------------------------


def sign(app_key: str, app_secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with ``app_secret`` over ``app_key`` + ``body``."""
    return app_hmac(app_key, app_secret, body)


def webhook_format(platform: str) -> WebhookFormat | None:
    """The installed platform's webhook format (None: not installed or no pushes)."""
    installed = platforms().get(platform)
    return installed.webhook if installed is not None else None


def _check_envelope(shop: Shop, envelope: Envelope, now: datetime) -> None:
    """Replay protection (a push sent more than 5 minutes from now is refused) and the
    shop: one app serves many shops with the same secret, so the envelope's shop must
    be this one when both are known."""
    if envelope.sent_at is not None and abs(now - envelope.sent_at) > REPLAY_WINDOW:
        raise SignatureInvalid(
            "The notification timestamp is outside the 5-minute window.",
            reason="stale_timestamp",
        )
    if (
        shop.platform_shop_id
        and envelope.shop_id
        and envelope.shop_id != shop.platform_shop_id
    ):
        raise ValidationFailed(
            "The notification is for another shop.",
            fields={"shop_id": envelope.shop_id},
        )


# --- processing ---------------------------------------------------------------------


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


def process(event: InboundEvent, inbound: WebhookFormat) -> str:
    """Apply one stored push: the full native order when it carries one, else the
    status change to the order we have; a note ("" for none). Raises OmsError."""
    notice = inbound.notice(event.payload)
    if notice.ignored:
        return f"ignored: {notice.ignored}"
    if notice.order is not None:
        ingest_native(shop=event.shop, payload=notice.order)
        return ""
    if not notice.order_id:
        # No platform client exists here to fetch the order the message names.
        return "no order detail in the message; fetch pending"
    status = get_spec(event.shop.platform).normalise(
        notice.status
    )  # CANCEL → CANCELLED
    order = (
        Order.objects.select_for_update(of=("self",), no_key=True)
        .select_related("shop")
        .filter(shop=event.shop, platform_order_id=notice.order_id)
        .first()
    )
    if order is None:
        # A real platform client would fetch the order detail here (Get Order Detail)
        # and ingest it; there is none in this system yet, so the event says so.
        return UNKNOWN_ORDER
    # Locked above, so nothing changes the order between reading it and ingesting.
    payload = unified_payload(order)
    payload["native_status"] = status
    if notice.updated_at is not None:
        payload["platform_updated_at"] = notice.updated_at.isoformat()
    ingest_order(shop=event.shop, payload=payload)
    return ""


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
        inbound = webhook_format(event.shop.platform)
        try:
            with transaction.atomic():
                if inbound is None:
                    raise ValidationFailed(
                        f"No inbound format for {event.shop.platform}."
                    )
                note = process(event, inbound)
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
    inbound = webhook_format(shop.platform) if shop is not None else None
    # Unknown shop, no secret, missing or wrong signature: one answer, nothing written.
    if inbound is None or not inbound.verify(
        shop.app_key, shop.app_secret, body, headers.get(inbound.signature_header) or ""
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
    envelope = inbound.envelope(message)
    _check_envelope(shop, envelope, timezone.now())
    from integrations.tasks import process_inbound_event_task

    try:
        with transaction.atomic():
            event, created = InboundEvent.objects.get_or_create(
                shop=shop,
                event_key=envelope.event_id,
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
WEBHOOK_INTRO = """Called by the platforms, not by ERPs: no API key. The signature
is verified on the raw body before anything is parsed or written; failures answer 401.
A notification sent more than 5 minutes from now is refused (401)."""
WEBHOOK_OUTRO = """A new notification answers `accepted` and is processed in the background;
one already received answers `duplicate`. Bodies over 1 MB answer 413."""


def webhook_description() -> str:
    """The endpoint's description: each installed platform's format, as its package
    documents it (read when the schema is generated)."""
    parts = [WEBHOOK_INTRO]
    for platform in platforms().values():
        if platform.webhook is not None:
            parts.append(f"**{platform.label}**: {platform.webhook.doc}")
    parts.append(WEBHOOK_OUTRO)
    return "\n\n".join(parts)


WEBHOOK_DESCRIPTION = lazy(webhook_description, str)()


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
