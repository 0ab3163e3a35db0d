"""Outbound webhooks: order events → signed HTTP POSTs to an organisation's endpoints.

Flow: a service writes an ``OrderEvent`` and, in the same transaction, an outbox entry
(``orders.effects``); the relay (right after the commit, or from beat if the worker
died) calls ``on_order_events``: it maps the events to webhook event types, writes one
``WebhookDelivery`` per matching subscription (in bulk, once per event and subscription)
and, after that commit, enqueues one Celery task per delivery. The task calls ``deliver``: it claims the row (``SELECT … FOR UPDATE``, then a
lease on ``next_attempt_at``), POSTs the exact JSON body, and records the outcome.
Failures are retried by the ``webhooks`` job (``retry_due_deliveries``) on the back-off
schedule ``BACKOFF``; after the last try the delivery is ``failed`` and can be redelivered
from the admin or the API (a new row with the same event id).

Targets (issue 11): only public internet addresses. ``validate_url`` refuses private,
loopback, link-local, multicast, reserved, unspecified, CGNAT and metadata addresses
(in any notation, IPv4-mapped and other IPv6 forms of them included) and internal names
when a subscription is saved; ``resolve_destination`` resolves the host again at every
delivery, refuses if any answer is inside, and the connection goes to the checked
address (Host and TLS SNI stay the URL's host), so a DNS answer that changes between
check and connect cannot reach inside. Redirects are not followed, no proxy from the
environment is used, and https is required unless ``DEBUG``. Loopback is allowed only
with ``OMS_WEBHOOK_ALLOW_LOOPBACK`` (development, tests). The delivery log keeps the
status code, a short error and timing; the receiver's answer is never stored.

Each request carries ``X-OMS-Signature: t=<unix>,v1=<hex>`` where ``v1`` is
HMAC-SHA256(secret, ``"<t>.<body>"``). The timestamp is signed too, so a receiver that
rejects old timestamps (e.g. older than 5 minutes) is protected against replays; the
event id (``X-OMS-Event-Id``, also ``id`` in the body) is the same on every retry and
redelivery, for de-duplication.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from integrations.models import WebhookDelivery, WebhookSubscription
from oms.core.errors import ValidationFailed
from orders.choices import EventType, Stage

logger = logging.getLogger(__name__)

# --- vocabulary ---------------------------------------------------------------------

ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_SHIPPED = "order.shipped"
AFTERSALES_OPENED = "aftersales.opened"
AFTERSALES_RESOLVED = "aftersales.resolved"
ORDER_DEADLINE_AT_RISK = "order.deadline_at_risk"
PACKAGE_DELIVERY_FAILED = "package.delivery_failed"

EVENT_TYPES: tuple[str, ...] = (
    ORDER_CREATED,
    ORDER_STATUS_CHANGED,
    ORDER_SHIPPED,
    AFTERSALES_OPENED,
    AFTERSALES_RESOLVED,
    ORDER_DEADLINE_AT_RISK,
    PACKAGE_DELIVERY_FAILED,
)
EVENT_DESCRIPTIONS = {
    ORDER_CREATED: "A new order arrived.",
    ORDER_STATUS_CHANGED: "The order's native status changed (by anyone).",
    ORDER_SHIPPED: "The order entered the shipped stage.",
    AFTERSALES_OPENED: "A cancel request, refund or dispute was opened.",
    AFTERSALES_RESOLVED: "A cancel request, refund or dispute was resolved.",
    ORDER_DEADLINE_AT_RISK: "A ship-by deadline is close (early or late warning).",
    PACKAGE_DELIVERY_FAILED: "The carrier could not deliver a package of the order.",
}
SHIP_WARNINGS = frozenset({"ship_warning_early", "ship_warning_late"})

# Waits after failed tries 1..6; try 7 is the last (about 23.6 hours after the first).
BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=15),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT_SECONDS = 10
# While a worker sends, the row's next_attempt_at is pushed this far out so neither the
# sweep nor another worker picks it up; longer than Celery's hard time limit.
CLAIM_LEASE = timedelta(minutes=6)
SWEEP_BATCH = 500
SWEEP_MAX_BATCHES = 10
USER_AGENT = "OMS-Webhooks/1"

_EVENT_NAMESPACE = uuid.UUID("6f1d3b0e-5a3c-4c5e-9a57-0d9f0c1b7e21")


# --- subscriptions ------------------------------------------------------------------


LOOPBACK_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
# Names that only mean something inside a network (cloud metadata, mDNS, home routers).
INTERNAL_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data"})
INTERNAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LOOPBACK = "loopback"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _NAT64) or (
        ip in _IPV4_COMPATIBLE and int(ip) > 1
    ):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not receive webhooks: ``"loopback"``, another reason, or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_loopback:
            return _LOOPBACK
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_refusal(embedded)
        if ip.is_site_local:
            return "a private address"
    if ip.is_loopback:
        return _LOOPBACK
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local (metadata) address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address in any notation a resolver accepts, or None for a name.

    ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1 to
    ``getaddrinfo``: a host whose last label is a number is an IPv4 address or invalid.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise ValueError(host) from None
    return None


def _refuse(url: str, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"The URL's host is {reason}; webhooks go to public internet addresses only.",
        fields={"url": url},
    )


def _loopback_allowed() -> bool:
    return bool(getattr(settings, "OMS_WEBHOOK_ALLOW_LOOPBACK", False))


def validate_url(url: str) -> str:
    """The rules every subscription URL follows, checked without any lookup.

    http(s) only, no credentials; https unless ``DEBUG`` (or a loopback target allowed
    by ``OMS_WEBHOOK_ALLOW_LOOPBACK``); no private, loopback, link-local, multicast,
    reserved, CGNAT or metadata address, in any notation, nor a name that only exists
    inside a network. Names are resolved and checked again at every delivery
    (``resolve_destination``). Raises ValidationFailed.
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValidationFailed("The URL is not valid.", fields={"url": url}) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(
            "The URL must be an http(s) URL with a host.", fields={"url": url}
        )
    if parts.username or parts.password:
        raise ValidationFailed(
            "The URL must not carry credentials; the signature authenticates us.",
            fields={"url": url},
        )
    if not _is_host(host):
        raise ValidationFailed("The URL's host is not valid.", fields={"url": url})
    try:
        literal = _literal_address(host)
    except ValueError:
        raise ValidationFailed(
            "The URL's host is not valid.", fields={"url": url}
        ) from None
    name = host.rstrip(".")
    if literal is not None:
        refusal = address_refusal(literal)
    elif name in LOOPBACK_NAMES:
        refusal = _LOOPBACK
    elif name in INTERNAL_NAMES or name.endswith(INTERNAL_SUFFIXES):
        refusal = "an internal name"
    elif "." not in name:
        refusal = "a name without a domain"
    else:
        refusal = None
    loopback = refusal == _LOOPBACK and _loopback_allowed()
    if refusal is not None and not loopback:
        raise _refuse(url, "loopback" if refusal == _LOOPBACK else refusal)
    if parts.scheme != "https" and not (settings.DEBUG or loopback):
        raise ValidationFailed("The URL must use https.", fields={"url": url})
    return url


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(
        label
        and len(label) <= 63
        and all(c.isalnum() or c == "-" for c in label)
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


class Unresolvable(Exception):
    """The host has no address now (a retryable failure, unlike a refusal)."""


@dataclass(frozen=True)
class Destination:
    """Where one delivery goes: the URL's host (for Host and SNI) and the checked IP."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    ip: str


def resolve_destination(url: str) -> Destination:
    """Check ``url``, resolve its host, check every address; the one to connect to.

    Raises ValidationFailed when the URL or any address it resolves to is refused (a
    name with one inside address among public ones is refused), Unresolvable when
    the name does not resolve. The caller connects to ``ip``, never resolving again,
    so a DNS answer that changes between check and connect cannot reach inside.
    """
    url = validate_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(host) from exc
        addresses = list(
            dict.fromkeys(
                ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos
            )
        )
        if not addresses:
            raise Unresolvable(host)
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None and not (refusal == _LOOPBACK and _loopback_allowed()):
            raise _refuse(url, "loopback" if refusal == _LOOPBACK else refusal)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Destination(parts.scheme, host, port, target, str(addresses[0]))


def validate_events(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            "Unknown event types.", fields={"events": unknown}, known=list(EVENT_TYPES)
        )
    if not events:
        raise ValidationFailed(
            "Subscribe to at least one event type.", fields={"events": []}
        )
    return events


def create_subscription(
    *, organisation, url: str, events: Iterable[str], is_active: bool = True
) -> WebhookSubscription:
    """A new subscription with a fresh secret (the caller shows it once)."""
    return WebhookSubscription.objects.create(
        organisation=organisation,
        url=validate_url(url),
        events=validate_events(events),
        is_active=is_active,
    )


def update_subscription(
    subscription: WebhookSubscription, **fields: Any
) -> WebhookSubscription:
    changed = []
    if "url" in fields:
        subscription.url = validate_url(fields["url"])
        changed.append("url")
    if "events" in fields:
        subscription.events = validate_events(fields["events"])
        changed.append("events")
    if "is_active" in fields:
        subscription.is_active = bool(fields["is_active"])
        changed.append("is_active")
    if changed:
        subscription.save(update_fields=changed)
    return subscription


# --- signing ------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-OMS-Signature`` value: ``t=<unix>,v1=<hex hmac_sha256(secret, "<t>.<body>")>``."""
    message = f"{int(timestamp)}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={digest}"


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed): canonical JSON, the same on every try."""
    return json.dumps(
        delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


# --- fan-out (order events → deliveries) -------------------------------------------


def event_id_for(order_event_id: int, event_type: str) -> uuid.UUID:
    """Stable per (order event, type): a retried fan-out never makes a second event."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"order-event:{order_event_id}:{event_type}")


