"""Named guard functions for transitions.

A guard reads the order (already loaded and locked), the action's input data and the
shop's resolved policy. It never queries the database. It returns ``None`` when the
transition may go ahead, or a stable reason code that the caller shows to the seller.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

Policy = Mapping[str, timedelta]


def shippable(order: Any, data: Mapping[str, Any], policy: Policy) -> str | None:
    """Nothing stands in the way of shipping: no hold, cancel request, block or dispute."""
    if order.on_hold:
        return "on_hold"
    if order.cancel_requested:
        return "cancel_requested"
    if order.shipping_blocked:
        return "shipping_blocked"
    if order.frozen:
        return "frozen"
    return None


def no_open_refund(order: Any, data: Mapping[str, Any], policy: Policy) -> str | None:
    """Auto-confirm of receipt waits while a refund is open."""
    return "refund_open" if order.refund_open else None


def hold_window_applies(
    order: Any, data: Mapping[str, Any], policy: Policy
) -> str | None:
    """The shop's market holds paid orders before they may ship (TikTok UK ON_HOLD)."""
    return None if policy["hold_window"] > timedelta(0) else "no_hold_window"


def no_hold_window(order: Any, data: Mapping[str, Any], policy: Policy) -> str | None:
    return "hold_window" if policy["hold_window"] > timedelta(0) else None


def consign_allowed(order: Any, data: Mapping[str, Any], policy: Policy) -> str | None:
    """Taobao lets the paid order ship (it is not a forming group-buy)."""
    return "consign_forbidden" if data.get("forbid_consign") else None


def consign_forbidden(
    order: Any, data: Mapping[str, Any], policy: Policy
) -> str | None:
    return None if data.get("forbid_consign") else "consign_allowed"


def knows_previous_status(
    order: Any, data: Mapping[str, Any], policy: Policy
) -> str | None:
    """Returning to the interrupted status needs to know which one it was."""
    return None if order.resume_status else "previous_status_unknown"
