"""A test-only platform package: Taobao's order machine under another code, declaring
nothing else (no cases, simulator, webhook, message rule or defaults)."""

from dataclasses import replace

from orders.platforms import Platform
from platforms.taobao.orders import SPEC

PLATFORM = Platform(spec=replace(SPEC, code="mockmart", label="MockMart"))
