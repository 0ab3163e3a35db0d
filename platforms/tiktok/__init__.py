"""TikTok Shop (UK and Southeast Asia)."""

from orders.platforms import Platform
from platforms.tiktok import cases, simulator
from platforms.tiktok.orders import SPEC

PLATFORM = Platform(
    spec=SPEC,
    cases=cases.SPECS,
    close_on_full_refund=cases.CLOSE_ON_FULL_REFUND,
    simulator=simulator,
)
