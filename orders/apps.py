from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        checks.register(check_platform_specs, "platforms")
        from orders import background
        from orders.jobs import JOBS

        # Re-enqueues background jobs whose worker died or whose message was lost.
        JOBS["background_jobs"] = background.resume_stalled


def check_platform_specs(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a broken platform at `manage.py check`, `migrate` and `runserver`: its
    order table (orders.E001), a case table or the after-sales contract (orders.E002),
    the order actions the case tables name (orders.E003). Tagged ``platforms``: with a
    broken table installed, other checks reading the registry (model choices) stop at
    the registry's own refusal, so ``manage.py check --tag platforms`` lists them all."""
    from django.conf import settings

    from orders.machine import CASE_TABLE, ORDER_ACTIONS, ORDER_TABLE, platform_problems
    from orders.platforms import _load

    ids = {
        ORDER_TABLE: "orders.E001",
        CASE_TABLE: "orders.E002",
        ORDER_ACTIONS: "orders.E003",
    }
    return [
        checks.Error(problem, obj=path, id=ids[group])
        for path in settings.OMS_PLATFORMS
        for group, problem in platform_problems(_load(path))
    ]
