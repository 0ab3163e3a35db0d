"""The order timeline's one writer: every ``OrderEvent`` is built and saved here.

``record`` (one event) and ``write`` (many, one query) save events and always schedule
their effects (webhooks, notifications) in the same transaction, through the outbox
(``orders.effects``). ``build`` makes an unsaved event for ``write``. No other module
creates ``OrderEvent`` rows (a test scans the source tree for it).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from orders import effects
from orders.models import Order, OrderEvent

if TYPE_CHECKING:
    from orders.services import Actor


def build(
    order: Order,
    type: str,
    actor: "Actor",
    *,
    now: datetime | None = None,
    **fields: Any,
) -> OrderEvent:
    """An unsaved timeline entry; save it (with others) through ``write``."""
    return OrderEvent(
        order=order,
        created_at=now or timezone.now(),
        type=type,
        actor_kind=actor.kind,
        actor_user=actor.membership.user if actor.membership else None,
        actor_label=actor.label,
        **fields,
    )


def write(events: Sequence[OrderEvent]) -> list[OrderEvent]:
    """Save ``events`` in one query and schedule their effects (call inside the
    transaction that made the change)."""
    if not events:
        return []
    saved = OrderEvent.objects.bulk_create(list(events))
    effects.schedule([event.pk for event in saved])
    return saved


def record(
    order: Order,
    type: str,
    actor: "Actor",
    *,
    now: datetime | None = None,
    **fields: Any,
) -> OrderEvent:
    """Append one entry to the order's timeline and schedule its effects."""
    (event,) = write([build(order, type, actor, now=now, **fields)])
    return event
