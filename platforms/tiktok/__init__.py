"""TikTok Shop (UK and Southeast Asia)."""

from orders.platforms import Platform
from platforms.tiktok import cases, parsers, simulator
from platforms.tiktok.orders import SPEC

PLATFORM = Platform(
    spec=SPEC,
    cases=cases.SPECS,
    close_on_full_refund=cases.CLOSE_ON_FULL_REFUND,
    simulator=simulator,
    parse_order=parsers.parse_order,
    unwrap=parsers.unwrap,
    case_parsers=parsers.CASE_PARSERS,
    sniff_case=parsers.sniff_case,
    unwrap_case=parsers.unwrap_case,
    case_companion=parsers.arbitration,
)
