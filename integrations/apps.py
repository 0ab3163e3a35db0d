from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """ERP and platform integration: API keys, idempotency, inbound and outbound webhooks."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from django.core import checks

        from integrations import inbound, tasks, webhooks
        from integrations.api.checks import check_api_permissions
        from orders import effects
        from orders.jobs import JOBS

        # Committed order events → outbound webhook deliveries.
        effects.register(webhooks.on_order_events)
        # The retry sweep, run by beat through orders.run_job("webhooks").
        JOBS["webhooks"] = webhooks.run_job
        # Crash recovery for platform pushes left unprocessed (integrations/inbound.py).
        JOBS["inbound"] = inbound.run_inbound_job
        # Every API view declares its permission and scope (oms.E001).
        checks.register(check_api_permissions, checks.Tags.security)
        del tasks  # imported only to register its tasks (deliver_webhook, process_inbound_event)
