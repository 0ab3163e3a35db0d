from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """ERP and platform integration: API keys, idempotency, inbound and outbound webhooks."""

    name = "integrations"
    verbose_name = _("Integrations")
