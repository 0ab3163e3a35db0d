"""Celery tasks for integrations: thin wrappers around the webhook services."""

from celery import shared_task


@shared_task(name="integrations.deliver_webhook", acks_late=True)
def deliver_webhook_task(delivery_id: int) -> dict:
    """Send one webhook delivery if it is due (idempotent: claims the row first)."""
    from integrations.webhooks import deliver

    delivery = deliver(delivery_id)
    if delivery is None:
        return {"delivery": delivery_id, "status": "missing"}
    return {
        "delivery": delivery_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
    }


@shared_task(name="integrations.process_inbound_event")
def process_inbound_event_task(event_id: int) -> dict:
    """Process one stored platform push (idempotent: locks the row, skips done ones)."""
    from integrations.inbound import process_inbound_event

    return {"inbound_event": event_id, "status": process_inbound_event(event_id)}
