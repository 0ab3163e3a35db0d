"""TikTok Shop (UK and Southeast Asia): statuses, transitions, deadlines (platforms.md §1).

Native codes are the Partner API 202309 strings; the webhook's ``CANCEL`` and the legacy
numeric codes (100 … 140) are accepted as aliases. Times are Unix seconds. Rules differ
by market: the UK holds paid orders for 1 h (ON_HOLD); TH and US give 24 h instead of
48 h to answer a buyer's cancel request.
"""

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_noop as _

from oms.core.money import parse_amount
from orders import guards as g
from orders import permissions as p
from orders.choices import DeadlineKind as K
from orders.choices import Overlay as O  # noqa: N817
from orders.choices import Stage
from orders.machine import (
    PLATFORM,
    SELLER,
    SYSTEM,
    Due,
    PlatformSpec,
    PolicyDefault,
    Status,
    T,
)

# §1.7: unpaid-reason codes are refused on paid orders, and the other way round.
UNPAID_CANCEL_REASONS = (
    "seller_cancel_unpaid_reason_out_of_stock",
    "seller_cancel_unpaid_reason_wrong_price",
    "seller_cancel_unpaid_reason_buyer_hasnt_paid_within_time_allowed",
    "seller_cancel_unpaid_reason_buyer_requested_cancellation",
)
PAID_CANCEL_REASONS = (
    "seller_cancel_reason_out_of_stock",
    "seller_cancel_reason_wrong_price",
    "seller_cancel_paid_reason_address_not_deliver",
    "seller_cancel_paid_reason_buyer_requested_cancellation",
    "seller_cancel_reason_out_of_stock_uk",
)

TO_SHIP = ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING")
NOT_HANDED_OVER = (*TO_SHIP, "AWAITING_COLLECTION")

SHIP_BY = (
    Due(K.SHIP_BY, "ship_window", anchor="paid_at", on_expiry="ship_timeout",
        violation="late_dispatch",
        doc="Not handed to the carrier in time: auto-cancelled, late-dispatch violation."),
    Due(K.SHIP_WARNING_EARLY, "ship_warning_early", before=K.SHIP_BY),
    Due(K.SHIP_WARNING_LATE, "ship_warning_late", before=K.SHIP_BY),
)  # fmt: skip

STATUSES = (
    Status(
        "UNPAID", Stage.UNPAID, _("Unpaid"), aliases=("100",),
        deadlines=(
            Due(K.PAY_BY, "pay_window", anchor="created_at", on_expiry="auto_cancel"),
            Due(K.PAY_REMINDER_FIRST, "pay_reminder_first", anchor="created_at"),
            Due(K.PAY_REMINDER_SECOND, "pay_reminder_second", anchor="created_at"),
        ),
    ),
    Status(
        "ON_HOLD", Stage.AWAITING_SHIPMENT, _("On hold"), aliases=("105",),
        overlays=frozenset({O.SHIPPING_BLOCKED}),
        deadlines=(
            Due(K.HOLD_UNTIL, "hold_window", anchor="paid_at", on_expiry="release_hold"),
        ),
    ),
    Status("AWAITING_SHIPMENT", Stage.AWAITING_SHIPMENT, _("Awaiting shipment"),
           aliases=("111",), deadlines=SHIP_BY),
    Status("PARTIALLY_SHIPPING", Stage.SHIPPED, _("Partially shipping"), aliases=("114",),
           deadlines=SHIP_BY),
    Status("AWAITING_COLLECTION", Stage.AWAITING_SHIPMENT, _("Awaiting collection"),
           aliases=("112",), deadlines=SHIP_BY),
    Status("IN_TRANSIT", Stage.SHIPPED, _("In transit"), aliases=("121",)),
    Status(
        "DELIVERED", Stage.DELIVERED, _("Delivered"), aliases=("122",),
        deadlines=(
            Due(K.COMPLETE_BY, "complete_window", anchor="delivered_at",
                on_expiry="auto_confirm", paused_by=(O.REFUND_OPEN,)),
        ),
    ),
    Status("COMPLETED", Stage.COMPLETED, _("Completed"), terminal=True, aliases=("130",)),
    Status("CANCELLED", Stage.CLOSED, _("Cancelled"), terminal=True, aliases=("CANCEL", "140")),
)  # fmt: skip

