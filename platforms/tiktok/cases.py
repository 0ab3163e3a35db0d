"""TikTok Shop cancellations, returns/refunds, replacements and arbitration
(Return & Refund API 202309, platforms.md §1.3, Part 1 deadlines).

Cancel requests: unanswered within 48 h (TH, US: 24 h) → cancelled. Returns and refunds:
unanswered within 48 h → approved; return not shipped within 5 days → closed; returned
parcel not confirmed within 8 days (extendable once by 8) → confirmed and refunded.
"""

from django.utils.translation import gettext_noop as _

from orders import permissions as p
from orders.choices import CaseKind, Outcome
from orders.choices import SellerTask as Task
from orders.machine import (
    CANCEL_ORDER,
    CT,
    END_DISPUTE,
    KEEP_ORDER,
    PLATFORM,
    REFUND,
    RETURN_SENT,
    SELLER,
    SYSTEM,
    CaseDue,
    CaseSpec,
    CaseStatus,
)

CLOSE_ON_FULL_REFUND = "close_refunded"

CANCEL = CaseSpec(
    platform="tiktok",
    kind=CaseKind.CANCEL,
    initial="CANCELLATION_REQUEST_PENDING",
    aliases={"CANCELLATION_REQUEST_CANCELLED": "CANCELLATION_REQUEST_CANCEL"},
    statuses=(
        CaseStatus(
            "CANCELLATION_REQUEST_PENDING", _("Cancellation pending"), Task.RESPOND,
            CaseDue("cancel_response_window", "approve",
                    _("SELLER_RESPOND_CANCEL: unanswered, the order is cancelled.")),
        ),
        CaseStatus("CANCELLATION_REQUEST_SUCCESS", _("Cancelled"), outcome=Outcome.APPROVED),
        CaseStatus("CANCELLATION_REQUEST_COMPLETE", _("Cancelled and refunded"),
                   outcome=Outcome.APPROVED),
        CaseStatus("CANCELLATION_REQUEST_CANCEL", _("Cancellation rejected or withdrawn"),
                   outcome=Outcome.REJECTED),
    ),
    transitions=(
        CT("approve", "CANCELLATION_REQUEST_PENDING", "CANCELLATION_REQUEST_SUCCESS",
           by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES,
           effect=CANCEL_ORDER),
        CT("reject", "CANCELLATION_REQUEST_PENDING", "CANCELLATION_REQUEST_CANCEL",
           by=SELLER | PLATFORM, permission=p.DECIDE_AFTERSALES, effect=KEEP_ORDER,
           needs_reason=True),
        CT("withdraw", "CANCELLATION_REQUEST_PENDING", "CANCELLATION_REQUEST_CANCEL",
           by=PLATFORM, effect=KEEP_ORDER, outcome=Outcome.WITHDRAWN),
        CT("complete", "CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE",
           by=PLATFORM, doc="The refund reached the buyer."),
    ),
    doc="TikTok Shop cancellation (cancel_type BUYER_CANCEL).",
)  # fmt: skip

RETURN_OPEN = (
    "RETURN_OR_REFUND_REQUEST_PENDING", "AWAITING_BUYER_SHIP", "BUYER_SHIPPED_ITEM",
)  # fmt: skip

RETURN_STATUSES = (
    CaseStatus(
        "RETURN_OR_REFUND_REQUEST_PENDING", _("Request pending"), Task.RESPOND,
        CaseDue("refund_response_window", "approve",
                _("SELLER_RESPOND_REFUND / SELLER_RESPOND_RETURN: unanswered, approved.")),
    ),
    CaseStatus(
        "AWAITING_BUYER_SHIP", _("Awaiting the buyer's return"), Task.WAIT_BUYER,
        CaseDue("return_ship_window", "close_unreturned", _("Not shipped back: closed.")),
    ),
    CaseStatus(
        "BUYER_SHIPPED_ITEM", _("Buyer shipped the return"), Task.CONFIRM_RETURN,
        CaseDue("return_confirm_window", "confirm_receipt",
                _("SELLER_RESPOND_RECEIVE_PACKAGE: unconfirmed, refunded.")),
    ),
    CaseStatus("RETURN_OR_REFUND_REQUEST_SUCCESS", _("Refunded"), outcome=Outcome.REFUNDED),
    CaseStatus("RETURN_OR_REFUND_REQUEST_COMPLETE", _("Completed"), outcome=Outcome.REFUNDED),
    CaseStatus("REFUND_OR_RETURN_REQUEST_REJECT", _("Rejected"), outcome=Outcome.REJECTED),
    CaseStatus("REJECT_RECEIVE_PACKAGE", _("Returned parcel rejected"),
               outcome=Outcome.REJECTED),
    CaseStatus("RETURN_OR_REFUND_REQUEST_CANCEL", _("Cancelled"), outcome=Outcome.WITHDRAWN),
)  # fmt: skip

