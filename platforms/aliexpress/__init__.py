"""AliExpress."""

from orders.platforms import Platform
from platforms.aliexpress import cases, simulator
from platforms.aliexpress.orders import SPEC

PLATFORM = Platform(
    spec=SPEC,
    cases=cases.SPECS,
    close_on_full_refund=cases.CLOSE_ON_FULL_REFUND,
    simulator=simulator,
)
