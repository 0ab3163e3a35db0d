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
    """Refuse a broken platform at `manage.py check`, `migrate` and `runserver`: its
    order table (orders.E001), a case table or the after-sales contract (orders.E002),
    the order actions the case tables name (orders.E003)."""
    from django.conf import settings

    from orders.machine import validate_platform
    from orders.platforms import _load

    errors = []
    for path in settings.OMS_PLATFORMS:
        platform = _load(path)
        order_problems = set(validate_spec_problems(platform))
        for problem in validate_platform(platform):
            if problem in order_problems:
                check_id = "orders.E001"
            elif "order machine has no" in problem or "close_on_full_refund" in problem:
                check_id = "orders.E003"
            else:
                check_id = "orders.E002"
            errors.append(checks.Error(problem, obj=path, id=check_id))
    return errors


def validate_spec_problems(platform) -> list[str]:
    from orders.machine import validate_spec

    return validate_spec(platform.spec)