def _previous_stage(event) -> str | None:
    stage = (event.data or {}).get("stage")
    if isinstance(stage, list | tuple) and len(stage) == 2:
        return stage[0]
    from orders.platforms import get_spec

    try:
        return get_spec(event.order.platform).stage_of(event.from_status)
    except Exception:
        return None


def _current_stage(event) -> str | None:
    stage = (event.data or {}).get("stage")
    if isinstance(stage, list | tuple) and len(stage) == 2:
        return stage[1]
    return stage if isinstance(stage, str) else None


def webhook_types_for(event) -> list[tuple[str, dict]]:
    """The webhook events one committed ``OrderEvent`` stands for, with their details."""
    if event.type == EventType.CREATED:
        return [(ORDER_CREATED, {})]
    if event.type in (EventType.STATUS_CHANGED, EventType.STATUS_CORRECTED):
        before, after = _previous_stage(event), _current_stage(event)
        change = {
            "action": event.action,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "from_stage": before,
            "to_stage": after,
            "corrected": event.type == EventType.STATUS_CORRECTED,
        }
        found = [(ORDER_STATUS_CHANGED, change)]
        if after == Stage.SHIPPED and before != Stage.SHIPPED:
            found.append((ORDER_SHIPPED, change))
        return found
    if event.type == EventType.DEADLINE_NOTICE and event.action in SHIP_WARNINGS:
        data = event.data or {}
        return [
            (
                ORDER_DEADLINE_AT_RISK,
                {
                    "deadline": "ship_by",
                    "warning": event.action,
                    "due_at": data.get("due_at"),
                },
            )
        ]
    if event.type == EventType.SYNCED and event.action == "delivery_failed":
        data = event.data or {}
        return [
            (
                PACKAGE_DELIVERY_FAILED,
                {
                    "package": data.get("package"),
                    "tracking_number": data.get("tracking_number"),
                    "tracking_code": data.get("tracking_code"),
                },
            )
        ]
    return []


