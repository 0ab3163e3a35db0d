"""AliExpress."""

from orders.capabilities import PLATFORM_RULE, DemoShop, FundRelease, MessageRule
from orders.platforms import Platform
from platforms.aliexpress import cases, parsers, simulator
from platforms.aliexpress.orders import SPEC
from platforms.aliexpress.webhooks import WEBHOOK

PLATFORM = Platform(
    spec=SPEC,
    message_rule=MessageRule(
        max_length=1500,
        english_only=True,
        source=PLATFORM_RULE,
        doc="platforms.md Part 1, 'order messages': English only, at most 1,500 "
        "characters (Part 2 rates the evidence [S]/[U]; the confirmed sibling rule is "
        "the shipping remark: English, at most 512).",
    ),
    webhook=WEBHOOK,
    # After receipt the money waits in FUND_PROCESSING until released (→ FINISH).
    fund_release=FundRelease(
        waiting_status="FUND_PROCESSING",
        released_status="FINISH",
        action="release_funds",
    ),
    shop_defaults={"market": "", "timezone": "Asia/Shanghai", "currency": "USD"},
    demo_shops=(DemoShop("Demo AliExpress Store", "", "Asia/Shanghai", "USD", 0.25),),
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
