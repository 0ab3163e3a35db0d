"""Replays: the same Idempotency-Key again (one after another and at once), the same
platform push again, and a reordered stream of platform pushes: each processed once."""

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from soak.areas.races import burst, statuses
from soak.result import AreaResult
from soak.seed import APP_KEY, APP_SECRET

_ids = iter(range(7 * 10**12, 8 * 10**12))


def _older_order(shop):
    """An order last updated an hour ago, so the pushes below are newer than it."""
    from datetime import timedelta

    from django.utils import timezone

    from soak import seed

    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    return seed.fresh_order(shop, "AWAITING_SHIPMENT", platform_updated_at=hour_ago)


_lock = threading.Lock()


def idempotent_memo(ctx, result, replays: int, concurrent: int):
    from orders.models import OrderEvent
    from soak import seed

    key = ctx.world.principal("key:all")
    order = seed.awaiting(ctx.world.shops["A1"])
    path = f"/api/v1/orders/{order.pk}/memo/"
    idem = {"Idempotency-Key": f"soak-{uuid.uuid4()}"}
    body = {"memo": "once only"}
    first = key.request("POST", path, json=body, headers=idem)
    replies = [
        key.request("POST", path, json=body, headers=idem) for _ in range(replays)
    ]
    problems = []
    if first.status_code != 200:
        problems.append(f"first answer {first.status_code}")
    for reply in replies:
        if reply.status_code != first.status_code or reply.content != first.content:
            problems.append(f"a replay answered {reply.status_code} with another body")
            break
        if reply.headers.get("Idempotent-Replayed") != "true":
            problems.append("a replay lacks Idempotent-Replayed: true")
            break
    other = key.request("POST", path, json={"memo": "another"}, headers=idem)
    if other.status_code != 422:
        problems.append(f"the key with another body answered {other.status_code}")
    # At once, with a fresh key.
    idem = {"Idempotency-Key": f"soak-{uuid.uuid4()}"}
    at_once = burst(
        [lambda: key.request("POST", path, json={"memo": "at once"}, headers=idem)]
        * concurrent
    )
    codes = statuses(at_once)
    if any(not isinstance(c, int) or c >= 500 or c not in (200, 409) for c in codes):
        problems.append(f"at once: statuses {sorted(set(map(str, codes)))}")
    events = OrderEvent.objects.filter(order=order, type="memo_changed").count()
    if events != 2:
        problems.append(f"{events} memo events for 2 distinct requests")
    result.check(
        not problems,
        f"Idempotency-Key x{replays}+{concurrent}: {'; '.join(problems)}",
    )


def _push(
    ctx, shop, platform_order_id: str, status: str, update_time: int, note_id=None
):
    note_id = note_id or str(next(_ids))
    message = {
        "type": 1,
        "tts_notification_id": note_id,
        "shop_id": "",
        "timestamp": int(time.time()),
        "data": {
            "order_id": platform_order_id,
            "order_status": status,
            "is_on_hold_order": False,
            "update_time": update_time,
        },
    }
    body = json.dumps(message, separators=(",", ":")).encode()
    signature = hmac.new(APP_SECRET.encode(), APP_KEY.encode() + body, hashlib.sha256)
    return note_id, body, {"Authorization": signature.hexdigest(),
                           "Content-Type": "application/json"}  # fmt: skip


def _send(ctx, shop, body, headers):
    return ctx.world.api.request(
        "POST", f"/api/v1/platforms/{shop.pk}/webhook/", data=body, headers=headers
    )


def _wait_processed(shop, keys, timeout=180) -> list:
    from integrations.models import InboundEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = list(
            InboundEvent.objects.filter(
                shop=shop, event_key__in=keys, status="received"
            ).values_list("event_key", flat=True)
        )
        if not waiting:
            return []
        time.sleep(0.3)
    return waiting


def push_replays(ctx, result, copies: int):
    from integrations.models import InboundEvent
    from orders.models import OrderEvent

    shop = ctx.world.shops["A3"]
    order = _older_order(shop)
    note, body, headers = _push(ctx, shop, order.platform_order_id, "AWAITING_COLLECTION",
                                int(time.time()))  # fmt: skip
    replies = [_send(ctx, shop, body, headers) for _ in range(copies)]
    replies += burst([lambda: _send(ctx, shop, body, headers)] * copies)
    answers = [
        r.json().get("status") if hasattr(r, "json") else repr(r) for r in replies
    ]
    problems = []
    if answers.count("accepted") != 1 or answers.count("duplicate") != len(answers) - 1:
        problems.append(
            f"answers {sorted(set(answers))}, {answers.count('accepted')} accepted"
        )
    stuck = _wait_processed(shop, [note])
    if stuck:
        problems.append("the push was never processed")
    stored = InboundEvent.objects.filter(shop=shop, event_key=note).count()
    changes = OrderEvent.objects.filter(
        order=order, to_status="AWAITING_COLLECTION"
    ).count()
    if stored != 1 or changes != 1:
        outcome = list(
            InboundEvent.objects.filter(shop=shop, event_key=note).values_list(
                "status", "error"
            )
        )
        problems.append(f"{stored} stored, {changes} status changes {outcome}")
    result.check(not problems, f"push sent {2 * copies} times: {'; '.join(problems)}")


def reordered_stream(ctx, result, orders: int, duplicate_share: float = 0.2):
    from orders.models import Order, OrderEvent

    shop = ctx.world.shops["A3"]
    chain = ["AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED"]
    made = [_older_order(shop) for _ in range(orders)]
    start = int(time.time()) - 60
    pushes = []
    for order in made:
        for step, status in enumerate(chain, 1):
            pushes.append(
                _push(ctx, shop, order.platform_order_id, status, start + step)
            )
    rng = random.Random(20261204)  # an order for the stream, not a secret
    stream = pushes + rng.sample(pushes, int(len(pushes) * duplicate_share))
    rng.shuffle(stream)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda p: _send(ctx, shop, p[1], p[2]), stream))
    bad = [r.status_code for r in replies if r.status_code != 200]
    stuck = _wait_processed(shop, [p[0] for p in pushes])
    wrong = []
    for order in made:
        final = Order.objects.get(pk=order.pk).native_status
        delivered = OrderEvent.objects.filter(
            order=order, to_status="DELIVERED"
        ).count()
        if final != "DELIVERED" or delivered != 1:
            wrong.append((order.pk, final, delivered))
    problems = []
    if bad:
        problems.append(f"{len(bad)} pushes answered {sorted(set(bad))}")
    if stuck:
        problems.append(f"{len(stuck)} pushes never processed")
    if wrong:
        problems.append(
            f"{len(wrong)} orders wrong (id, status, DELIVERED events) e.g. {wrong[:3]}"
        )
    result.check(not problems,
                 f"reordered stream of {len(stream)} pushes: {'; '.join(problems)}")  # fmt: skip


def run(ctx, result: AreaResult) -> AreaResult:
    for _ in range(ctx.size(2, 20)):
        idempotent_memo(
            ctx, result, replays=ctx.size(3, 10), concurrent=ctx.size(5, 20)
        )
    for _ in range(ctx.size(2, 16)):
        push_replays(ctx, result, copies=ctx.size(2, 4))
    for _ in range(ctx.size(1, 3)):
        reordered_stream(ctx, result, orders=ctx.size(10, 130))
    return result
