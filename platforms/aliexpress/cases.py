"""AliExpress cancel requests and disputes ("issues"), platforms.md §3.1–3.3, Part 1.

A cancel request is the order's IN_CANCEL status; AliExpress has no cancel object, so
the case's codes are OMS's own (IN_CANCEL, CANCELLED, CANCEL_REFUSED, CANCEL_WITHDRAWN).
Refunds and returns are disputes: the seller has 5 days to answer, else the buyer's
proposal is executed (SELLER_RESPONSE_ISSUE_TIMEOUT); the buyer returns within 10 days,
else the money goes to the seller; the seller confirms the returned goods within 7 days.
"""

from django.utils.translation import gettext_noop as _

from orders import permissions as p
from orders.choices import CaseKind, Outcome
from orders.choices import SellerTask as Task
from orders.machine import (
    ACCEPT_PROPOSAL,
    APPROVE,
    CANCEL_ORDER,
    CT,
    END_DISPUTE,
    KEEP_ORDER,
    PLATFORM,
    REFUND,
    REJECT,
    RETURN_SENT,
    SELLER,
    SYSTEM,
    CaseDue,
    CaseSpec,
    CaseStatus,
)

CLOSE_ON_FULL_REFUND = "refund_by_dispute"

CANCEL = CaseSpec(
    platform="aliexpress",
    kind=CaseKind.CANCEL,
    initial="IN_CANCEL",
    order_action_on_open="request_cancel",
    statuses=(
        CaseStatus(
            "IN_CANCEL", "买家申请取消", Task.RESPOND,
            CaseDue("cancel_response_window", "approve",
                    _("Unanswered for 48 h: cancelled (rule since 16 Mar 2020).")),
        ),
        CaseStatus("CANCELLED", "已取消", outcome=Outcome.APPROVED),
        CaseStatus("CANCEL_REFUSED", "卖家拒绝取消", outcome=Outcome.REJECTED),
        CaseStatus("CANCEL_WITHDRAWN", "买家撤销取消", outcome=Outcome.WITHDRAWN),
    ),
    transitions=(
        CT("approve", "IN_CANCEL", "CANCELLED", by=SELLER | SYSTEM | PLATFORM,
           permission=p.DECIDE_AFTERSALES, effect=CANCEL_ORDER),
        CT("reject", "IN_CANCEL", "CANCEL_REFUSED", by=SELLER | PLATFORM,
           permission=p.DECIDE_AFTERSALES, effect=KEEP_ORDER, needs_reason=True),
        CT("withdraw", "IN_CANCEL", "CANCEL_WITHDRAWN", by=PLATFORM, effect=KEEP_ORDER),
    ),
    doc="AliExpress buyer cancel request (order status IN_CANCEL).",
)  # fmt: skip

DISPUTE_OPEN = (
    "WAIT_SELLER_CONFIRM_REFUND", "SELLER_REFUSE_REFUND", "WAIT_BUYER_SEND_GOODS",
    "WAIT_SELLER_RECEIVE_GOODS", "ARBITRATING",
)  # fmt: skip

DISPUTE = CaseSpec(
    platform="aliexpress",
    kind=CaseKind.DISPUTE,
    initial="WAIT_SELLER_CONFIRM_REFUND",
    order_action_on_open="open_dispute",
    roles={APPROVE: "accept", REJECT: "refuse", RETURN_SENT: "buyer_return",
           ACCEPT_PROPOSAL: "buyer_accept_proposal"},
    statuses=(
        CaseStatus(
            "WAIT_SELLER_CONFIRM_REFUND", "等待卖家确认", Task.RESPOND,
            CaseDue("dispute_response_window", "timeout",
                    _("Unanswered for 5 days: the buyer's proposal is executed.")),
        ),
        CaseStatus(
            "SELLER_REFUSE_REFUND", "卖家拒绝，等待买家回应", Task.WAIT_BUYER,
            CaseDue("dispute_intervention_window", "escalate",
                    _("No agreement: the dispute team steps in.")),
        ),
        CaseStatus(
            "WAIT_BUYER_SEND_GOODS", "等待买家退货", Task.WAIT_BUYER,
            CaseDue("return_ship_window", "close_unreturned",
                    _("Not returned in 10 days: the money goes to the seller.")),
        ),
        CaseStatus(
            "WAIT_SELLER_RECEIVE_GOODS", "等待卖家收货", Task.CONFIRM_RETURN,
            CaseDue("return_confirm_window", "confirm_goods",
                    _("Not confirmed: refunded.")),
        ),
        CaseStatus("ARBITRATING", "平台仲裁中", Task.WAIT_PLATFORM),
        CaseStatus("ACCEPTISSUE", "卖家同意（不退货）", outcome=Outcome.REFUNDED),
        CaseStatus("SELLER_RESPONSE_ISSUE_TIMEOUT", "卖家响应超时",
                   outcome=Outcome.REFUNDED),
        CaseStatus("finish", "纠纷结束", outcome=Outcome.REFUNDED),
        CaseStatus("canceled_issue", "买家取消纠纷", outcome=Outcome.WITHDRAWN),
    ),
    transitions=(
        CT("accept", "WAIT_SELLER_CONFIRM_REFUND", "ACCEPTISSUE", by=SELLER | PLATFORM,
           permission=p.DECIDE_AFTERSALES, effect=REFUND, with_return=False,
           doc="end_reason seller_accept_issue_no_goods_return"),
        CT("accept", "WAIT_SELLER_CONFIRM_REFUND", "WAIT_BUYER_SEND_GOODS",
           by=SELLER | PLATFORM, permission=p.DECIDE_AFTERSALES, with_return=True),
        CT("refuse", "WAIT_SELLER_CONFIRM_REFUND", "SELLER_REFUSE_REFUND",
           by=SELLER | PLATFORM, permission=p.DECIDE_AFTERSALES, needs_reason=True,
           doc="With a counter-proposal (amount, return or not) and evidence."),
        CT("timeout", "WAIT_SELLER_CONFIRM_REFUND", "SELLER_RESPONSE_ISSUE_TIMEOUT",
           by=SYSTEM | PLATFORM, effect=REFUND),
        CT("buyer_accept_proposal", "SELLER_REFUSE_REFUND", "finish", by=PLATFORM,
           effect=REFUND, doc="The buyer took the seller's proposal."),
        CT("escalate", ("WAIT_SELLER_CONFIRM_REFUND", "SELLER_REFUSE_REFUND"), "ARBITRATING",
           by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES),
        CT("decide_for_buyer", "ARBITRATING", "finish", by=PLATFORM, effect=REFUND),
        CT("decide_for_seller", "ARBITRATING", "finish", by=PLATFORM, effect=END_DISPUTE,
           outcome=Outcome.SELLER_WON),
        CT("buyer_return", "WAIT_BUYER_SEND_GOODS", "WAIT_SELLER_RECEIVE_GOODS",
           by=PLATFORM),
        CT("close_unreturned", "WAIT_BUYER_SEND_GOODS", "finish", by=SYSTEM | PLATFORM,
           effect=END_DISPUTE, outcome=Outcome.EXPIRED),
        CT("confirm_goods", "WAIT_SELLER_RECEIVE_GOODS", "finish",
           by=SELLER | SYSTEM | PLATFORM, permission=p.CONFIRM_RETURN, effect=REFUND),
        CT("withdraw", DISPUTE_OPEN, "canceled_issue", by=PLATFORM, effect=END_DISPUTE),
    ),
    doc="AliExpress issue API (issue_status).",
)  # fmt: skip

SPECS = (CANCEL, DISPUTE)