RETURN_TRANSITIONS = (
    CT("approve", "RETURN_OR_REFUND_REQUEST_PENDING", "RETURN_OR_REFUND_REQUEST_SUCCESS",
       by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES, effect=REFUND,
       with_return=False),
    CT("approve", "RETURN_OR_REFUND_REQUEST_PENDING", "AWAITING_BUYER_SHIP",
       by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES, with_return=True),
    CT("reject", "RETURN_OR_REFUND_REQUEST_PENDING", "REFUND_OR_RETURN_REQUEST_REJECT",
       by=SELLER | PLATFORM, permission=p.DECIDE_AFTERSALES, needs_reason=True),
    CT("buyer_ship", "AWAITING_BUYER_SHIP", "BUYER_SHIPPED_ITEM", by=PLATFORM),
    CT("close_unreturned", "AWAITING_BUYER_SHIP", "RETURN_OR_REFUND_REQUEST_CANCEL",
       by=SYSTEM | PLATFORM, outcome=Outcome.EXPIRED),
    CT("confirm_receipt", "BUYER_SHIPPED_ITEM", "RETURN_OR_REFUND_REQUEST_SUCCESS",
       by=SELLER | SYSTEM | PLATFORM, permission=p.CONFIRM_RETURN, effect=REFUND),
    CT("reject_receipt", "BUYER_SHIPPED_ITEM", "REJECT_RECEIVE_PACKAGE",
       by=SELLER | PLATFORM, permission=p.CONFIRM_RETURN, needs_reason=True),
    CT("extend_confirm", "BUYER_SHIPPED_ITEM", "BUYER_SHIPPED_ITEM", by=SELLER,
       permission=p.CONFIRM_RETURN, extends_due=True,
       doc="Once: the seller gets another 8 days to inspect the parcel."),
    CT("withdraw", RETURN_OPEN, "RETURN_OR_REFUND_REQUEST_CANCEL", by=PLATFORM),
    CT("complete", "RETURN_OR_REFUND_REQUEST_SUCCESS", "RETURN_OR_REFUND_REQUEST_COMPLETE",
       by=PLATFORM),
)  # fmt: skip

RETURNS = tuple(
    CaseSpec(
        platform="tiktok",
        kind=kind,
        statuses=RETURN_STATUSES,
        transitions=RETURN_TRANSITIONS,
        initial="RETURN_OR_REFUND_REQUEST_PENDING",
        roles={RETURN_SENT: "buyer_ship"},
        doc="TikTok Shop return_type REFUND / RETURN_AND_REFUND.",
    )
    for kind in (CaseKind.REFUND, CaseKind.RETURN)
)

REPLACEMENT = CaseSpec(
    platform="tiktok",
    kind=CaseKind.REPLACEMENT,
    initial="REPLACEMENT_REQUEST_PENDING",
    statuses=(
        CaseStatus(
            "REPLACEMENT_REQUEST_PENDING", _("Replacement pending"), Task.RESPOND,
            CaseDue("refund_response_window", "approve",
                    _("SELLER_RESPOND_REPLACEMENT: unanswered, approved.")),
        ),
        CaseStatus("REPLACEMENT_REQUEST_COMPLETE", _("Replacement order created"),
                   outcome=Outcome.REPLACED),
        CaseStatus("REPLACEMENT_REQUEST_REJECT", _("Rejected"), outcome=Outcome.REJECTED),
        CaseStatus("REPLACEMENT_REQUEST_REFUND_SUCCESS", _("Refunded (no stock)"),
                   outcome=Outcome.REFUNDED),
        CaseStatus("REPLACEMENT_REQUEST_CANCEL", _("Cancelled"), outcome=Outcome.WITHDRAWN),
    ),
    transitions=(
        CT("approve", "REPLACEMENT_REQUEST_PENDING", "REPLACEMENT_REQUEST_COMPLETE",
           by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES),
        CT("reject", "REPLACEMENT_REQUEST_PENDING", "REPLACEMENT_REQUEST_REJECT",
           by=SELLER | PLATFORM, permission=p.DECIDE_AFTERSALES, needs_reason=True),
        CT("refund_instead", "REPLACEMENT_REQUEST_PENDING",
           "REPLACEMENT_REQUEST_REFUND_SUCCESS", by=SELLER | PLATFORM,
           permission=p.DECIDE_AFTERSALES, effect=REFUND,
           doc="No stock to replace: refund instead."),
        CT("withdraw", "REPLACEMENT_REQUEST_PENDING", "REPLACEMENT_REQUEST_CANCEL",
           by=PLATFORM),
    ),
    doc="TikTok Shop return_type REPLACEMENT.",
)  # fmt: skip

DISPUTE = CaseSpec(
    platform="tiktok",
    kind=CaseKind.DISPUTE,
    initial="IN_PROGRESS",
    statuses=(
        CaseStatus("IN_PROGRESS", _("Arbitration in progress"), Task.RESPOND),
        CaseStatus("SUPPORT_BUYER", _("Decided for the buyer"), outcome=Outcome.REFUNDED),
        CaseStatus("SUPPORT_SELLER", _("Decided for the seller"), outcome=Outcome.SELLER_WON),
        CaseStatus("CLOSED", _("Arbitration closed"), outcome=Outcome.WITHDRAWN),
    ),
    transitions=(
        CT("respond", "IN_PROGRESS", "IN_PROGRESS", by=SELLER,
           permission=p.DECIDE_AFTERSALES, needs_reason=True,
           doc="The seller's statement, proposal and evidence for the arbitrator."),
        CT("decide_for_buyer", "IN_PROGRESS", "SUPPORT_BUYER", by=PLATFORM, effect=REFUND),
        CT("decide_for_seller", "IN_PROGRESS", "SUPPORT_SELLER", by=PLATFORM,
           effect=END_DISPUTE),
        CT("withdraw", "IN_PROGRESS", "CLOSED", by=PLATFORM, effect=END_DISPUTE),
    ),
    doc="TikTok Shop arbitration (arbitration_status).",
)  # fmt: skip

SPECS = (CANCEL, *RETURNS, REPLACEMENT, DISPUTE)
