"""Simulated AliExpress orders in order-detail shape (findorderbyid / order.info.get).

Times are US Pacific strings, amounts money objects ``{"amount", "currency_code"}`` in
USD, ids 16-digit strings. ``order_amount`` = Σ(product_price × product_count) +
``logistics_amount`` (the parser reads no discount, so the simulator gives none).
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random

from orders.sandbox.common import (
    AE_COUNTRIES,
    AE_COUNTRY_WEIGHTS,
    AE_PRODUCTS,
    EN_MESSAGES,
    SHIPPING,
    CaseScenario,
    D,
    H,
    Reason,
    SimulatedOrder,
    aware,
    clamp_age,
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

PLATFORM = "aliexpress"
TZ = "America/Los_Angeles"
CURRENCY = "USD"
PAY_WINDOW = D(20)
HOLD_WINDOW = H(24)
SHIP_WINDOW = D(7)
CANCEL_RESPONSE_WINDOW = H(48)
CONFIRM_WINDOW = D(60)
FUND_RELEASE_WINDOW = D(3)

STATUS_WEIGHTS = {
    "FINISH": 58,
    "WAIT_BUYER_ACCEPT_GOODS": 16,
    "WAIT_SELLER_SEND_GOODS": 9,
    "PLACE_ORDER_SUCCESS": 5,
    "FUND_PROCESSING": 4,
    "RISK_CONTROL": 2,
    "IN_ISSUE": 2,
    "SELLER_PART_SEND_GOODS": 1,
    "IN_CANCEL": 1,
    "IN_FROZEN": 0.4,
    "WAIT_SELLER_EXAMINE_MONEY": 0.3,
}
CHANNEL_WEIGHTS = {
    "organic_search": 45,
    "paid_ads": 22,
    "affiliate": 22,
    "live_video": 3,
    "other": 8,
}
# FINISH end reasons: mostly normal completions, some closes (§3.1).
END_REASONS = {
    "buyer_accept_goods": 62,
    "buyer_accept_goods_timeout": 18,
    "buyer_pay_timeout": 7,
    "buyer_cancel_notpay_order": 4,
    "buyer_cancel_order": 3,
    "seller_send_goods_timeout": 2,
    "end_issue": 2,
    "risk_reject_closed": 1,
    "cancel_order_close_trade": 1,
}
FUND_END_REASONS = {"buyer_accept_goods": 75, "buyer_accept_goods_timeout": 25}
DUE_SOON = {
    "PLACE_ORDER_SUCCESS": "pay",
    "WAIT_SELLER_SEND_GOODS": "ship",
    "SELLER_PART_SEND_GOODS": "ship",
}
AGES = {
    "PLACE_ORDER_SUCCESS": (timedelta(minutes=5), D(19)),
    "RISK_CONTROL": (timedelta(minutes=10), H(20)),
    "WAIT_SELLER_EXAMINE_MONEY": (H(1), D(2)),
    "WAIT_SELLER_SEND_GOODS": (H(25), D(6.5)),
    "SELLER_PART_SEND_GOODS": (H(30), D(6.5)),
    "IN_CANCEL": (H(26), D(5)),
    "WAIT_BUYER_ACCEPT_GOODS": (D(2), D(58)),
    "FUND_PROCESSING": (D(8), D(62)),
    "IN_ISSUE": (D(10), D(70)),
    "IN_FROZEN": (D(5), D(60)),
    "FINISH": (D(3), D(90)),
}


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": fmt(amount, CURRENCY), "currency_code": CURRENCY}


# A paid order waiting to be shipped, and a few ordinary statuses (probes, load runs).
READY_TO_SHIP = "WAIT_SELLER_SEND_GOODS"
SAMPLE_STATUSES = ("PLACE_ORDER_SUCCESS", "WAIT_SELLER_SEND_GOODS",
                   "SELLER_PART_SEND_GOODS")  # fmt: skip

# --- buyers' after-sales requests (``aftersales.sandbox``) ----------------------------
# Reasons are the platform's own words (English; platforms.md §3.3, §3.7).

R = Reason
CANCEL, REFUND, RETURN, REPLACEMENT, DISPUTE = (
    "cancel",
    "refund",
    "return",
    "replacement",
    "dispute",
)  # case kinds (``orders`` / ``aftersales`` choices)


AE_CANCEL = (
    R("I don't want it anymore", "Please cancel, I found it locally."),
    R("Shipping takes too long", "I need it sooner than the delivery estimate."),
    R("I need to change the shipping address", "Wrong address, I will order again."),
    R("I ordered the wrong item", "Wrong model for my phone."),
)
AE_DISPUTE = (
    R("Item not received", "The tracking shows nothing for 30 days."),
    R("Quantity shortage", "Ordered 2 pieces, received 1.", photos=True),
    R("Item not as described", "The material is plastic, not metal.", photos=True),
    R("Wrong color or size", "Received size S instead of XL.", photos=True),
    R("Damaged item", "The screen is cracked.", photos=True),
    R("Poor quality", "It broke after two days.", photos=True),
)

CASE_SCENARIOS = (
    CaseScenario(CANCEL, ("WAIT_SELLER_SEND_GOODS",), 2, AE_CANCEL, "paid_at"),
    CaseScenario(DISPUTE, ("WAIT_BUYER_ACCEPT_GOODS",), 5, AE_DISPUTE,
                 "shipped_at", return_share=0.35, partial_share=0.3),
)  # fmt: skip

# Return carriers by market ("" = any): (name, tracking number prefix, digits[, suffix]).
RETURN_CARRIERS = {
    "": (("USPS", "9400", 18), ("Royal Mail", "RR", 9, "GB"), ("Correos", "PK", 11)),
}  # fmt: skip


def case_id(kind: str, rng: Random) -> str:
    """An issue id; "" for a cancel (AliExpress has no cancel object: the order is
    IN_CANCEL)."""
    if kind == CANCEL:
        return ""
    return digits(rng, 16, "80")


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
    """One order in ``status``. ``market`` picks the buyer's country (e.g. "FR")."""
    if status not in AGES:
        raise ValueError(f"AliExpress has no status {status!r}")
    if due_soon and status not in DUE_SOON:
        raise ValueError(f"{status} has no pay or ship deadline to make due soon")
    now = aware(now)
    low, high = AGES[status]
    age = scaled_age(rng, low, high) if age is None else age
    pay_delay = span(rng, timedelta(seconds=30), H(6))
    risk_delay = span(rng, H(1), H(22))
    ship_delay = span(rng, H(6), D(4))
    transit = span(rng, D(7), D(35))
    end_reason = ""
    if status == "FINISH":
        end_reason = weighted(rng, END_REASONS)
    elif status == "FUND_PROCESSING":
        end_reason = weighted(rng, FUND_END_REASONS)

    created = now - age
    paid = shipped = ended = None
    deadline: datetime | None = None
    child_status = status
    issue_status = "NO_ISSUE"
    frozen_status = "NO_FROZEN"
    if status == "PLACE_ORDER_SUCCESS":
        if due_soon:
            created = now - PAY_WINDOW + span(rng, H(1), H(6))
        else:
            created = now - clamp_age(age, timedelta(minutes=5), PAY_WINDOW - H(7))
        deadline = created + PAY_WINDOW
        last = created
    elif status == "RISK_CONTROL":
        created = now - clamp_age(age, timedelta(minutes=5), HOLD_WINDOW - H(1))
        (paid,) = timeline(created, [pay_delay], now)
        deadline = paid + HOLD_WINDOW
        last = paid
    elif status == "WAIT_SELLER_EXAMINE_MONEY":
        (paid,) = timeline(created, [pay_delay], now)
        last = paid
    elif status in ("WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS", "IN_CANCEL"):
        if due_soon:
            paid = now - SHIP_WINDOW + span(rng, H(1), H(6))
            created = paid - pay_delay
        else:
            created = now - clamp_age(age, H(2), SHIP_WINDOW - H(7))
            (paid,) = timeline(created, [pay_delay], now)
        ready = paid + risk_delay  # risk control passed
        last = min(ready, now - timedelta(minutes=3))
        deadline = paid + SHIP_WINDOW
        if status == "SELLER_PART_SEND_GOODS":
            (shipped,) = timeline(last, [span(rng, H(2), D(2))], now)
            last = shipped
        elif status == "IN_CANCEL":
            # The buyer asked to cancel recently; the seller has 48 h to answer.
            asked = max(last, now - span(rng, H(1), CANCEL_RESPONSE_WINDOW - H(7)))
            last = asked
            deadline = asked + CANCEL_RESPONSE_WINDOW
    elif status == "WAIT_BUYER_ACCEPT_GOODS":
        created = now - clamp_age(age, D(1), CONFIRM_WINDOW - D(1))
        paid, shipped = timeline(created, [pay_delay, risk_delay + ship_delay], now)
        deadline = shipped + CONFIRM_WINDOW
        last = shipped
    elif status == "FUND_PROCESSING":
        paid, shipped, ended = timeline(
            created, [pay_delay, risk_delay + ship_delay, transit], now
        )
        # Funds release 3 days after receipt: keep the receipt within that window.
        ended = max(ended, now - FUND_RELEASE_WINDOW + H(2))
        last = ended
    elif status in ("IN_ISSUE", "IN_FROZEN"):
        paid, shipped, opened = timeline(
            created, [pay_delay, risk_delay + ship_delay, transit], now
        )
        last = opened
        if status == "IN_ISSUE":
            issue_status, child_status = "IN_ISSUE", "IN_ISSUE"
        else:
            frozen_status, child_status = "IN_FROZEN", "IN_FROZEN"
    else:  # FINISH
        if end_reason in ("buyer_pay_timeout", "buyer_cancel_notpay_order"):
            wait = (
                PAY_WINDOW
                if end_reason == "buyer_pay_timeout"
                else span(rng, H(1), D(3))
            )
            (ended,) = timeline(created, [wait], now)
        elif end_reason in ("risk_reject_closed", "cancel_order_close_trade"):
            paid, ended = timeline(created, [pay_delay, risk_delay], now)
            if end_reason == "cancel_order_close_trade":
                paid = None
        elif end_reason == "seller_send_goods_timeout":
            paid, ended = timeline(created, [pay_delay, SHIP_WINDOW], now)
        elif end_reason == "buyer_cancel_order":
            paid, ended = timeline(created, [pay_delay, span(rng, H(26), D(3))], now)
        else:  # accepted (or a dispute refunded): shipped, then a release
            steps = [pay_delay, risk_delay + ship_delay, transit, FUND_RELEASE_WINDOW]
            paid, shipped, _, ended = timeline(created, steps, now)
            if end_reason == "end_issue":
                issue_status = "END_ISSUE"
        last = ended
    modified = min(last + span(rng, timedelta(0), timedelta(minutes=3)), now)

    country = market or weighted(rng, AE_COUNTRY_WEIGHTS)
    if country not in AE_COUNTRIES:
        raise ValueError(f"no AliExpress buyers simulated for {country!r}")
    first_names, last_names, places, phone_code = AE_COUNTRIES[country]
    first, last_name = rng.choice(first_names), rng.choice(last_names)
    province, city, street, postcode = rng.choice(places)
    picks = pick_lines(
        rng,
        AE_PRODUCTS,
        min_lines=2 if status == "SELLER_PART_SEND_GOODS" else 1,
        max_lines=3,
    )
    order_no = order_id or digits(rng, 16, prefix=rng.choice(("30", "80", "81")))
    children = []
    items_total = Decimal(0)
    for index, pick in enumerate(picks):
        price = pick.product.price
        items_total += price * pick.quantity
        line_status = child_status
        if status == "IN_ISSUE" and index > 0:
            # The buyer's dispute is on one child order; the others stay shipped.
            line_status = "WAIT_BUYER_ACCEPT_GOODS"
        if status == "SELLER_PART_SEND_GOODS":
            line_status = (
                "WAIT_BUYER_ACCEPT_GOODS" if index == 0 else "WAIT_SELLER_SEND_GOODS"
            )
        children.append(
            {
                "child_order_id": digits(rng, 16, prefix=order_no[:2]),
                "product_id": stable_id(pick.product.code, 16, prefix="1005"),
                "product_name": pick.product.title,
                "product_count": pick.quantity,
                "sku_code": pick.sku,
                "product_attributes": json.dumps(
                    {"sku": [{"pName": n, "pValue": v} for n, v in pick.values]},
                    ensure_ascii=False,
                ),
                "product_attributes_text": pick.spec(": ", ", "),
                "product_price": _money(price),
                "product_snap_url": pick.product.image,
                "order_sort_id": index + 1,
                "goods_prepare_time": 7,
                "logistics_type": "CAINIAO_STANDARD",
                "logistics_service_name": "AliExpress Standard Shipping",
                "order_status": line_status,
                "issue_status": issue_status
                if index == 0 or issue_status != "IN_ISSUE"
                else "NO_ISSUE",
                "frozen_status": frozen_status,
                "fund_status": "PAY_SUCCESS" if paid else "WAIT_SELLER_CHECK",
            }
        )
    shipping = Decimal(rng.choice(SHIPPING[CURRENCY]))
    total = items_total + shipping
    login_id = (
        f"{country.lower()}{digits(rng, 10, prefix='1')}{rng.choice('abcdefgh')}ae"
    )
    order = {
        "id": order_no,
        "order_status": status,
        "gmt_create": local_string(created, TZ),
        "gmt_modified": local_string(modified, TZ),
        "payment_type": rng.choice(("CREDIT_CARD", "PAYPAL", "ALIPAY", "CREDIT_CARD")),
        "order_amount": _money(total),
        "init_oder_amount": _money(total),
        "logistics_amount": _money(shipping),
        "settlement_currency": CURRENCY,
        "cod": False,
        "is_phone": rng.random() < 0.8,
        "buyerloginid": login_id,
        "buyer_info": {
            "login_id": login_id,
            "first_name": first,
            "last_name": last_name,
            "country": country,
        },
        "buyer_signer_fullname": f"{first} {last_name}",
        "receipt_address": {
            "contact_person": f"{first} {last_name}",
            "country": country,
            "province": province,
            "city": city,
            "detail_address": fill(street, rng),
            "address2": "",
            "zip": postcode,
            "phone_country": phone_code,
            "mobile_no": digits(rng, 9, prefix=rng.choice("6789")),
        },
        "memo": maybe(rng, 0.12, EN_MESSAGES),
        "child_order_list": children,
    }
    if end_reason:
        order["order_end_reason"] = end_reason
    if paid is not None:
        order["gmt_pay_success"] = local_string(paid, TZ)
    if shipped is not None:
        order["gmt_send_goods"] = local_string(shipped, TZ)
    if ended is not None:
        order["gmt_trade_end"] = local_string(ended, TZ)
    if deadline is not None and (due_soon or rng.random() < 0.8):
        order["over_time_left"] = local_string(deadline, TZ)
    return SimulatedOrder(
        payload=order,
        channel=weighted(rng, CHANNEL_WEIGHTS),
        status=status,
        due_soon=due_soon,
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
            sim = simulate(
                status=status, now=now, rng=rng, market=market, due_soon=True
            )
        else:
            status = weighted(rng, STATUS_WEIGHTS)
            low, high = stream_ages(rng, *AGES[status], days)
            sim = simulate(
                status=status,
                now=now,
                rng=rng,
                market=market,
                age=scaled_age(rng, low, high),
            )
        if sim.payload["id"] in seen:
            continue
        seen.add(sim.payload["id"])
        yield sim
