"""AliExpress pushes: the OMS relay format.

AliExpress has no confirmed push (platforms.md §3.6), so an integrator's bridge
relays its orders in the OMS relay format (``orders.webhook_formats.RELAY``).
"""

from orders.webhook_formats import RELAY

WEBHOOK = RELAY
