"""Taobao pushes: the OMS relay format.

Taobao's TMC is a WebSocket client (platforms.md §2.6), so an integrator's bridge
relays its orders in the OMS relay format (``orders.webhook_formats.RELAY``).
"""

from orders.webhook_formats import RELAY

WEBHOOK = RELAY
