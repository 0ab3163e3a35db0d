"""Side effects of order changes, run after the transaction that made them commits.

Services call ``schedule(event_ids)``; it registers one ``transaction.on_commit`` hook, so
a rolled-back change never notifies anyone. Later features (webhooks, notifications)
register a handler here; a handler receives the committed event ids and should only
enqueue work (e.g. ``some_task.delay(...)``), never do it inline.
"""

import logging
from collections.abc import Callable, Sequence

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[Sequence[int]], None]
_handlers: list[Handler] = []


def register(handler: Handler) -> Handler:
    """Register ``handler`` to run with the ids of committed order events (decorator)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def unregister(handler: Handler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def schedule(event_ids: Sequence[int]) -> None:
    if event_ids:
        ids = list(event_ids)
        transaction.on_commit(lambda: dispatch(ids))


def dispatch(event_ids: Sequence[int]) -> None:
    for handler in _handlers:
        try:
            handler(event_ids)
        except Exception:
            # One failing handler (a broker hiccup) must not hide the others.
            logger.exception("order effect %s failed for events %s", handler, event_ids)