RELEVANT_EVENT_TYPES = (
    EventType.CREATED,
    EventType.STATUS_CHANGED,
    EventType.STATUS_CORRECTED,
    EventType.DEADLINE_NOTICE,
)
# Of the SYNCED events (platform pulls, overlays), only these stand for a webhook.
RELEVANT_SYNCED_ACTIONS = ("delivery_failed",)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def on_order_events(event_ids: Sequence[int]) -> list[int]:
    """The ``orders.effects`` handler: write deliveries for committed events, enqueue
    them after the relay's commit. Idempotent: an event's delivery to a subscription is
    written once (checked here, and by the ``delivery_once_per_event`` constraint).

    A constant number of queries however many events: events, subscriptions, orders
    (with items), existing deliveries, one bulk insert.
    """
    from orders.models import OrderEvent

    events = list(
        OrderEvent.objects.filter(pk__in=list(event_ids))
        .filter(
            Q(type__in=RELEVANT_EVENT_TYPES)
            | Q(type=EventType.SYNCED, action__in=RELEVANT_SYNCED_ACTIONS)
        )
        .select_related("order")
        .only(
            "id",
            "type",
            "action",
            "from_status",
            "to_status",
            "data",
            "created_at",
            "order",
            "order__organisation_id",
            "order__platform",
        )
        .order_by("id")
    )
    wanted = [
        (event, t, change) for event in events for t, change in webhook_types_for(event)
    ]
    if not wanted:
        return []
    organisation_ids = {event.order.organisation_id for event, _, _ in wanted}
    subscriptions: dict[int, list[WebhookSubscription]] = {}
    for subscription in WebhookSubscription.objects.filter(
        organisation_id__in=organisation_ids, is_active=True
    ).order_by("id"):
        subscriptions.setdefault(subscription.organisation_id, []).append(subscription)
    pairs = [
        (event, event_type, change, subscription)
        for event, event_type, change in wanted
        for subscription in subscriptions.get(event.order.organisation_id, [])
        if event_type in subscription.events
    ]
    if not pairs:
        return []
    return _create_deliveries(pairs)


