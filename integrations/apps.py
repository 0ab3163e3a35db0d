from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """ERP and platform integration: API keys, idempotency, inbound and outbound webhooks."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from integrations import inbound, tasks, webhooks
        from orders import effects
        from orders.jobs import JOBS

        # Order events (through the outbox) → outbound webhook deliveries.
        effects.register(webhooks.on_order_events)
        # Other events published durably (after-sales cases) → deliveries.
        effects.register(webhooks.on_publish, topic=webhooks.PUBLISH_TOPIC)
        # The retry sweep, run by beat through orders.run_job("webhooks").
        JOBS["webhooks"] = webhooks.run_job
        # Crash recovery for platform pushes left unprocessed (integrations/inbound.py).
        JOBS["inbound"] = inbound.run_inbound_job
        del tasks  # imported only to register its tasks (deliver_webhook, process_inbound_event)
