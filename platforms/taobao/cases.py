"""Taobao refunds, per sub-order (platforms.md §2.3, Part 1 deadlines).

Taobao has no cancel-request object: before shipment the buyer applies for a refund
(refund only). ``has_good_return`` decides whether the buyer sends the goods back.
Unanswered for 48 h → agreed; return not shipped within 7 days → closed; returned goods
not confirmed within 10 days → refunded.
"""

from django.utils.translation import gettext_noop as _

from orders import permissions as p
from orders.choices import CaseKind, Outcome
from orders.choices import SellerTask as Task
from orders.machine import (
    APPROVE,
    CT,
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

CLOSE_ON_FULL_REFUND = "close_refunded"
OPEN = ("WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS")

STATUSES = (
    CaseStatus(
        "WAIT_SELLER_AGREE", "买家已经申请退款，等待卖家同意", Task.RESPOND,
        CaseDue("refund_response_window", "agree", _("Unanswered: the refund is agreed.")),
    ),
    CaseStatus(
        "WAIT_BUYER_RETURN_GOODS", "卖家已经同意退款，等待买家退货", Task.WAIT_BUYER,
        CaseDue("return_ship_window", "close_unreturned", _("Not returned: closed.")),
    ),
    CaseStatus(
        "WAIT_SELLER_CONFIRM_GOODS", "买家已经退货，等待卖家确认收货", Task.CONFIRM_RETURN,
        CaseDue("return_confirm_window", "confirm_goods", _("Not confirmed: refunded.")),
    ),
    CaseStatus("SUCCESS", "退款成功", outcome=Outcome.REFUNDED),
    CaseStatus("SELLER_REFUSE_BUYER", "卖家拒绝退款", outcome=Outcome.REJECTED),
    CaseStatus("CLOSED", "退款关闭", outcome=Outcome.WITHDRAWN),
)  # fmt: skip

TRANSITIONS = (
    CT("agree", "WAIT_SELLER_AGREE", "SUCCESS", by=SELLER | SYSTEM | PLATFORM,
       permission=p.DECIDE_AFTERSALES, effect=REFUND, with_return=False),
    CT("agree", "WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS",
       by=SELLER | SYSTEM | PLATFORM, permission=p.DECIDE_AFTERSALES, with_return=True),
    CT("refuse", "WAIT_SELLER_AGREE", "SELLER_REFUSE_BUYER", by=SELLER | PLATFORM,
       permission=p.DECIDE_AFTERSALES, needs_reason=True),
    CT("buyer_return", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS", by=PLATFORM,
       doc="The buyer sent the goods back (return tracking number)."),
    CT("close_unreturned", "WAIT_BUYER_RETURN_GOODS", "CLOSED", by=SYSTEM | PLATFORM,
       outcome=Outcome.EXPIRED),
    CT("confirm_goods", "WAIT_SELLER_CONFIRM_GOODS", "SUCCESS",
       by=SELLER | SYSTEM | PLATFORM, permission=p.CONFIRM_RETURN, effect=REFUND),
    CT("refuse_goods", "WAIT_SELLER_CONFIRM_GOODS", "SELLER_REFUSE_BUYER", by=SELLER | PLATFORM,
       permission=p.CONFIRM_RETURN, needs_reason=True,
       doc="The returned goods are not as agreed (damaged, missing, used)."),
    CT("withdraw", OPEN, "CLOSED", by=PLATFORM, doc="The buyer withdrew the request."),
    CT("reapply", "SELLER_REFUSE_BUYER", "WAIT_SELLER_AGREE", by=PLATFORM,
       doc="The buyer changed the request and applied again."),
    CT("succeed", OPEN, "SUCCESS", by=PLATFORM, effect=REFUND,
       doc="Refunded on Taobao (e.g. after customer-service intervention)."),
)  # fmt: skip

SPECS = tuple(
    CaseSpec(
        platform="taobao",
        kind=kind,
        statuses=STATUSES,
        transitions=TRANSITIONS,
        initial="WAIT_SELLER_AGREE",
        roles={APPROVE: "agree", REJECT: "refuse", RETURN_SENT: "buyer_return"},
        doc="Taobao refund (taobao.refund.get), per sub-order.",
    )
    for kind in (CaseKind.REFUND, CaseKind.RETURN)
)
