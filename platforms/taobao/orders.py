"""Taobao / Tmall: trade statuses, transitions and deadlines (platforms.md §2, Part 1).

Native codes are TOP ``trade.status`` values. Times arrive as Beijing-time strings.
Unconfirmed figures (unpaid close, ship window, auto-confirm) are product defaults and
are marked so in the policy table.
"""

from typing import Any

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

TZ = "Asia/Shanghai"

UNPAID = (
    "TRADE_NO_CREATE_PAY",
    "WAIT_BUYER_PAY",
    "PAY_PENDING",
    "WAIT_PRE_AUTH_CONFIRM",
)
SENDABLE = ("WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART")
PAID_OPEN = (
    "PAID_FORBID_CONSIGN",
    *SENDABLE,
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
)

# taobao.trade.close reasons (§2.7): the API takes the text itself.
CLOSE_REASONS = (
    "未及时付款",
    "买家不想买了",
    "买家信息填写错误，重新拍",
    "恶意买家/同行捣乱",
    "缺货",
    "买家拍错了",
    "同城见面交易",
    "其他原因",
)

PAY_BY = Due(K.PAY_BY, "pay_window", anchor="created_at", on_expiry="auto_cancel")
SHIP_BY = (
    Due(K.SHIP_BY, "ship_window", anchor="paid_at", violation="late_shipment",
        doc="Late shipment is recorded against the shop; the order stays open."),
    Due(K.SHIP_WARNING_EARLY, "ship_warning_early", before=K.SHIP_BY),
    Due(K.SHIP_WARNING_LATE, "ship_warning_late", before=K.SHIP_BY),
)  # fmt: skip

STATUSES = (
    Status("TRADE_NO_CREATE_PAY", Stage.UNPAID, "没有创建支付宝交易", deadlines=(PAY_BY,)),
    Status("WAIT_BUYER_PAY", Stage.UNPAID, "等待买家付款", deadlines=(PAY_BY,)),
    Status("PAY_PENDING", Stage.UNPAID, "国际信用卡支付付款确认中"),
    Status("WAIT_PRE_AUTH_CONFIRM", Stage.UNPAID, "0元购合约中"),
    Status(
        "PAID_FORBID_CONSIGN", Stage.AWAITING_SHIPMENT, "已付款但禁止发货",
        overlays=frozenset({O.SHIPPING_BLOCKED}),
    ),
    Status("WAIT_SELLER_SEND_GOODS", Stage.AWAITING_SHIPMENT, "等待卖家发货", deadlines=SHIP_BY),
    Status("SELLER_CONSIGNED_PART", Stage.SHIPPED, "卖家部分发货", deadlines=SHIP_BY),
    Status(
        "WAIT_BUYER_CONFIRM_GOODS", Stage.SHIPPED, "等待买家确认收货",
        deadlines=(
            Due(K.CONFIRM_BY, "confirm_window", anchor="shipped_at", on_expiry="auto_confirm",
                paused_by=(O.REFUND_OPEN,)),
        ),
    ),
    Status("TRADE_BUYER_SIGNED", Stage.DELIVERED, "买家已签收（货到付款）"),
    Status("TRADE_FINISHED", Stage.COMPLETED, "交易成功", terminal=True),
    Status("TRADE_CLOSED", Stage.CLOSED, "交易关闭（退款成功）", terminal=True),
    Status("TRADE_CLOSED_BY_TAOBAO", Stage.CLOSED, "交易关闭（付款前）", terminal=True),
)  # fmt: skip

TRANSITIONS = (
    T("create_payment", "TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY", by=PLATFORM),
    T("start_card_payment", "WAIT_BUYER_PAY", "PAY_PENDING", by=PLATFORM),
    T("start_pre_authorisation", ("TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY"),
      "WAIT_PRE_AUTH_CONFIRM", by=PLATFORM),
    T("pay", UNPAID, "WAIT_SELLER_SEND_GOODS", by=PLATFORM, guards=(g.consign_allowed,)),
    T("pay", UNPAID, "PAID_FORBID_CONSIGN", by=PLATFORM, guards=(g.consign_forbidden,),
      doc="Group-buy still forming, or strict shipping control."),
    T("allow_shipping", "PAID_FORBID_CONSIGN", "WAIT_SELLER_SEND_GOODS", by=PLATFORM),
    T("close", UNPAID, "TRADE_CLOSED_BY_TAOBAO", by=PLATFORM,
      doc="Closed on Taobao before payment by the buyer, the seller or a timeout."),
    T("cancel", UNPAID, "TRADE_CLOSED_BY_TAOBAO", by=SELLER, permission=p.CANCEL,
      reasons=CLOSE_REASONS),
    T("auto_cancel", ("TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY"), "TRADE_CLOSED_BY_TAOBAO",
      by=SYSTEM, doc="Unpaid past the pay deadline."),
    T("ship_part", SENDABLE, "SELLER_CONSIGNED_PART", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP),
    T("ship", SENDABLE, "WAIT_BUYER_CONFIRM_GOODS", by=SELLER | PLATFORM,
      guards=(g.shippable,), permission=p.SHIP),
    T("sign", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", by=PLATFORM,
      doc="Cash on delivery: the buyer signed."),
    T("confirm_receipt", ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED"), "TRADE_FINISHED",
      by=PLATFORM),
    T("auto_confirm", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_FINISHED", by=SYSTEM,
      guards=(g.no_open_refund,)),
    T("close_refunded", PAID_OPEN, "TRADE_CLOSED", by=PLATFORM | SYSTEM,
      doc="Every sub-order was refunded."),
)  # fmt: skip

POLICY = {
    "pay_window": PolicyDefault("72h", "unpaid order closes", confirmed=False),
    "ship_window": PolicyDefault(
        "48h", "must ship within, after payment", confirmed=False
    ),
    "ship_warning_early": PolicyDefault(
        "24h", "first warning before the ship deadline"
    ),
    "ship_warning_late": PolicyDefault("6h", "last warning before the ship deadline"),
    "confirm_window": PolicyDefault(
        "10d", "auto-confirm after shipping", confirmed=False
    ),
    "refund_response_window": PolicyDefault(
        "48h", "answer a refund request, else agreed"
    ),
    "return_ship_window": PolicyDefault("7d", "buyer returns goods within"),
    "return_confirm_window": PolicyDefault(
        "10d", "confirm returned goods, else refunded"
    ),
}

FLAGS = {1: "red", 2: "yellow", 3: "green", 4: "blue", 5: "purple"}

# timeout_action_time is "when the platform acts next": which deadline that is depends on
# the status the trade is in.
TIMEOUT_KIND = {
    "TRADE_NO_CREATE_PAY": K.PAY_BY,
    "WAIT_BUYER_PAY": K.PAY_BY,
    "WAIT_SELLER_SEND_GOODS": K.SHIP_BY,
    "SELLER_CONSIGNED_PART": K.SHIP_BY,
    "WAIT_BUYER_CONFIRM_GOODS": K.CONFIRM_BY,
}


def _listed(value: Any, key: str) -> list[dict[str, Any]]:
    """TOP wraps lists as {"order": [...]}; accept that or a bare list."""
    if isinstance(value, dict):
        value = value.get(key, [])
    return list(value or [])


SPEC = PlatformSpec(
    code="taobao",
    label="Taobao",
    native_tz=TZ,
    statuses=STATUSES,
    transitions=TRANSITIONS,
    policy=POLICY,
    docs="Taobao Open Platform trade API (taobao.trade.fullinfo.get), checked 2026-11.",
)
