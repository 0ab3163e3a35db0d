"""Simulated TikTok Shop orders in Get Order Detail (202309) shape.

Times are Unix seconds (ints), ids 18-digit strings, amounts decimal strings in the
market's currency (VND and IDR without decimals). Each line item is one unit, so a
quantity of two is two lines with the same ``sku_id``. The seller's voucher is in
``payment.seller_discount`` and shared over the units (each line item's
``seller_discount``; its ``sale_price`` is what the buyer paid for it), so the totals add
up: ``total_amount`` = Σ sale_price + shipping_fee + tax.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random

from orders.sandbox.common import (
    EN_MEMOS,
    EN_MESSAGES,
    SHIPPING,
    TT_COUNTRY_NAMES,
    TT_MARKETS,
    TT_PRODUCTS,
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
    maybe,
    pick_lines,
    price_in,
    scaled_age,
    span,
    stable_id,
    stream_ages,
    timeline,
    unix,
    voucher,
    weighted,
)

PLATFORM = "tiktok"
PAY_WINDOW = H(48)
SHIP_WINDOW = H(72)
COMPLETE_WINDOW = D(15)
HOLD_MARKETS = {"GB": H(1), "US": H(1)}

STATUS_WEIGHTS = {
    "COMPLETED": 55,
    "IN_TRANSIT": 10,
    "AWAITING_SHIPMENT": 9,
    "CANCELLED": 9,
    "DELIVERED": 8,
    "AWAITING_COLLECTION": 4,
    "UNPAID": 3,
    "PARTIALLY_SHIPPING": 0.8,
    "ON_HOLD": 0.8,  # UK (and US) only in practice: see stream()
}
CHANNEL_WEIGHTS = {
    "live_video": 40,
    "affiliate": 30,
    "paid_ads": 13,
    "organic_search": 12,
    "other": 5,
}
MARKET_WEIGHTS = {"GB": 35, "MY": 20, "TH": 12, "VN": 10, "PH": 10, "ID": 8, "SG": 5}
DUE_SOON = {
    "UNPAID": "pay",
    "AWAITING_SHIPMENT": "ship",
    "AWAITING_COLLECTION": "ship",
    "PARTIALLY_SHIPPING": "ship",
}
AGES = {
    "UNPAID": (timedelta(minutes=2), H(40)),
    "ON_HOLD": (timedelta(minutes=2), timedelta(minutes=55)),
    "AWAITING_SHIPMENT": (H(1.2), H(64)),
    "PARTIALLY_SHIPPING": (H(6), H(64)),
    "AWAITING_COLLECTION": (H(4), H(64)),
    "IN_TRANSIT": (D(1), D(10)),
    "DELIVERED": (D(3), D(16)),
    "COMPLETED": (D(6), D(90)),
    "CANCELLED": (H(3), D(90)),
}
CARRIERS = {
    "GB": ("Royal Mail", "Evri", "DPD", "Yodel"),
    "MY": ("J&T Express", "Ninja Van", "Pos Laju", "SPX Express"),
    "TH": ("Flash Express", "Kerry Express", "J&T Express"),
    "SG": ("Ninja Van", "J&T Express"),
    "VN": ("J&T Express", "GHN", "Viettel Post"),
    "PH": ("J&T Express", "Flash Express"),
    "ID": ("J&T Express", "SiCepat", "JNE"),
}
# Why orders were cancelled: (who, reason, whether it happened after payment).
CANCELS = {
    ("SYSTEM", "Unpaid: payment time expired", "unpaid"): 40,
    ("BUYER", "No longer needed", "unpaid"): 15,
    ("BUYER", "Change of mind", "paid"): 18,
    ("SELLER", "seller_cancel_reason_out_of_stock", "paid"): 8,
    ("SYSTEM", "Package not shipped within the time limit", "late"): 5,
    ("SYSTEM", "Package delivery failed", "shipped"): 4,
    ("BUYER", "Need to change delivery address", "paid"): 10,
}


# A paid order waiting to be shipped, and a few ordinary statuses (probes, load runs).
READY_TO_SHIP = "AWAITING_SHIPMENT"
SAMPLE_STATUSES = ("UNPAID", "AWAITING_SHIPMENT", "AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED")  # fmt: skip

# --- buyers' after-sales requests (``aftersales.sandbox``) ----------------------------
# Reasons are the platform's own words (English; platforms.md §1.7).

R = Reason
CANCEL, REFUND, RETURN, REPLACEMENT, DISPUTE = (
    "cancel",
    "refund",
    "return",
    "replacement",
    "dispute",
)  # case kinds (``orders`` / ``aftersales`` choices)


TT_CANCEL = (
    R("Need to change color or size", "Ordered the wrong size, will reorder in M."),
    R("Discount not as expected", "The voucher was not applied at checkout."),
    R("No longer needed", "Bought the same thing in a live, sorry."),
    R("Ordered by mistake", "Clicked buy twice, please cancel this one."),
    R("Need to change shipping address", "I moved, the address is wrong."),
    R("Shipping takes too long", "Still not shipped, I need it before the weekend."),
)
TT_REFUND = (
    R("Package not received", "Tracking has not moved for a week."),
    R("Missing items", "Only one of the two items was in the parcel.", photos=True),
    R("Item damaged", "The box arrived crushed and the item is broken.", photos=True),
)
TT_RETURN = (
    R("Wrong size", "Too small, the size chart is not accurate."),
    R("Item doesn't match description", "Colour is very different from the video.",
      photos=True),
    R("Defective or doesn't work", "Does not charge at all.", photos=True),
    R("Received wrong item", "I ordered black and received white.", photos=True),
    R("Changed my mind", "Not what I expected, unused with tags."),
)  # fmt: skip
TT_REPLACEMENT = (
    R(
        "Defective item",
        "Left earbud has no sound, please send a new one.",
        photos=True,
    ),
    R("Wrong size", "Please exchange for a size L."),
)

CASE_SCENARIOS = (
    CaseScenario(CANCEL, ("AWAITING_SHIPMENT",), 4, TT_CANCEL, "paid_at"),
    CaseScenario(REFUND, ("IN_TRANSIT", "DELIVERED"), 2, TT_REFUND,
                 "shipped_at", partial_share=0.3),
    CaseScenario(RETURN, ("DELIVERED",), 4, TT_RETURN, "delivered_at",
                 return_share=1.0),
    CaseScenario(REPLACEMENT, ("DELIVERED",), 1, TT_REPLACEMENT, "delivered_at"),
)  # fmt: skip

# Return carriers by market ("" = any other): (name, tracking number prefix, digits).
RETURN_CARRIERS = {
    "GB": (("Royal Mail", "TT", 11), ("Evri", "H0", 14)),
    "TH": (("Kerry Express", "KER", 10), ("Flash Express", "TH", 11)),
    "": (("J&T Express", "6", 11), ("Pos Laju", "EP", 9), ("Ninja Van", "NV", 12)),
}  # fmt: skip


def case_id(kind: str, rng: Random) -> str:
    """A platform id for a simulated request: cancel ids and return ids."""
    return digits(rng, 18, "57" if kind == CANCEL else "40")


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
    """One order in ``status`` for ``market`` (GB, MY, TH, SG, VN, PH, ID; "" = any)."""
    if status not in AGES:
        raise ValueError(f"TikTok Shop has no status {status!r}")
    if due_soon and status not in DUE_SOON:
        raise ValueError(f"{status} has no pay or ship deadline to make due soon")
    market = market or weighted(rng, MARKET_WEIGHTS)
    if market not in TT_MARKETS:
        raise ValueError(f"no TikTok Shop market {market!r} simulated")
    now = aware(now)
    low, high = AGES[status]
    age = scaled_age(rng, low, high) if age is None else age
    hold = HOLD_MARKETS.get(market, timedelta(0))
    pay_delay = span(rng, timedelta(seconds=15), timedelta(minutes=30))
    rts_delay = span(rng, H(2), H(40))
    collect_delay = span(rng, H(2), H(20))
    transit = span(rng, D(1), D(5))
    confirm_delay = span(rng, H(12), COMPLETE_WINDOW)

    created = now - age
    paid = rts = delivered = cancelled = None
    cancel_initiator = cancel_reason = ""
    last = created
    deadlines: dict[str, datetime] = {}
    if status == "UNPAID":
        if due_soon:
            created = now - PAY_WINDOW + span(rng, H(1), H(6))
        else:
            created = now - clamp_age(age, timedelta(minutes=1), PAY_WINDOW - H(7))
        deadlines["cancel_order_sla_time"] = created + PAY_WINDOW
        last = created
    elif status == "ON_HOLD":
        created = now - clamp_age(age, timedelta(minutes=1), max(hold, H(1)))
        (paid,) = timeline(created, [pay_delay], now)
        last = paid
    elif status in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING", "AWAITING_COLLECTION"):
        if due_soon:
            paid = now - SHIP_WINDOW + span(rng, H(1), H(6))
            created = paid - pay_delay
        else:
            created = now - clamp_age(age, hold + H(0.2), SHIP_WINDOW - H(7))
            (paid,) = timeline(created, [pay_delay], now)
        last = min(paid + hold, now - timedelta(minutes=3))
        due = paid + SHIP_WINDOW
        if status == "AWAITING_COLLECTION":
            (rts,) = timeline(last, [rts_delay], now)
            last = rts
            deadlines["collection_due_time" if rng.random() < 0.7 else "tts_sla_time"] = due  # fmt: skip
        else:
            if status == "PARTIALLY_SHIPPING":
                (rts,) = timeline(last, [rts_delay], now)
                last = rts
            deadlines["shipping_due_time" if rng.random() < 0.7 else "rts_sla_time"] = due  # fmt: skip
    elif status == "IN_TRANSIT":
        paid, rts, collected = timeline(
            created, [pay_delay, hold + rts_delay, collect_delay], now
        )
        last = collected
    elif status == "DELIVERED":
        created = now - clamp_age(age, H(12), COMPLETE_WINDOW)
        paid, rts, delivered = timeline(
            created, [pay_delay, hold + rts_delay, collect_delay + transit], now
        )
        last = delivered
    elif status == "COMPLETED":
        paid, rts, delivered, completed = timeline(
            created,
            [pay_delay, hold + rts_delay, collect_delay + transit, confirm_delay],
            now,
        )
        last = completed
    else:  # CANCELLED
        cancel_initiator, cancel_reason, when = weighted(rng, CANCELS)
        if when == "unpaid":
            wait = (
                PAY_WINDOW if cancel_initiator == "SYSTEM" else span(rng, H(0.1), H(30))
            )
            (cancelled,) = timeline(created, [wait], now)
        elif when == "paid":
            paid, cancelled = timeline(created, [pay_delay, span(rng, H(0.1), H(30))], now)  # fmt: skip
        elif when == "late":
            paid, cancelled = timeline(created, [pay_delay, SHIP_WINDOW], now)
        else:  # returned to the seller after a failed delivery
            paid, rts, cancelled = timeline(
                created, [pay_delay, hold + rts_delay, D(12)], now
            )
        last = cancelled
    update = min(last + span(rng, timedelta(0), timedelta(minutes=3)), now)

    currency, first_names, last_names, places, phone = TT_MARKETS[market]
    picks = pick_lines(
        rng,
        TT_PRODUCTS,
        min_lines=2 if status == "PARTIALLY_SHIPPING" else 1,
        max_lines=3,
    )
    order_no = order_id or digits(rng, 18, prefix="57")
    carrier = rng.choice(CARRIERS[market])
    tracking = (
        f"{carrier[:2].upper().replace(' ', '')}{digits(rng, 12)}{market}"
        if rts
        else ""
    )
    lines = []
    original_total = Decimal(0)
    for index, pick in enumerate(picks):
        price = price_in(pick.product.price, currency)
        sku_id = stable_id(pick.sku, 19, prefix="17")
        line_status = status
        if status == "PARTIALLY_SHIPPING":
            line_status = "AWAITING_COLLECTION" if index == 0 else "AWAITING_SHIPMENT"
        for _unit in range(pick.quantity):
            original_total += price
            line = {
                "id": digits(rng, 18, prefix="57"),
                "product_id": stable_id(pick.product.code, 19, prefix="17"),
                "product_name": pick.product.title,
                "sku_id": sku_id,
                "seller_sku": pick.sku,
                "sku_name": pick.values_only(),
                "sku_image": pick.product.image,
                "original_price": fmt(price, currency),
                "sale_price": fmt(price, currency),
                "seller_discount": fmt(Decimal(0), currency),
                "platform_discount": fmt(Decimal(0), currency),
                "currency": currency,
                "display_status": line_status,
                "is_gift": False,
            }
            if rts and line_status != "AWAITING_SHIPMENT":
                line["rts_time"] = unix(rts)
                line["tracking_number"] = tracking
                line["shipping_provider_name"] = carrier
            if cancel_reason:
                line["cancel_reason"] = cancel_reason
                line["cancel_user"] = cancel_initiator
            lines.append(line)
    shipping = Decimal(rng.choice(SHIPPING[currency]))
    discount = voucher(rng, original_total, currency, share=0.3)
    _share_out(lines, discount, currency)
    sub_total = original_total - discount
    total = sub_total + shipping
    user_id = digits(rng, 19, prefix="7")
    order = {
        "id": order_no,
        "status": status,
        "create_time": unix(created),
        "update_time": unix(update),
        "user_id": user_id,
        "buyer_email": f"v0{rng.getrandbits(64):016x}@scs.tiktokw.{'eu' if market == 'GB' else 'com'}",
        "buyer_message": maybe(rng, 0.08, EN_MESSAGES),
        "seller_note": maybe(rng, 0.04, EN_MEMOS),
        "commerce_platform": "TIKTOK_SHOP",
        "order_type": "NORMAL",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "delivery_type": "HOME_DELIVERY",
        "shipping_provider": carrier if rts else "",
        "tracking_number": tracking,
        "is_cod": market in ("VN", "PH", "ID", "TH", "MY") and rng.random() < 0.15,
        "payment": {
            "currency": currency,
            "original_total_product_price": fmt(original_total, currency),
            "sub_total": fmt(sub_total, currency),
            "seller_discount": fmt(discount, currency),
            "platform_discount": fmt(Decimal(0), currency),
            "shipping_fee": fmt(shipping, currency),
            "original_shipping_fee": fmt(shipping, currency),
            "tax": fmt(Decimal(0), currency),
            "total_amount": fmt(total, currency),
        },
        "line_items": lines,
    }  # fmt: skip
    if status in ("UNPAID", "ON_HOLD"):
        # The address is not returned while UNPAID or ON_HOLD: only the region.
        order["recipient_address"] = {"region_code": market}
    else:
        province, city, district, street, postcode = rng.choice(places)
        name = f"{rng.choice(first_names)} {rng.choice(last_names)}"
        detail = fill(street, rng)
        postcode = fill(postcode, rng)
        levels = [("L0", "Country", TT_COUNTRY_NAMES[market]), ("L1", "State", province),
                  ("L2", "City", city), ("L3", "District", district)]  # fmt: skip
        order["recipient_address"] = {
            "name": name,
            "phone_number": f"{phone}{'*' * 7}{rng.randint(10, 99)}",
            "address_detail": detail,
            "full_address": ", ".join((detail, district, city, province, postcode)),
            "postal_code": postcode,
            "region_code": market,
            "district_info": [
                {"address_level": lvl, "address_level_name": lname, "address_name": n}
                for lvl, lname, n in levels
            ],
        }
    if paid is not None:
        order["paid_time"] = unix(paid)
    if rts is not None:
        order["rts_time"] = unix(rts)
    if delivered is not None:
        order["delivery_time"] = unix(delivered)
    if cancelled is not None:
        order["cancel_time"] = unix(cancelled)
        order["cancellation_initiator"] = cancel_initiator
        order["cancel_reason"] = cancel_reason
    if status == "AWAITING_SHIPMENT" and not due_soon and rng.random() < 0.05:
        order["is_buyer_request_cancel"] = True
    for field_name, when in deadlines.items():
        if due_soon or rng.random() < 0.85:
            order[field_name] = unix(when)
    return SimulatedOrder(
        payload=order,
        channel=weighted(rng, CHANNEL_WEIGHTS),
        status=status,
        due_soon=due_soon,
        extra={"market": market},
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
    """``count`` orders placed over the last ``days`` days, in a realistic status mix.

    ON_HOLD is a UK/US status (a one-hour buyer-cancel window); elsewhere it is rare.
    """
    weights = dict(STATUS_WEIGHTS)
    if market and market not in HOLD_MARKETS:
        weights["ON_HOLD"] = 0.02
    seen: set[str] = set()
    while len(seen) < count:
        if due_soon_share and rng.random() < due_soon_share:
            status = weighted(rng, {s: weights[s] for s in DUE_SOON})
            sim = simulate(
                status=status, now=now, rng=rng, market=market, due_soon=True
            )
        else:
            status = weighted(rng, weights)
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


def _share_out(lines: list[dict], discount: Decimal, currency: str) -> None:
    """The seller's voucher shared over the units as TikTok reports it: each line
    item's ``seller_discount`` is its part and ``sale_price`` what the buyer paid for
    it (the last unit takes the rounding)."""
    if not discount or not lines:
        return
    quantum = Decimal(fmt(Decimal(1), currency)).as_tuple().exponent
    step = Decimal(1).scaleb(quantum)
    prices = [Decimal(line["original_price"]) for line in lines]
    base = sum(prices, Decimal(0))
    left = discount
    for index, (line, price) in enumerate(zip(lines, prices, strict=True)):
        if index == len(lines) - 1:
            share = left
        else:
            share = (discount * price / base).quantize(step)
        left -= share
        line["seller_discount"] = fmt(share, currency)
        line["sale_price"] = fmt(price - share, currency)
