"""TikTok Shop webhooks (platforms.md §1.6).

Header ``Authorization`` (no "Bearer") is the lowercase hex HMAC-SHA256, keyed with the
shop's ``app_secret``, of ``app_key`` + the raw body. Envelope ``{type,
tts_notification_id, shop_id, timestamp, data}``; deduplicated by
``tts_notification_id``; ``timestamp`` is required (the replay window applies). Type 1
(ORDER_STATUS_CHANGE) carries ``data.order_id``, ``data.order_status`` and
``data.update_time`` (or the full order in ``data.order`` when our relay or sandbox sent
it); other types are noted only.
"""

from collections.abc import Mapping
from typing import Any

from oms.core.errors import ValidationFailed
from oms.core.timeutils import parse_unix
from orders.webhook_formats import (
    Envelope,
    OrderNotice,
    WebhookFormat,
    full_order,
    json_object,
    notification_id,
    sent_time,
)

ORDER_STATUS_CHANGE = 1


def envelope(message: Any) -> Envelope:
    message = json_object(message)
    key = notification_id(message.get("tts_notification_id"), "tts_notification_id")
    sent = sent_time(message.get("timestamp"))
    shop_id = message.get("shop_id")
    return Envelope(
        key,
        str(message.get("type", ""))[:60],
        sent,
        "" if shop_id in (None, "") else str(shop_id),
    )


def notice(message: Mapping[str, Any]) -> OrderNotice:
    if str(message.get("type")) != str(ORDER_STATUS_CHANGE):
        return OrderNotice(ignored=f"type {message.get('type')!r} is not handled yet")
    full = full_order(message)
    if full is not None:
        return OrderNotice(order=full)
    data = message.get("data") or {}
    order_id = str(data.get("order_id") or "").strip()
    status = str(data.get("order_status") or "").strip()
    updated = parse_unix(data.get("update_time"), field="update_time")
    if not order_id or not status or updated is None:
        raise ValidationFailed(
            "An order status change needs order_id, order_status and update_time.",
            fields={"data": "order_id, order_status, update_time"},
        )
    return OrderNotice(order_id=order_id, status=status, updated_at=updated)


WEBHOOK = WebhookFormat(
    signature_header="Authorization",
    envelope=envelope,
    notice=notice,
    doc=(
        'Header `Authorization` (no "Bearer") = lowercase hex HMAC-SHA256(key = '
        "app_secret, message = app_key + raw body), with the shop's app key and "
        "secret. Envelope `{type, tts_notification_id, shop_id, timestamp, data}`; a "
        "`timestamp` more than 5 minutes from now is refused (401); deduplicated by "
        "`tts_notification_id`."
    ),
)