def _create_deliveries(pairs) -> list[int]:
    from orders.api.serializers import OrderListOutput
    from orders.models import Order, OrderItem

    order_ids = {event.order_id for event, _, _, _ in pairs}
    orders = {
        order.pk: order
        for order in Order.objects.filter(pk__in=order_ids).prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.order_by("id"))
        )
    }
    order_data = {
        pk: _jsonable(OrderListOutput(order).data) for pk, order in orders.items()
    }
    event_ids = {event_id_for(event.pk, t) for event, t, _, _ in pairs}
    existing = set(
        WebhookDelivery.objects.filter(event_id__in=event_ids).values_list(
            "subscription_id", "event_id"
        )
    )
    now = timezone.now()
    rows = []
    for event, event_type, change, subscription in pairs:
        event_id = event_id_for(event.pk, event_type)
        if (subscription.pk, event_id) in existing or event.order_id not in orders:
            continue  # already fanned out (a handler run twice), or the order is gone
        data = {"order": order_data[event.order_id]}
        if change:
            data["change"] = _jsonable(change)
        rows.append(
            WebhookDelivery(
                subscription=subscription,
                event_id=event_id,
                event_type=event_type,
                payload={
                    "id": str(event_id),
                    "type": event_type,
                    "created": event.created_at.isoformat(),
                    "data": data,
                },
                next_attempt_at=now,
                created_at=now,
            )
        )
    created = WebhookDelivery.objects.bulk_create(rows)
    ids = [delivery.pk for delivery in created]
    _enqueue_on_commit(ids)
    return ids


def _enqueue_on_commit(ids: list[int]) -> None:
    """Send once the rows are committed; if this worker dies first, the retry sweep
    (the ``webhooks`` job) finds them pending and due."""
    if ids:
        transaction.on_commit(lambda: enqueue(ids))


