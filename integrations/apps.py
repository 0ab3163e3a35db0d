from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """ERP and platform integration: API keys, idempotency, inbound and outbound webhooks."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from integrations import inbound, tasks, webhooks
        from integrations.api.checks import check_api_permissions
        from orders import effects
        from orders.jobs import JOBS

        # Order events (through the outbox) → outbound webhook deliveries.
        effects.register(webhooks.on_order_events)
        # Other events published durably (after-sales cases) → deliveries.
        effects.register(webhooks.on_publish, topic=effects.PUBLISHED)
        # The retry sweep, run by beat through orders.run_job("webhooks").
        JOBS["webhooks"] = webhooks.run_job
        # Crash recovery for platform pushes left unprocessed (integrations/inbound.py).
        JOBS["inbound"] = inbound.run_inbound_job
        checks.register(check_webhook_targets, checks.Tags.security, deploy=True)
        # Every API view declares its permission and scope (oms.E001).
        checks.register(check_api_permissions, checks.Tags.security)
        del tasks  # imported only to register its tasks (deliver_webhook, process_inbound_event)


def check_webhook_targets(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check --deploy``: loopback webhook targets are for development."""
    if getattr(settings, "OMS_WEBHOOK_ALLOW_LOOPBACK", False) and not settings.DEBUG:
        return [
            checks.Warning(
                "OMS_WEBHOOK_ALLOW_LOOPBACK is on with DEBUG off: webhook subscriptions "
                "may target this server's own loopback services.",
                hint="Unset OMS_WEBHOOK_ALLOW_LOOPBACK in production.",
                id="integrations.W001",
            )
        ]
    return []
