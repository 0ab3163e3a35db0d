"""The platform registry: the installed platform packages, named in settings.

``settings.OMS_PLATFORMS`` lists dotted paths of packages (``platforms.taobao``, …); each
exports ``PLATFORM``, a :class:`Platform` holding everything the OMS knows about that
marketplace: its order machine, its after-sales case tables, its native parsers, its
simulator, its capabilities. Generic code asks the registry and never names a platform.

The packages are imported by name at run time, so ``orders`` does not depend on them
(they depend on ``orders``: the engine and the vocabulary live here). Each table is
validated when the registry loads (Celery workers run no system checks) and again by
``manage.py check``: the order table, each case table against it, and the contract
between the generic after-sales code and the case tables (``orders.machine.CASE_ROLES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from orders.machine import CaseSpec, PlatformSpec, validate_platform

if TYPE_CHECKING:  # annotations only: the registry needs none of them at run time
    from orders.capabilities import DemoShop, FundRelease, MessageRule
    from orders.webhook_formats import WebhookFormat


@dataclass(frozen=True)
class Platform:
    """One marketplace, as its package declares it."""

    spec: PlatformSpec  # the order machine: native statuses, transitions, deadlines
    cases: tuple[CaseSpec, ...] = ()  # after-sales case tables, one per case kind
    # The order action that closes an order whose every item was refunded.
    close_on_full_refund: str = ""
    simulator: ModuleType | None = None  # realistic native payloads (sandbox, demo)
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    # What a seller's message to a buyer may be (None: the generic default rule).
    message_rule: MessageRule | None = None
    # How its pushes are signed and read (None: the platform pushes nothing to us).
    webhook: WebhookFormat | None = None
    # The order action a hand-over scan applies when the order's status allows it
    # (the carrier collected the parcel: TikTok Shop "collect"); "" = none.
    handover_action: str = ""
    fund_release: FundRelease | None = None  # money released some time after receipt
    # Defaults of a new shop (market, timezone, currency): factories, forms.
    shop_defaults: Mapping[str, str] = field(default_factory=dict)
    demo_shops: tuple[DemoShop, ...] = ()  # the demo organisation's shops
    extras: Mapping[str, Callable[..., Any] | Any] = field(default_factory=dict)
    # Native parsers (the package's ``parsers`` module). ``parse_order``: one native
    # order → the unified ingest shape. ``unwrap``: whatever the platform's API answers
    # (a whole response with its envelope, a list response, or the bare order) → the
    # native orders in it; an error envelope raises ``PlatformErrorResponse``.
    parse_order: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    unwrap: Callable[[Any], list[Mapping[str, Any]]] | None = None
    # After-sales objects: ``sniff_case`` names the format of a native case payload
    # ('' when it is not one of this platform's); ``case_parsers`` maps each format to
    # its parser (native → the unified case shape); ``unwrap_case`` strips envelopes.
    case_parsers: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = field(
        default_factory=dict
    )
    sniff_case: Callable[[Mapping[str, Any]], str] | None = None
    unwrap_case: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    # A second case a native case payload also stands for (TikTok's return under
    # arbitration is a dispute too), in the unified case shape; None when there is none.
    case_companion: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None
    # A line's own refund/dispute status (OrderItem.refund_status) → the case it stands
    # for: ``(kind, native case status)``, or None when nothing is open on the line.
    line_case: Callable[[str], tuple[str, str] | None] | None = None

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def label(self) -> str:
        return self.spec.label


def _load(path: str) -> Platform:
    try:
        module = import_module(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"OMS_PLATFORMS: cannot import {path!r}: {exc}"
        ) from exc
    platform = getattr(module, "PLATFORM", None)
    if not isinstance(platform, Platform):
        raise ImproperlyConfigured(f"OMS_PLATFORMS: {path} exports no PLATFORM")
    return platform


@cache
def platforms() -> dict[str, Platform]:
    """The installed platforms by code, in the order settings name them."""
    found: dict[str, Platform] = {}
    for path in settings.OMS_PLATFORMS:
        platform = _load(path)
        problems = validate_platform(platform)
        if problems:
            raise ImproperlyConfigured(
                f"platform {platform.code}: " + "; ".join(problems)
            )
        if platform.code in found:
            raise ImproperlyConfigured(
                f"OMS_PLATFORMS: {platform.code} is installed twice"
            )
        found[platform.code] = platform
    return found


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMS_PLATFORMS":
        platforms.cache_clear()


def get_platform(code: str) -> Platform:
    try:
        return platforms()[code]
    except KeyError:
        raise ImproperlyConfigured(f"no platform {code!r} is installed") from None


def registry() -> dict[str, PlatformSpec]:
    """The order machine of each installed platform, by code."""
    return {code: platform.spec for code, platform in platforms().items()}


def get_spec(code: str) -> PlatformSpec:
    return get_platform(code).spec


def native_timezone(code: str) -> str:
    """The zone of a platform's local time strings: ``settings.OMS_PLATFORM_TIMEZONES``
    (by platform code) overrides the zone its package declares (``spec.native_tz``)."""
    override = (getattr(settings, "OMS_PLATFORM_TIMEZONES", None) or {}).get(code)
    return override or get_spec(code).native_tz


def platform_codes() -> list[str]:
    return list(platforms())


class InstalledCodes:
    """The installed platform codes, read whenever iterated: an OpenAPI ``enum`` built
    when the schema is generated (so it follows ``OMS_PLATFORMS``), not at import."""

    def __iter__(self):
        return iter(platform_codes())

    def __len__(self) -> int:
        return len(platforms())


INSTALLED_CODES = InstalledCodes()


def platform_choices() -> list[tuple[str, str]]:
    """Choices for ``Shop.platform``: a callable, so a new platform adds no migration."""
    return [(code, platform.label) for code, platform in platforms().items()]