def publish(
    *,
    organisation_id: int,
    event_type: str,
    data: dict,
    event_id: uuid.UUID | str | None = None,
    created: str | None = None,
) -> list[int]:
    """Send any event (e.g. ``aftersales.opened``) to the organisation's subscribers.

    For callers outside the order timeline. Durable callers do not call it directly:
    they ``emit_event`` in their transaction and the outbox relay calls it. With an
    ``event_id``, a subscription that already has this event gets nothing new.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event_id = uuid.UUID(str(event_id)) if event_id else uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(event_id),
        "type": event_type,
        "created": created or now.isoformat(),
        "data": _jsonable(data),
    }
    done = set(
        WebhookDelivery.objects.filter(event_id=event_id).values_list(
            "subscription_id", flat=True
        )
    )
    rows = [
        WebhookDelivery(
            subscription=subscription,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        for subscription in WebhookSubscription.objects.filter(
            organisation_id=organisation_id, is_active=True
        ).order_by("id")
        if event_type in subscription.events and subscription.pk not in done
    ]
    ids = [d.pk for d in WebhookDelivery.objects.bulk_create(rows)]
    _enqueue_on_commit(ids)
    return ids


PUBLISH_TOPIC = "webhook"  # orders.effects.PUBLISHED


def emit_event(*, organisation_id: int, event_type: str, data: dict) -> None:
    """Publish ``event_type`` durably (``orders.effects.publish``), checking its name."""
    from orders import effects

    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    effects.publish(
        organisation_id=organisation_id, event_type=event_type, data=_jsonable(data)
    )


def on_publish(data: dict) -> list[int]:
    """The outbox handler for ``emit_event`` entries."""
    return publish(
        organisation_id=data["organisation_id"],
        event_type=data["event_type"],
        data=data["data"],
        event_id=data["event_id"],
        created=data.get("created"),
    )


def enqueue(delivery_ids: Iterable[int]) -> list[dict]:
    """One task per delivery. A broker failure only delays: the sweep retries due rows."""
    from integrations.tasks import deliver_webhook_task

    errors = []
    for delivery_id in delivery_ids:
        try:
            deliver_webhook_task.delay(delivery_id)
        except Exception as exc:
            logger.exception("could not enqueue webhook delivery %s", delivery_id)
            errors.append({"delivery_id": delivery_id, "error": repr(exc)[:500]})
    return errors


# --- delivery -----------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; Host stays the URL's host. No proxy from the
    environment, and http.client never follows a redirect (a 3xx is a failure)."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._ip = destination.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, over TLS: the certificate is verified for the URL's host (SNI too)."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(
            destination.host,
            destination.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
        self._ip = destination.ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(
    destination: Destination, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST to the pinned address; (status code or None, a short error or '').

    The log keeps the status only: the receiver's answer is read (at most 1 KiB, so the
    connection closes cleanly) and dropped, never stored or echoed.
    """
    connection_class = (
        _PinnedHTTPSConnection
        if destination.scheme == "https"
        else _PinnedHTTPConnection
    )
    connection = connection_class(destination, TIMEOUT_SECONDS)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(1024)
        if 200 <= response.status < 300:
            return response.status, ""
        return response.status, f"HTTP {response.status}"
    except TimeoutError:
        return None, "Timed out"
    except ConnectionRefusedError:
        return None, "Connection refused"
    except ssl.SSLCertVerificationError:
        return None, "TLS certificate not valid for the host"
    except ssl.SSLError:
        return None, "TLS error"
    except http.client.HTTPException:
        return None, "Invalid HTTP response"
    except (OSError, ValueError, UnicodeError):
        return None, "Connection failed"
    finally:
        connection.close()