TRANSITIONS = (
    T("pay", "UNPAID", "ON_HOLD", by=PLATFORM, guards=(g.hold_window_applies,),
      doc="UK: the buyer may still cancel freely for the hold window."),
    T("pay", "UNPAID", "AWAITING_SHIPMENT", by=PLATFORM, guards=(g.no_hold_window,)),
    T("release_hold", "ON_HOLD", "AWAITING_SHIPMENT", by=SYSTEM | PLATFORM),
    T("buyer_cancel", ("UNPAID", "ON_HOLD"), "CANCELLED", by=PLATFORM),
    T("auto_cancel", "UNPAID", "CANCELLED", by=SYSTEM | PLATFORM, doc="Unpaid for 48 h."),
    T("cancel", "UNPAID", "CANCELLED", by=SELLER, permission=p.CANCEL,
      reasons=UNPAID_CANCEL_REASONS),
    T("cancel", ("AWAITING_SHIPMENT", "AWAITING_COLLECTION"), "CANCELLED", by=SELLER,
      permission=p.CANCEL, reasons=PAID_CANCEL_REASONS),
    T("approve_cancel", ("AWAITING_SHIPMENT", "AWAITING_COLLECTION"), "CANCELLED",
      by=SELLER | PLATFORM | SYSTEM, permission=p.DECIDE_AFTERSALES,
      doc="The buyer's cancel request is approved, by the seller or on timeout."),
    T("ship_part", TO_SHIP, "PARTIALLY_SHIPPING", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP),
    T("ship", TO_SHIP, "AWAITING_COLLECTION", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP),
    T("ship_timeout", NOT_HANDED_OVER, "CANCELLED", by=SYSTEM | PLATFORM),
    T("collect", "AWAITING_COLLECTION", "IN_TRANSIT", by=SELLER | PLATFORM | SYSTEM,
      permission=p.SHIP, doc="The carrier collected the parcel (hand-over)."),
    T("deliver", "IN_TRANSIT", "DELIVERED", by=SELLER | PLATFORM, permission=p.SHIP),
    T("return_to_sender", "IN_TRANSIT", "CANCELLED", by=PLATFORM | SYSTEM,
      doc="Lost, damaged, or failed delivery returned to the seller: cancelled and refunded."),
    T("close_refunded", (*NOT_HANDED_OVER, "ON_HOLD", "IN_TRANSIT", "DELIVERED"), "CANCELLED",
      by=PLATFORM | SYSTEM, doc="Every line was refunded (after-sales)."),
    T("complete", "DELIVERED", "COMPLETED", by=PLATFORM),
    T("auto_confirm", "DELIVERED", "COMPLETED", by=SYSTEM, guards=(g.no_open_refund,)),
)  # fmt: skip

POLICY = {
    "pay_window": PolicyDefault("48h", "unpaid order auto-cancels"),
    "pay_reminder_first": PolicyDefault("15m", "first payment reminder after the order"),
    "pay_reminder_second": PolicyDefault("16h", "second payment reminder after the order"),
    "hold_window": PolicyDefault("0m", "ON_HOLD after payment (UK: 1 h)"),
    "ship_window": PolicyDefault("72h", "hand over to the carrier within, after payment"),
    "ship_warning_early": PolicyDefault("24h", "first warning before the ship deadline"),
    "ship_warning_late": PolicyDefault("6h", "last warning before the ship deadline"),
    "cancel_response_window": PolicyDefault("48h", "answer a buyer cancel request"),
    "complete_window": PolicyDefault("15d", "DELIVERED → COMPLETED", confirmed=False),
    "refund_response_window": PolicyDefault("48h", "answer a return/refund, else approved"),
    "return_ship_window": PolicyDefault("5d", "buyer ships the return within"),
    "return_confirm_window": PolicyDefault("8d", "confirm the returned parcel"),
    "redelivery_window": PolicyDefault("7d", "new address after a failed delivery",
                                       confirmed=False),
}  # fmt: skip

MARKETS = {
    "GB": {"hold_window": "1h"},
    "US": {"hold_window": "1h", "cancel_response_window": "24h"},
    "TH": {"cancel_response_window": "24h"},
    "MY": {},
    "SG": {},
    "VN": {},
    "PH": {},
    "ID": {},
}

# Per-order deadline fields (§1.2) and the deadline kind each one sets.
DEADLINE_FIELDS = {
    "UNPAID": (("cancel_order_sla_time", K.PAY_BY),),
    "AWAITING_SHIPMENT": (
        ("shipping_due_time", K.SHIP_BY),
        ("rts_sla_time", K.SHIP_BY),
    ),
    "PARTIALLY_SHIPPING": (
        ("shipping_due_time", K.SHIP_BY),
        ("rts_sla_time", K.SHIP_BY),
    ),
    "AWAITING_COLLECTION": (
        ("collection_due_time", K.SHIP_BY),
        ("tts_sla_time", K.SHIP_BY),
    ),
}


def _amount(value: Any) -> Decimal:
    return parse_amount(value or "0")


SPEC = PlatformSpec(
    code="tiktok",
    label="TikTok Shop",
    native_tz="UTC",
    statuses=STATUSES,
    transitions=TRANSITIONS,
    policy=POLICY,
    markets=MARKETS,
    docs="TikTok Shop Partner API 202309 (Get Order Detail), checked 2026-11.",
)
