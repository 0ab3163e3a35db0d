"""Side effects of changes, durable with the change (a transactional outbox).

Services call ``schedule(event_ids)`` (order events) or ``emit(topic, data)`` inside the
transaction that makes the change: it writes one ``OutboxEntry`` row in that same
transaction, so a rolled-back change leaves nothing and a committed one always leaves
its row, even if the worker is killed the instant after the commit.

``relay`` hands entries to the handlers registered for their topic and deletes each
entry in the same transaction as the handlers' writes (claimed with ``SELECT … FOR
UPDATE SKIP LOCKED``, so concurrent relays never take the same entry). It runs:

- right after the commit, for the entries that transaction wrote (``_nudge``, through
  ``transaction.on_commit``): the fast path, as before;
- from beat every few seconds (task ``orders.relay_outbox``) and as the ``outbox`` job
  (``manage.py runjobs``): whatever a dead worker left. Correctness never depends on
  the fast path.

Handlers run inside the relay's transaction and must be idempotent (an entry is handled
again if its transaction fails); they should write rows and only enqueue work with
``transaction.on_commit``. A failing entry is retried later on a back-off, without
blocking the others.
"""

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from orders.models import OutboxEntry

logger = logging.getLogger(__name__)

ORDER_EVENTS = "order_events"

Handler = Callable[..., Any]
_handlers: dict[str, list[Handler]] = {}

RELAY_BATCH = 100
RELAY_MAX_BATCHES = 50
# Waits after failed tries 1, 2, 3 …; the last one repeats.
RETRY_BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
)


def register(handler: Handler, topic: str = ORDER_EVENTS) -> Handler:
    """Register ``handler`` for ``topic``; order-event handlers receive the event ids,
    other topics' handlers the entry's data."""
    handlers = _handlers.setdefault(topic, [])
    if handler not in handlers:
        handlers.append(handler)
    return handler


def unregister(handler: Handler, topic: str = ORDER_EVENTS) -> None:
    if handler in _handlers.get(topic, []):
        _handlers[topic].remove(handler)


def schedule(event_ids: Sequence[int]) -> None:
    """The committed order events' effects: one outbox row for all of them."""
    if event_ids:
        emit(ORDER_EVENTS, {"event_ids": [int(pk) for pk in event_ids]})


def emit(topic: str, data: dict) -> OutboxEntry:
    """Write an outbox entry in the current transaction; relay it after the commit."""
    entry = OutboxEntry.objects.create(topic=topic, data=data)
    entry_id = entry.pk
    transaction.on_commit(lambda: _nudge([entry_id]))
    return entry


# The topic of events published to the organisation's subscribers (``publish``).
PUBLISHED = "webhook"


def publish(*, organisation_id: int, event_type: str, data: dict) -> OutboxEntry:
    """Publish ``event_type`` (e.g. ``aftersales.opened``) durably: an outbox entry in
    the caller's transaction, with the event's id and time fixed now, handed after the
    commit to the handlers registered for ``PUBLISHED`` (the outbound webhooks)."""
    return emit(
        PUBLISHED,
        {
            "organisation_id": organisation_id,
            "event_type": event_type,
            "event_id": str(uuid.uuid4()),
            "created": timezone.now().isoformat(),
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        },
    )


def _nudge(entry_ids: list[int]) -> None:
    """The fast path: relay these entries now. A failure only delays (beat relays)."""
    try:
        relay(timezone.now(), entry_ids=entry_ids)
    except Exception:
        logger.exception("outbox relay of entries %s failed; beat retries", entry_ids)


def _handle(entry: OutboxEntry) -> None:
    for handler in _handlers.get(entry.topic, []):
        if entry.topic == ORDER_EVENTS:
            event_ids = entry.data["event_ids"]
            if not isinstance(event_ids, list):
                raise TypeError(f"event_ids must be a list, not {event_ids!r}")
            handler(event_ids)
        else:
            handler(entry.data)


def relay(
    now: datetime | None = None,
    *,
    entry_ids: Sequence[int] | None = None,
    batch_size: int = RELAY_BATCH,
    max_batches: int = RELAY_MAX_BATCHES,
) -> tuple[dict, list]:
    """Hand due outbox entries to their handlers, each exactly once; (counts, errors)."""
    now = now or timezone.now()
    relayed, errors = 0, []
    for _ in range(max_batches):
        with transaction.atomic():
            due = OutboxEntry.objects.select_for_update(skip_locked=True).filter(
                available_at__lte=now
            )
            if entry_ids is not None:
                due = due.filter(pk__in=list(entry_ids))
            entries = list(due.order_by("id")[:batch_size])
            done = []
            for entry in entries:
                try:
                    with transaction.atomic():
                        _handle(entry)
                except Exception as exc:
                    logger.exception("outbox entry %s failed", entry.pk)
                    wait = RETRY_BACKOFF[min(entry.attempts, len(RETRY_BACKOFF) - 1)]
                    entry.attempts += 1
                    entry.last_error = repr(exc)[:2000]
                    entry.available_at = now + wait
                    entry.save(update_fields=["attempts", "last_error", "available_at"])
                    errors.append({"outbox_entry": entry.pk, "error": repr(exc)[:500]})
                else:
                    done.append(entry.pk)
            if done:
                OutboxEntry.objects.filter(pk__in=done).delete()
        relayed += len(done)
        if len(entries) < batch_size:
            break
    return {"relayed": relayed, "failed": len(errors)}, errors


def run_job(now: datetime) -> tuple[dict, list]:
    """The ``outbox`` job for ``orders.jobs.JOBS`` (operators, ``manage.py runjobs``)."""
    return relay(now)
