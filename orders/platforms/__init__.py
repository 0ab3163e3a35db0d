"""The platform registry: one module per platform, each exporting ``SPEC``.

Adding a platform means adding its module here in ``MODULES``; nothing else in the code
names a platform. Each spec is validated when the registry loads (Celery workers run no
system checks) and again by ``manage.py check``.
"""

from functools import cache
from importlib import import_module

from django.core.exceptions import ImproperlyConfigured

from orders.machine import PlatformSpec, validate_spec

MODULES = ("taobao", "aliexpress", "tiktok")


@cache
def registry() -> dict[str, PlatformSpec]:
    specs: dict[str, PlatformSpec] = {}
    for name in MODULES:
        spec: PlatformSpec = import_module(f"orders.platforms.{name}").SPEC
        problems = validate_spec(spec)
        if problems:
            raise ImproperlyConfigured(f"platform {spec.code}: " + "; ".join(problems))
        specs[spec.code] = spec
    return specs


def get_spec(code: str) -> PlatformSpec:
    try:
        return registry()[code]
    except KeyError:
        raise ImproperlyConfigured(f"no platform {code!r} is registered") from None


def platform_choices() -> list[tuple[str, str]]:
    """Choices for ``Shop.platform``: a callable, so a new platform adds no migration."""
    return [(code, spec.label) for code, spec in registry().items()]
