"""Simulated Taobao trades in TOP ``Trade`` shape (taobao.trade.fullinfo.get).

Times are Beijing-time strings, amounts yuan strings, ``tid``/``oid`` 19-digit strings.
Totals add up: ``payment`` = Σ(price × num − line discount) + post_fee − discount_fee,
and the trade's coupon is divided over the lines as TOP does: each line's
``divide_order_fee`` is what the buyer paid for it (Σ divide_order_fee + post_fee =
payment).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random

from orders.sandbox.common import (
    CN_ADDRESSES,
    CN_MEMOS,
    CN_MESSAGES,
    SHIPPING,
    TAOBAO_PRODUCTS,
    CaseScenario,
    D,
    H,
    Reason,
    SimulatedOrder,
    aware,
    clamp_age,
    cn_person,
    digits,
    fill,
    fmt,
    local_string,
    maybe,
    pick_lines,
    scaled_age,
    span,
    stable_id,
    stream_ages,
    timeline,
    weighted,
)

PLATFORM = "taobao"
TZ = "Asia/Shanghai"
CURRENCY = "CNY"
PAY_WINDOW = H(72)
SHIP_WINDOW = H(48)
CONFIRM_WINDOW = D(10)

STATUS_WEIGHTS = {
    "TRADE_FINISHED": 60,
    "WAIT_BUYER_CONFIRM_GOODS": 12,
    "WAIT_SELLER_SEND_GOODS": 10,
    "TRADE_CLOSED_BY_TAOBAO": 6,
    "WAIT_BUYER_PAY": 4,
    "TRADE_CLOSED": 3,
    "SELLER_CONSIGNED_PART": 1,
    "TRADE_BUYER_SIGNED": 0.6,
    "PAID_FORBID_CONSIGN": 0.5,
    "TRADE_NO_CREATE_PAY": 0.3,
    "PAY_PENDING": 0.3,
    "WAIT_PRE_AUTH_CONFIRM": 0.2,
}
CHANNEL_WEIGHTS = {
    "organic_search": 45,
    "paid_ads": 28,
    "affiliate": 10,
    "live_video": 12,
    "other": 5,
}
# Statuses whose deadline simulate(due_soon=True) can put 1–6 hours ahead.
DUE_SOON = {
    "WAIT_BUYER_PAY": "pay",
    "TRADE_NO_CREATE_PAY": "pay",
    "WAIT_SELLER_SEND_GOODS": "ship",
    "SELLER_CONSIGNED_PART": "ship",
}
# How long ago orders in each status were placed (low, high).
AGES = {
    "TRADE_NO_CREATE_PAY": (timedelta(minutes=1), H(12)),
    "WAIT_BUYER_PAY": (timedelta(minutes=5), H(64)),
    "PAY_PENDING": (timedelta(minutes=5), H(6)),
    "WAIT_PRE_AUTH_CONFIRM": (timedelta(minutes=10), H(48)),
    "PAID_FORBID_CONSIGN": (timedelta(minutes=30), H(24)),
    "WAIT_SELLER_SEND_GOODS": (timedelta(minutes=10), H(40)),
    "SELLER_CONSIGNED_PART": (H(3), H(40)),
    "WAIT_BUYER_CONFIRM_GOODS": (D(1), D(9)),
    "TRADE_BUYER_SIGNED": (D(3), D(10)),
    "TRADE_FINISHED": (D(4), D(90)),
    "TRADE_CLOSED": (D(2), D(90)),
    "TRADE_CLOSED_BY_TAOBAO": (H(4), D(90)),
}
PAID = (
    "PAID_FORBID_CONSIGN",
    "WAIT_SELLER_SEND_GOODS",
    "SELLER_CONSIGNED_PART",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
)
SHIPPED = ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED")
# 店铺优惠券: (threshold, amount) in yuan.
COUPONS = ((Decimal(99), Decimal(10)), (Decimal(199), Decimal(20)), (Decimal(299), Decimal(40)))  # fmt: skip


# A paid order waiting to be shipped, and a few ordinary statuses (probes, load runs).
READY_TO_SHIP = "WAIT_SELLER_SEND_GOODS"
SAMPLE_STATUSES = ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS",
                   "TRADE_FINISHED")  # fmt: skip

# --- buyers' after-sales requests (``aftersales.sandbox``) ----------------------------
# Reasons are the platform's own words (Chinese; platforms.md §2.3, §2.7).

R = Reason
CANCEL, REFUND, RETURN, REPLACEMENT, DISPUTE = (
    "cancel",
    "refund",
    "return",
    "replacement",
    "dispute",
)  # case kinds (``orders`` / ``aftersales`` choices)


TB_UNSHIPPED = (
    R("我不想要了", "买多了，不想要了"),
    R("拍错了/多拍了", "颜色拍错了，重新拍一单"),
    R("地址/电话信息填写错误", "收货地址填错了，重新下单"),
    R("未按约定时间发货", "说好48小时发货，到现在还没发"),
    R("协商一致退款", "和客服沟通过了，缺货退款"),
)
TB_REFUND = (
    R("快递一直未送达", "物流好几天没更新了"),
    R("少件/漏发", "买了两件只收到一件", photos=True),
    R("商品破损", "收到的时候外包装破了，杯子有裂痕", photos=True),
    R("质量问题", "有线头，袖口开线了，协商部分退款", photos=True),
)
TB_RETURN = (
    R("七天无理由退换货", "不喜欢，吊牌都在，没穿过"),
    R("尺码拍错/不合适", "偏小一码，穿着紧"),
    R("颜色/款式与商品描述不符", "实物颜色比图片深很多", photos=True),
    R("质量问题", "洗了一次就掉色", photos=True),
    R("卖家发错货", "拍的黑色发成了白色", photos=True),
)

CASE_SCENARIOS = (
    CaseScenario(REFUND, ("WAIT_SELLER_SEND_GOODS",), 2, TB_UNSHIPPED, "paid_at"),
    CaseScenario(REFUND, ("WAIT_BUYER_CONFIRM_GOODS",), 3, TB_REFUND,
                 "shipped_at", partial_share=0.4),
    CaseScenario(RETURN, ("WAIT_BUYER_CONFIRM_GOODS",), 4, TB_RETURN,
                 "shipped_at", return_share=1.0),
)  # fmt: skip

# Return carriers by market ("" = any): (name, tracking number prefix, digits).
RETURN_CARRIERS = {
    "": (("顺丰速运", "SF", 12), ("中通快递", "7", 13), ("圆通速递", "YT", 13),
         ("韵达快递", "43", 11)),
}  # fmt: skip


def case_id(kind: str, rng: Random) -> str:
    """A refund id (``refund_id``)."""
    return digits(rng, 17, "2")


def simulate(
    *,
    status: str,
    now: datetime,
    rng: Random,
    market: str = "",
    order_id: str | None = None,
    age: timedelta | None = None,
    due_soon: bool = False,
) -> SimulatedOrder:
    if status not in AGES:
        raise ValueError(f"Taobao has no status {status!r}")
    if due_soon and status not in DUE_SOON:
        raise ValueError(f"{status} has no pay or ship deadline to make due soon")
    now = aware(now)
    low, high = AGES[status]
    age = scaled_age(rng, low, high) if age is None else age
    pay_delay = span(rng, timedelta(seconds=20), timedelta(minutes=40))
    ship_delay = span(rng, H(2), H(36))
    deliver_delay = span(rng, D(1), D(4))
    confirm_delay = span(rng, H(6), D(6))

    created = now - age
    paid = shipped = ended = None
    timeout: datetime | None = None
    if status in ("TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY"):
        if due_soon:
            created = now - PAY_WINDOW + span(rng, H(1), H(6))
        else:
            created = now - clamp_age(age, timedelta(minutes=1), PAY_WINDOW - H(7))
        timeout = created + PAY_WINDOW
        last = created
    elif status in ("PAY_PENDING", "WAIT_PRE_AUTH_CONFIRM"):
        created = now - clamp_age(age, timedelta(minutes=1), PAY_WINDOW - H(7))
        last = created
    elif status == "TRADE_CLOSED_BY_TAOBAO":
        wait = PAY_WINDOW if rng.random() < 0.55 else span(rng, H(0.2), H(48))
        (ended,) = timeline(created, [wait], now)
        last = ended
    elif status in ("PAID_FORBID_CONSIGN", "WAIT_SELLER_SEND_GOODS"):
        if due_soon:
            paid = now - SHIP_WINDOW + span(rng, H(1), H(6))
            created = paid - pay_delay
        else:
            created = now - clamp_age(age, timedelta(minutes=2), SHIP_WINDOW - H(7))
            (paid,) = timeline(created, [pay_delay], now)
        timeout = paid + SHIP_WINDOW if status == "WAIT_SELLER_SEND_GOODS" else None
        last = paid
    elif status == "SELLER_CONSIGNED_PART":
        if due_soon:
            paid = now - SHIP_WINDOW + span(rng, H(1), H(6))
            created = paid - pay_delay
        else:
            created = now - clamp_age(age, H(1), SHIP_WINDOW - H(7))
            (paid,) = timeline(created, [pay_delay], now)
        (shipped,) = timeline(paid, [ship_delay], now)
        timeout = paid + SHIP_WINDOW
        last = shipped
    elif status == "WAIT_BUYER_CONFIRM_GOODS":
        created = now - clamp_age(age, H(3), CONFIRM_WINDOW - H(12))
        paid, shipped = timeline(created, [pay_delay, ship_delay], now)
        timeout = shipped + CONFIRM_WINDOW
        last = shipped
    elif status == "TRADE_BUYER_SIGNED":
        paid, shipped, signed = timeline(
            created, [pay_delay, ship_delay, deliver_delay], now
        )
        last = signed
    elif status == "TRADE_FINISHED":
        paid, shipped, ended = timeline(
            created, [pay_delay, ship_delay, deliver_delay + confirm_delay], now
        )
        last = ended
    else:  # TRADE_CLOSED: paid, refunded in full (sometimes after shipping)
        steps = [pay_delay]
        if rng.random() < 0.4:
            steps.append(ship_delay)
        steps.append(span(rng, H(2), D(5)))
        times = timeline(created, steps, now)
        paid, ended = times[0], times[-1]
        shipped = times[1] if len(times) == 3 else None
        last = ended
    modified = min(last + span(rng, timedelta(0), timedelta(minutes=5)), now)

    picks = pick_lines(
        rng, TAOBAO_PRODUCTS, min_lines=2 if status == "SELLER_CONSIGNED_PART" else 1
    )
    tid = order_id or digits(rng, 19, prefix=rng.choice(("2", "3", "4")))
    lines = []
    items_total = Decimal(0)
    for index, pick in enumerate(picks):
        price = pick.product.price
        gross = price * pick.quantity
        line_discount = Decimal(0)
        if rng.random() < 0.15:
            line_discount = min(gross / 2, Decimal(rng.choice((3, 5, 8, 10))))
        items_total += gross - line_discount
        line_status = status
        if status == "SELLER_CONSIGNED_PART":
            line_status = (
                "WAIT_BUYER_CONFIRM_GOODS" if index == 0 else "WAIT_SELLER_SEND_GOODS"
            )
        line = {
            "oid": digits(rng, 19, prefix=tid[0]),
            "num_iid": stable_id(pick.product.code, 12, prefix="6"),
            "sku_id": stable_id(pick.sku, 13, prefix="5"),
            "outer_iid": pick.product.code,
            "outer_sku_id": pick.sku,
            "title": pick.product.title,
            "sku_properties_name": pick.spec(":", ";"),
            "num": pick.quantity,
            "price": fmt(price, CURRENCY),
            "total_fee": fmt(gross, CURRENCY),
            "discount_fee": fmt(line_discount, CURRENCY),
            "adjust_fee": "0.00",
            "payment": fmt(gross - line_discount, CURRENCY),
            "pic_path": pick.product.image,
            "status": line_status,
            "refund_status": "SUCCESS" if status == "TRADE_CLOSED" else "NO_REFUND",
        }
        if timeout is not None and (due_soon or rng.random() < 0.8):
            line["timeout_action_time"] = local_string(timeout, TZ)
        if ended is not None and status in ("TRADE_FINISHED", "TRADE_CLOSED"):
            line["end_time"] = local_string(ended, TZ)
        lines.append(line)

    post_fee = Decimal(rng.choice(SHIPPING[CURRENCY]))
    coupon = Decimal(0)
    if rng.random() < 0.35:
        for threshold, amount in COUPONS:
            if items_total >= threshold:
                coupon = amount
    payment = items_total + post_fee - coupon
    _divide(lines, coupon)
    name, mobile, nick = cn_person(rng)
    province, city, district, town, street, postcode = rng.choice(CN_ADDRESSES)
    flag = rng.randint(1, 5) if rng.random() < 0.1 else 0
    trade = {
        "tid": tid,
        "status": status,
        "type": "fixed",
        "trade_from": rng.choice(("WAP,WAP", "TAOBAO", "WAP,WAP", "WAP,WAP")),
        "shipping_type": "express",
        "created": local_string(created, TZ),
        "modified": local_string(modified, TZ),
        "buyer_nick": nick,
        "buyer_message": maybe(rng, 0.2, CN_MESSAGES),
        "seller_flag": flag,
        "seller_memo": rng.choice(CN_MEMOS) if flag else "",
        "total_fee": fmt(sum((p.product.price * p.quantity for p in picks), Decimal(0)), CURRENCY),
        "post_fee": fmt(post_fee, CURRENCY),
        "discount_fee": fmt(coupon, CURRENCY),
        "adjust_fee": "0.00",
        "payment": fmt(payment, CURRENCY),
        "receiver_name": name,
        "receiver_mobile": mobile,
        "receiver_state": province,
        "receiver_city": city,
        "receiver_district": district,
        "receiver_town": town,
        "receiver_address": fill(street, rng),
        "receiver_zip": postcode,
        "orders": {"order": lines},
    }  # fmt: skip
    if paid is not None:
        trade["pay_time"] = local_string(paid, TZ)
        trade["received_payment"] = (
            fmt(payment, CURRENCY) if status == "TRADE_FINISHED" else "0.00"
        )
    if shipped is not None:
        trade["consign_time"] = local_string(shipped, TZ)
    if ended is not None:
        trade["end_time"] = local_string(ended, TZ)
    channel = weighted(rng, CHANNEL_WEIGHTS)
    return SimulatedOrder(
        payload=trade, channel=channel, status=status, due_soon=due_soon
    )


def stream(
    *,
    count: int,
    now: datetime,
    rng: Random,
    market: str = "",
    days: int = 90,
    due_soon_share: float = 0.0,
) -> Iterator[SimulatedOrder]:
    """``count`` orders placed over the last ``days`` days, in a realistic status mix."""
    seen: set[str] = set()
    while len(seen) < count:
        if due_soon_share and rng.random() < due_soon_share:
            status = weighted(rng, {s: STATUS_WEIGHTS[s] for s in DUE_SOON})
            sim = simulate(status=status, now=now, rng=rng, due_soon=True)
        else:
            status = weighted(rng, STATUS_WEIGHTS)
            low, high = stream_ages(rng, *AGES[status], days)
            sim = simulate(
                status=status, now=now, rng=rng, age=scaled_age(rng, low, high)
            )
        if sim.payload["tid"] in seen:
            continue
        seen.add(sim.payload["tid"])
        yield sim


def _divide(lines: list[dict], coupon: Decimal) -> None:
    """Share ``coupon`` over the lines in proportion to their payment (the last line
    takes the rounding), writing each line's ``divide_order_fee``."""
    paid = [Decimal(line["payment"]) for line in lines]
    base = sum(paid, Decimal(0))
    left = coupon
    for index, (line, amount) in enumerate(zip(lines, paid, strict=True)):
        if index == len(lines) - 1:
            share = left
        else:
            share = (
                (coupon * amount / base).quantize(Decimal("0.01"))
                if base
                else Decimal(0)
            )
        left -= share
        line["divide_order_fee"] = fmt(amount - share, CURRENCY)
