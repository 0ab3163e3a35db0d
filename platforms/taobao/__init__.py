"""Taobao / Tmall."""

from orders.capabilities import PRODUCT_DEFAULT, DemoShop, MessageRule
from orders.platforms import Platform
from platforms.taobao import cases, parsers, simulator
from platforms.taobao.orders import SPEC
from platforms.taobao.webhooks import WEBHOOK

PLATFORM = Platform(
    spec=SPEC,
    message_rule=MessageRule(
        max_length=2000,
        english_only=False,
        source=PRODUCT_DEFAULT,
        doc="Product default: platforms.md states no limit for Taobao order messages.",
    ),
    webhook=WEBHOOK,
    shop_defaults={"market": "", "timezone": "Asia/Shanghai", "currency": "CNY"},
    demo_shops=(DemoShop("Demo Taobao Store", "", "Asia/Shanghai", "CNY", 0.35),),
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
