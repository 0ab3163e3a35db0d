from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OmsConfig(AppConfig):
    """The project itself as an app: commands that span every app (``seed_demo``)."""

    name = "oms"
    verbose_name = _("OMS")
