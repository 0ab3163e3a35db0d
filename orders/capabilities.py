"""What a platform package declares besides its tables: neutral types it fills in.

- :class:`MessageRule`: what a seller's message to a buyer may be (length, English only);
- :class:`FundRelease`: the platform holds the money after receipt and releases it later
  (AliExpress FUND_PROCESSING → FINISH): which statuses and which action say so;
- :class:`DemoShop`: a shop of the demo organisation (``seed_demo``), with its market,
  time zone, currency and share of the orders.

They live in ``orders`` so platform packages may import them (packages import none of
logistics, aftersales, analytics, integrations); the generic code reads them from the
registry (``orders.platforms.get_platform(code)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

PLATFORM_RULE = "platform"  # stated in platforms.md
PRODUCT_DEFAULT = "product_default"  # not stated by the platform: our own limit


def english_only_help() -> str:
    return _(
        "English only: English letters A–Z, digits, spaces, line breaks and the "
        "punctuation of an English keyboard (plus ‘ ’ “ ” – — …). Chinese, Korean, "
        "Japanese, Cyrillic, accented letters (é) and emoji are refused."
    )


@dataclass(frozen=True)
class MessageRule:
    max_length: int  # in characters (Unicode code points), after normalising newlines
    english_only: bool  # see ``aftersales.messaging.english_problem``
    source: str  # PLATFORM_RULE or PRODUCT_DEFAULT
    doc: str

    @property
    def is_product_default(self) -> bool:
        return self.source == PRODUCT_DEFAULT

    def describe(self) -> str:
        """The rule in the seller's language, shown before they type."""
        text = _("At most %(max)s characters.") % {"max": f"{self.max_length:,}"}
        if self.english_only:
            text = " ".join((english_only_help(), text))
        if self.is_product_default:
            text = " ".join((text, _("(Our default: the platform states no limit.)")))
        return text


@dataclass(frozen=True)
class FundRelease:
    """The platform releases the seller's money some time after receipt."""

    waiting_status: str  # the native status while the money waits
    released_status: str  # the native status once it is released
    action: str  # the order action that releases it (its timeline event)


@dataclass(frozen=True)
class DemoShop:
    """One shop of the demo organisation."""

    name: str
    market: str
    timezone: str
    currency: str
    share: float  # of the demo's orders