def _claim(delivery_id: int, now: datetime) -> tuple[WebhookDelivery, int] | None:
    """Lock the row and lease it; None when there is nothing to send now."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None  # gone, or another worker holds it this instant
        if delivery.status != WebhookDelivery.Status.PENDING:
            return None  # already succeeded (idempotent) or given up
        if delivery.next_attempt_at > now:
            return None  # not due, or leased by a worker sending it right now
        attempt = delivery.attempts + 1
        delivery.next_attempt_at = now + CLAIM_LEASE
        delivery.save(update_fields=["next_attempt_at"])
    return delivery, attempt


def deliver(delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Send one due delivery once; record the outcome. Safe to call twice or concurrently."""
    now = now or timezone.now()
    claimed = _claim(delivery_id, now)
    if claimed is None:
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    delivery, attempt = claimed
    subscription = delivery.subscription
    status_code: int | None = None
    started = time.monotonic()
    if not subscription.is_active:
        error = "The subscription is disabled."
        status_code, ok, give_up = None, False, True
    else:
        try:
            destination = resolve_destination(subscription.url)
        except ValidationFailed as exc:
            error, ok, give_up = f"Refused destination: {exc.message}", False, True
        except Unresolvable:
            error, ok = "Could not resolve the host", False
            give_up = attempt >= MAX_ATTEMPTS
        else:
            body = body_of(delivery)
            timestamp = int(timezone.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-OMS-Event": delivery.event_type,
                "X-OMS-Event-Id": str(delivery.event_id),
                "X-OMS-Delivery": str(delivery.pk),
                "X-OMS-Signature": sign(subscription.secret, timestamp, body),
            }
            status_code, error = _post(destination, body, headers)
            ok = status_code is not None and 200 <= status_code < 300
            give_up = attempt >= MAX_ATTEMPTS
    duration_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()
    fields: dict[str, Any] = {
        "attempts": attempt,
        "last_status_code": status_code,
        "last_error": "" if ok else (error or f"HTTP {status_code}")[:2000],
        "last_attempt_at": now,
        "last_duration_ms": duration_ms,
    }
    if ok:
        fields.update(status=WebhookDelivery.Status.SUCCEEDED, delivered_at=finished)
    elif give_up:
        fields.update(status=WebhookDelivery.Status.FAILED)
    else:
        fields.update(next_attempt_at=finished + BACKOFF[attempt - 1])
    # Only the holder of this attempt's lease records it.
    WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=WebhookDelivery.Status.PENDING,
        attempts=attempt - 1,
    ).update(**fields)
    if not ok:
        logger.info(
            "webhook delivery %s attempt %s failed: %s", delivery.pk, attempt, error
        )
    return WebhookDelivery.objects.filter(pk=delivery_id).first()


def retry_due_deliveries(
    now: datetime | None = None,
    *,
    batch_size: int = SWEEP_BATCH,
    max_batches: int = SWEEP_MAX_BATCHES,
) -> tuple[dict, list]:
    """Enqueue pending deliveries that are due (the partial index), in bounded batches.

    Enqueuing twice is harmless: ``deliver`` claims a row before sending.
    """
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    enqueued, errors, after = 0, [], None
    for _ in range(max_batches):
        page = due
        if after is not None:  # keyset: enqueuing does not change the rows
            at, last_id = after
            page = page.filter(
                Q(next_attempt_at__gt=at) | Q(next_attempt_at=at, id__gt=last_id)
            )
        rows = list(page.values_list("id", "next_attempt_at")[:batch_size])
        if not rows:
            break
        batch_errors = enqueue([pk for pk, _ in rows])
        enqueued += len(rows) - len(batch_errors)
        errors += batch_errors
        after = (rows[-1][1], rows[-1][0])
        if len(rows) < batch_size:
            break
    return {"due": enqueued + len(errors), "enqueued": enqueued}, errors


def run_job(now: datetime) -> tuple[dict, list]:
    """The ``webhooks`` job for ``orders.jobs.JOBS``."""
    return retry_due_deliveries(now)


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event (same event id and payload), sent now."""
    if not delivery.subscription.is_active:
        raise ValidationFailed(
            "The subscription is disabled; enable it before redelivering.",
            subscription_id=delivery.subscription_id,
        )
    now = timezone.now()
    copy = WebhookDelivery.objects.create(
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        next_attempt_at=now,
        created_at=now,
        is_redelivery=True,
    )
    transaction.on_commit(lambda: enqueue([copy.pk]))
    return copy
