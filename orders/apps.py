from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        checks.register(check_platform_specs)
        from orders import background
        from orders.jobs import JOBS

        # Re-enqueues background jobs whose worker died or whose message was lost.
        JOBS["background_jobs"] = background.resume_stalled


def check_platform_specs(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a broken platform table at `manage.py check`, `migrate` and `runserver`."""
    from django.conf import settings

    from orders.machine import validate_spec
    from orders.platforms import _load

    errors = []
    for path in settings.OMS_PLATFORMS:
        for problem in validate_spec(_load(path).spec):
            errors.append(checks.Error(problem, obj=path, id="orders.E001"))
    return errors
