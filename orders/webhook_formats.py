"""Neutral types of a platform's webhook format, declared by each platform package.

A platform package says how its pushes are signed and read (``Platform.webhook``, a
:class:`WebhookFormat`); the generic receiving and processing code (``integrations.inbound``)
looks the format up by ``shop.platform`` and never names a platform:

- ``signature_header`` carries the signature; ``sign(app_key, app_secret, body)`` gives the
  expected value (compared in constant time);
- ``envelope(message)`` reads what receiving needs (notification id, topic, send time, the
  platform shop it is for) into an :class:`Envelope`; a malformed envelope raises
  ``ValidationFailed`` (400, nothing stored); a send time outside the replay window is
  refused by the generic code;
- ``notice(message)`` reads a stored push into an :class:`OrderNotice`: the full native
  order, or an order's new status, or why the push changes nothing.

The **OMS relay format** (``RELAY``) is this project's own, for platforms whose push is
not confirmed: an integrator's bridge sends ``{"message_id", "topic", "timestamp"
(optional), "data": {"order": <the platform's own order payload>}}`` signed in
``X-OMS-Platform-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oms.core.errors import ValidationFailed
from oms.core.timeutils import parse_unix

RELAY_HEADER = "X-OMS-Platform-Signature"


@dataclass(frozen=True)
class Envelope:
    """What receiving a push needs: read before anything is stored."""

    event_id: str  # the platform's notification id: one stored event per id and shop
    topic: str = ""  # the platform's name for the kind of push
    sent_at: datetime | None = None  # checked against the replay window when set
    shop_id: str = ""  # the platform shop the push names, when it names one


@dataclass(frozen=True)
class OrderNotice:
    """What a stored push says about an order (at most one of order / order_id)."""

    order: Mapping[str, Any] | None = None  # the platform's own full order payload
    order_id: str = ""  # a status change of this order ...
    status: str = ""  # ... to this native status ...
    updated_at: datetime | None = None  # ... as of this platform update time
    ignored: str = ""  # why this push changes nothing ("type 12 is not handled yet")


def app_hmac(app_key: str, app_secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with ``app_secret`` over ``app_key`` + ``body``."""
    return hmac.new(
        app_secret.encode(), app_key.encode() + body, hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class WebhookFormat:
    """How one platform's pushes are signed and read."""

    signature_header: str
    envelope: Callable[[Any], Envelope]
    notice: Callable[[Mapping[str, Any]], OrderNotice]
    sign: Callable[[str, str, bytes], str] = app_hmac
    doc: str = ""

    def verify(self, app_key: str, app_secret: str, body: bytes, supplied: str) -> bool:
        """Constant-time check of ``supplied`` against the signature of ``body``."""
        if not (app_key and app_secret and supplied):
            return False
        expected = self.sign(app_key, app_secret, body)
        return hmac.compare_digest(expected.encode(), supplied.encode(errors="replace"))


# --- helpers for the readers -----------------------------------------------------------


def json_object(message: Any) -> Mapping[str, Any]:
    """The message as an object whose ``data``, when present, is an object too."""
    if not isinstance(message, Mapping):
        raise ValidationFailed("The notification must be a JSON object.")
    if "data" in message and not isinstance(message["data"], Mapping):
        raise ValidationFailed("data must be an object.", fields={"data": "object"})
    return message


def notification_id(value: Any, field: str) -> str:
    """A notification id: a string or integer, 1 to 128 characters."""
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


def sent_time(value: Any, field: str = "timestamp") -> datetime:
    """A required send time in Unix seconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(
            f"{field} must be Unix seconds.", fields={field: "Unix seconds"}
        )
    sent = parse_unix(value, field=field)
    if sent is None:
        raise ValidationFailed(f"{field} is required.", fields={field: "required"})
    return sent


def full_order(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``data.order`` when it is an object (the relay's, or a sandbox's full order)."""
    data = message.get("data") or {}
    order = data.get("order") if isinstance(data, Mapping) else None
    return order if isinstance(order, Mapping) else None


# --- the OMS relay format ----------------------------------------------------------------


def relay_envelope(message: Any) -> Envelope:
    message = json_object(message)
    field = "message_id" if message.get("message_id") not in (None, "") else "id"
    key = notification_id(message.get(field), "message_id")
    sent = None
    if message.get("timestamp") not in (None, ""):
        sent = sent_time(message["timestamp"])
    return Envelope(key, str(message.get("topic") or "")[:60], sent)


def relay_notice(message: Mapping[str, Any]) -> OrderNotice:
    """``data.order`` when present; without it there is nothing to apply."""
    return OrderNotice(order=full_order(message))


RELAY = WebhookFormat(
    signature_header=RELAY_HEADER,
    envelope=relay_envelope,
    notice=relay_notice,
    doc=(
        "The OMS relay format (the platform's push is not confirmed; an integrator's "
        f"bridge relays it): header `{RELAY_HEADER}` = lowercase hex "
        "HMAC-SHA256(key = app_secret, message = app_key + raw body); body "
        '`{"message_id", "topic", "timestamp" (Unix seconds, optional), '
        '"data": {"order": <the platform\'s own order payload>}}`; deduplicated by '
        "`message_id` (or `id`)."
    ),
)
