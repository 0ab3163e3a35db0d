"""A test-only platform package whose fully refunded orders would be closed by an order
action its order machine does not have (tests/orders/test_engine.py)."""

from dataclasses import replace

from platforms.taobao import PLATFORM as TAOBAO

PLATFORM = replace(TAOBAO, close_on_full_refund="vanish")
