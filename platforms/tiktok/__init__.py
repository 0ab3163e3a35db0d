"""TikTok Shop (UK and Southeast Asia)."""

from orders.capabilities import PRODUCT_DEFAULT, DemoShop, MessageRule
from orders.platforms import Platform
from platforms.tiktok import cases, parsers, simulator
from platforms.tiktok.orders import SPEC
from platforms.tiktok.webhooks import WEBHOOK

PLATFORM = Platform(
    spec=SPEC,
    message_rule=MessageRule(
        max_length=2000,
        english_only=False,
        source=PRODUCT_DEFAULT,
        doc="Product default: platforms.md states no limit for TikTok Shop messages.",
    ),
    webhook=WEBHOOK,
    # Scanning a parcel at hand-over is the carrier's collection (AWAITING_COLLECTION
    # → IN_TRANSIT).
    handover_action="collect",
    shop_defaults={"market": "MY", "timezone": "Asia/Kuala_Lumpur", "currency": "MYR"},
    demo_shops=(
        DemoShop("Demo TikTok Shop UK", "GB", "Europe/London", "GBP", 0.22),
        DemoShop("Demo TikTok Shop Malaysia", "MY", "Asia/Kuala_Lumpur", "MYR", 0.18),
    ),
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
