"""AliExpress: order statuses, transitions and deadlines (platforms.md §3, Part 1).

Native codes are ``order_status`` values. ``FINISH`` means completed or closed depending
on ``end_reason``; ``IN_ISSUE`` and ``IN_FROZEN`` keep the stage of the status they
interrupted and return to it. Order times are US Pacific strings (a per-platform setting).
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orders import guards as g
from orders import permissions as p
from orders.choices import DeadlineKind as K
from orders.choices import Overlay as O  # noqa: N817
from orders.choices import Stage
from orders.machine import (
    PLATFORM,
    RESUME,
    SELLER,
    SYSTEM,
    Due,
    PlatformSpec,
    PolicyDefault,
    Status,
    T,
)

TZ = "America/Los_Angeles"

# end_reason values of a normal end (§3.1); every other reason means the order closed.
NORMAL_END_REASONS = frozenset({"buyer_accept_goods", "buyer_accept_goods_timeout"})


def finish_stage(end_reason: str) -> Stage:
    return Stage.COMPLETED if end_reason in NORMAL_END_REASONS else Stage.CLOSED


SENDABLE = ("WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS")
DISPUTABLE = (*SENDABLE, "WAIT_BUYER_ACCEPT_GOODS")
FREEZABLE = (*DISPUTABLE, "FUND_PROCESSING")

SHIP_BY = (
    Due(K.SHIP_BY, "ship_window", anchor="paid_at", on_expiry="ship_timeout",
        violation="sold_not_shipped",
        doc="Missed: the order ends seller_send_goods_timeout and is refunded (成交不卖)."),
    Due(K.SHIP_WARNING_EARLY, "ship_warning_early", before=K.SHIP_BY),
    Due(K.SHIP_WARNING_LATE, "ship_warning_late", before=K.SHIP_BY),
)  # fmt: skip

STATUSES = (
    Status(
        "PLACE_ORDER_SUCCESS", Stage.UNPAID, "等待买家付款",
        deadlines=(Due(K.PAY_BY, "pay_window", anchor="created_at", on_expiry="auto_cancel"),),
    ),
    Status(
        "RISK_CONTROL", Stage.AWAITING_SHIPMENT, "风控审核中",
        overlays=frozenset({O.SHIPPING_BLOCKED}),
        deadlines=(
            Due(K.HOLD_UNTIL, "hold_window", anchor="paid_at", on_expiry="pass_risk_control"),
        ),
    ),
    Status("WAIT_SELLER_EXAMINE_MONEY", Stage.AWAITING_SHIPMENT, "等待卖家确认金额"),
    Status("WAIT_SELLER_SEND_GOODS", Stage.AWAITING_SHIPMENT, "等待卖家发货", deadlines=SHIP_BY),
    Status("SELLER_PART_SEND_GOODS", Stage.SHIPPED, "部分发货", deadlines=SHIP_BY),
    Status(
        "IN_CANCEL", Stage.AWAITING_SHIPMENT, "买家申请取消",
        overlays=frozenset({O.CANCEL_REQUESTED}),
        deadlines=(
            Due(K.CANCEL_RESPONSE_BY, "cancel_response_window", on_expiry="approve_cancel",
                doc="Unanswered for 48 h: the order is cancelled (rule since 16 Mar 2020)."),
        ),
    ),
    Status(
        "WAIT_BUYER_ACCEPT_GOODS", Stage.SHIPPED, "等待买家收货",
        deadlines=(
            Due(K.CONFIRM_BY, "confirm_window", anchor="shipped_at", on_expiry="auto_confirm",
                paused_by=(O.REFUND_OPEN,),
                doc="End of buyer protection (the promised delivery time)."),
        ),
    ),
    Status(
        "FUND_PROCESSING", Stage.COMPLETED, "等待放款",
        deadlines=(
            Due(K.RELEASE_FUNDS_BY, "fund_release_window", anchor="completed_at",
                on_expiry="release_funds"),
        ),
    ),
    Status("IN_ISSUE", None, "纠纷中", overlays=frozenset({O.IN_DISPUTE})),
    Status("IN_FROZEN", None, "冻结中", overlays=frozenset({O.FROZEN})),
    Status("FINISH", None, "已结束", terminal=True, stage_by_end_reason=finish_stage),
)  # fmt: skip

TRANSITIONS = (
    T("pay", "PLACE_ORDER_SUCCESS", "RISK_CONTROL", by=PLATFORM,
      doc="Paid: 24 h of risk control start."),
    T("request_amount_confirmation", "PLACE_ORDER_SUCCESS", "WAIT_SELLER_EXAMINE_MONEY",
      by=PLATFORM),
    T("confirm_amount", "WAIT_SELLER_EXAMINE_MONEY", "WAIT_SELLER_SEND_GOODS",
      by=SELLER | PLATFORM, permission=p.ADJUST_PRICE),
    T("reject_amount", "WAIT_SELLER_EXAMINE_MONEY", "FINISH", by=SELLER | PLATFORM,
      permission=p.ADJUST_PRICE, end_reason="reject_payamount"),
    T("cancel", "PLACE_ORDER_SUCCESS", "FINISH", by=SELLER, permission=p.CANCEL,
      end_reason="cancel_order_close_trade"),
    T("buyer_cancel", "PLACE_ORDER_SUCCESS", "FINISH", by=PLATFORM,
      end_reason="buyer_cancel_notpay_order"),
    T("auto_cancel", "PLACE_ORDER_SUCCESS", "FINISH", by=SYSTEM | PLATFORM,
      end_reason="buyer_pay_timeout"),
    T("pass_risk_control", "RISK_CONTROL", "WAIT_SELLER_SEND_GOODS", by=SYSTEM | PLATFORM),
    T("reject_risk", "RISK_CONTROL", "FINISH", by=PLATFORM, end_reason="risk_reject_closed"),
    T("buyer_cancel", "RISK_CONTROL", "FINISH", by=PLATFORM,
      end_reason="buyer_cancel_order_in_risk"),
    T("ship_part", SENDABLE, "SELLER_PART_SEND_GOODS", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP, doc="send_type=part"),
    T("ship", SENDABLE, "WAIT_BUYER_ACCEPT_GOODS", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP, doc="send_type=all"),
    T("ship_timeout", SENDABLE, "FINISH", by=SYSTEM | PLATFORM,
      end_reason="seller_send_goods_timeout"),
    T("request_cancel", "WAIT_SELLER_SEND_GOODS", "IN_CANCEL", by=PLATFORM),
    T("approve_cancel", "IN_CANCEL", "FINISH", by=SELLER | PLATFORM | SYSTEM,
      permission=p.DECIDE_AFTERSALES, end_reason="buyer_cancel_order"),
    T("reject_cancel", "IN_CANCEL", RESUME, by=SELLER | PLATFORM,
      guards=(g.knows_previous_status,), permission=p.DECIDE_AFTERSALES),
    T("open_dispute", DISPUTABLE, "IN_ISSUE", by=PLATFORM),
    T("close_dispute", "IN_ISSUE", RESUME, by=PLATFORM | SYSTEM,
      guards=(g.knows_previous_status,)),
    T("refund_by_dispute", "IN_ISSUE", "FINISH", by=PLATFORM | SYSTEM, end_reason="end_issue"),
    T("freeze", FREEZABLE, "IN_FROZEN", by=PLATFORM),
    T("unfreeze", "IN_FROZEN", RESUME, by=PLATFORM, guards=(g.knows_previous_status,)),
    T("close_frozen", "IN_FROZEN", "FINISH", by=PLATFORM, end_reason="security_close"),
    T("confirm_receipt", "WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", by=PLATFORM,
      end_reason="buyer_accept_goods"),
    T("auto_confirm", "WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", by=SYSTEM,
      guards=(g.no_open_refund,), end_reason="buyer_accept_goods_timeout"),
    T("release_funds", "FUND_PROCESSING", "FINISH", by=SYSTEM | PLATFORM),
)  # fmt: skip

POLICY = {
    "pay_window": PolicyDefault("20d", "unpaid order closes", confirmed=False),
    "hold_window": PolicyDefault("24h", "risk control after payment"),
    "ship_window": PolicyDefault("7d", "product handling time, after payment"),
    "ship_warning_early": PolicyDefault(
        "24h", "first warning before the ship deadline"
    ),
    "ship_warning_late": PolicyDefault("6h", "last warning before the ship deadline"),
    "cancel_response_window": PolicyDefault("48h", "answer a buyer cancel request"),
    "confirm_window": PolicyDefault("60d", "buyer protection after shipping"),
    "fund_release_window": PolicyDefault("3d", "fund release", confirmed=False),
    "dispute_response_window": PolicyDefault(
        "5d", "answer a dispute, else buyer's proposal"
    ),
    "dispute_intervention_window": PolicyDefault(
        "7d", "the dispute team steps in when there is no agreement"
    ),
    "return_ship_window": PolicyDefault("10d", "buyer returns goods within"),
    "return_confirm_window": PolicyDefault("7d", "confirm returned goods"),
}

# over_time_left is "when the current stage times out": which deadline depends on status.
TIMEOUT_KIND = {
    "PLACE_ORDER_SUCCESS": K.PAY_BY,
    "RISK_CONTROL": K.HOLD_UNTIL,
    "WAIT_SELLER_SEND_GOODS": K.SHIP_BY,
    "SELLER_PART_SEND_GOODS": K.SHIP_BY,
    "IN_CANCEL": K.CANCEL_RESPONSE_BY,
    "WAIT_BUYER_ACCEPT_GOODS": K.CONFIRM_BY,
}


def _money(value: Any) -> tuple[str, str]:
    """AliExpress money objects: {amount, currency_code} (or cent + cent_factor)."""
    if not isinstance(value, Mapping):
        return (str(value or "0"), "")
    currency = value.get("currency_code", "")
    if value.get("amount") not in (None, ""):
        return (str(value["amount"]), currency)
    if value.get("cent") not in (None, ""):
        # cent / cent_factor, exactly: the factor is a power of ten (100 for USD).
        factor = str(int(value.get("cent_factor") or 100))
        if factor.strip("0") != "1":
            raise ValueError(f"cent_factor {factor!r} is not a power of ten")
        cents = Decimal(int(value["cent"])).scaleb(-(len(factor) - 1))
        return (str(cents), currency)
    return ("0", currency)


def _variation(child: Mapping[str, Any]) -> str:
    """``product_attributes`` is JSON: {"sku": [{"pName": "Color", "pValue": "Red"}, …]}."""
    try:
        attributes = json.loads(child.get("product_attributes") or "{}").get("sku", [])
        text = ", ".join(
            f"{a.get('pName')}: {a.get('selfDefineValue') or a.get('pValue')}"
            for a in attributes
        )
    except (TypeError, ValueError, AttributeError):
        text = ""
    return text or child.get("product_attributes_text", "")


def _children(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    value = order.get("child_order_list") or []
    if isinstance(value, Mapping):  # {"global_aeop_tp_child_order_dto": [...]}
        value = next(iter(value.values()), [])
    return list(value)


SPEC = PlatformSpec(
    code="aliexpress",
    label="AliExpress",
    native_tz=TZ,
    statuses=STATUSES,
    transitions=TRANSITIONS,
    policy=POLICY,
    docs="AliExpress open platform order API (findorderbyid), checked 2026-11.",
)
