"""Taobao / Tmall."""

from orders.platforms import Platform
from platforms.taobao import cases, parsers, simulator
from platforms.taobao.orders import SPEC

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
    line_case=parsers.line_case,
)
