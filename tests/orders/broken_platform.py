"""A test-only platform package whose refund table breaks the after-sales contract: its
seller cannot reject a request (no action plays the reject role). Installed through
``override_settings(OMS_PLATFORMS=[...])`` by tests/orders/test_engine.py."""

from dataclasses import replace

from orders.machine import CaseSpec
from orders.platforms import Platform
from platforms.taobao import PLATFORM as TAOBAO

_refund: CaseSpec = next(c for c in TAOBAO.cases if c.kind == "refund")
BROKEN_REFUNDS = replace(
    _refund,
    roles={k: v for k, v in _refund.roles.items() if k != "reject"},
    transitions=tuple(t for t in _refund.transitions if t.action != "refuse"),
)

PLATFORM = Platform(
    spec=TAOBAO.spec,
    cases=(BROKEN_REFUNDS,),
    close_on_full_refund=TAOBAO.close_on_full_refund,
)
