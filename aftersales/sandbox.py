"""An after-sales simulator: buyers' requests on a shop's orders, as the platform reports
them (demos, manual testing, load runs).

``simulate_cases`` picks orders of one shop in the statuses where buyers ask and opens
their requests through ``aftersales.services.open_case`` with the platform as the actor,
exactly as a platform push would:

- TikTok Shop: cancel requests on AWAITING_SHIPMENT orders; refunds in transit or
  delivered; returns and replacements once delivered;
- Taobao: refunds before shipment (Taobao's way of cancelling), refunds and returns on
  shipped orders;
- AliExpress: cancel requests on WAIT_SELLER_SEND_GOODS, disputes (refund only, or
  return and refund) on WAIT_BUYER_ACCEPT_GOODS.

Reasons are the platforms' own words: Chinese for Taobao, English for the others
(platforms.md §1.7, §2.3/2.7, §3.3/3.7). Requests are dated in the past: some wait for
the seller, some were already agreed on the platform and wait for the buyer's parcel,
some parcels are on their way back (the platform's ``buyer_return`` / ``buyer_ship``),
a few were withdrawn. A share is overdue (the ``aftersales`` job acts on its next run)
and a share is due within hours. Everything random comes from the ``random.Random`` the
caller passes, so one seed gives the same requests.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from random import Random

from django.db import transaction
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseKind
from aftersales.models import Case
from aftersales.platforms import get_case_spec
from oms.core.errors import OmsError
from orders.choices import ActorKind
from orders.machine import APPROVE, RETURN_SENT, WITHDRAW
from orders.models import Order, Shop
from orders.sandbox.common import D, H, digits, quantize, span, timeline, weighted
from orders.services import Actor, policy_for

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Reason:
    text: str  # the platform's reason
    description: str  # what the buyer wrote
    photos: bool = False  # the buyer sent photos


@dataclass(frozen=True)
class Scenario:
    kind: CaseKind
    order_statuses: tuple[str, ...]
    weight: float
    reasons: tuple[Reason, ...]
    after: str  # the order time the request comes after (paid_at, shipped_at …)
    return_share: float = 0.0  # how many of these send the goods back
    partial_share: float = 0.0  # how many ask for part of the lines' amount


R = Reason

# --- TikTok Shop (English; §1.7 buyer reason texts) ---------------------------------

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

# --- Taobao (Chinese; §2.3, §2.7) ------------------------------------------------------

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

# --- AliExpress (English; §3.3, §3.7) --------------------------------------------------

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

SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "tiktok": (
        Scenario(CaseKind.CANCEL, ("AWAITING_SHIPMENT",), 4, TT_CANCEL, "paid_at"),
        Scenario(CaseKind.REFUND, ("IN_TRANSIT", "DELIVERED"), 2, TT_REFUND,
                 "shipped_at", partial_share=0.3),
        Scenario(CaseKind.RETURN, ("DELIVERED",), 4, TT_RETURN, "delivered_at",
                 return_share=1.0),
        Scenario(CaseKind.REPLACEMENT, ("DELIVERED",), 1, TT_REPLACEMENT, "delivered_at"),
    ),
    "taobao": (
        Scenario(CaseKind.REFUND, ("WAIT_SELLER_SEND_GOODS",), 2, TB_UNSHIPPED, "paid_at"),
        Scenario(CaseKind.REFUND, ("WAIT_BUYER_CONFIRM_GOODS",), 3, TB_REFUND,
                 "shipped_at", partial_share=0.4),
        Scenario(CaseKind.RETURN, ("WAIT_BUYER_CONFIRM_GOODS",), 4, TB_RETURN,
                 "shipped_at", return_share=1.0),
    ),
    "aliexpress": (
        Scenario(CaseKind.CANCEL, ("WAIT_SELLER_SEND_GOODS",), 2, AE_CANCEL, "paid_at"),
        Scenario(CaseKind.DISPUTE, ("WAIT_BUYER_ACCEPT_GOODS",), 5, AE_DISPUTE,
                 "shipped_at", return_share=0.35, partial_share=0.3),
    ),
}  # fmt: skip

# Return carriers: (name, tracking number prefix, digits).
RETURN_CARRIERS = {
    "taobao": (("顺丰速运", "SF", 12), ("中通快递", "7", 13), ("圆通速递", "YT", 13),
               ("韵达快递", "43", 11)),
    "aliexpress": (("USPS", "9400", 18), ("Royal Mail", "RR", 9), ("Correos", "PK", 11)),
    "tiktok:GB": (("Royal Mail", "TT", 11), ("Evri", "H0", 14)),
    "tiktok:TH": (("Kerry Express", "KER", 10), ("Flash Express", "TH", 11)),
    "tiktok": (("J&T Express", "6", 11), ("Pos Laju", "EP", 9), ("Ninja Van", "NV", 12)),
}  # fmt: skip

# Where a simulated request stands now (for requests that send goods back).
PROGRESS = {"requested": 55, "agreed": 20, "sent_back": 25}
WITHDRAWN_SHARE = 0.08
ORDER_POOL = 400  # newest eligible orders per status considered


def simulate_cases(
    shop: Shop,
    *,
    count: int,
    now: datetime | None = None,
    rng: Random | None = None,
    overdue_share: float = 0.15,
    due_soon_share: float = 0.2,
) -> list[Case]:
    """Open up to ``count`` buyers' requests on ``shop``'s orders (fewer when the shop
    has fewer orders where buyers ask); each order gets at most one. Returns the cases
    (in their current status)."""
    now = (now or timezone.now()).replace(microsecond=0)
    rng = rng or Random()
    scenarios = SCENARIOS.get(shop.platform, ())
    pools = _order_pools(shop, scenarios, rng)
    policy = policy_for(shop)
    cases: list[Case] = []
    used: set[int] = set()
    while len(cases) < count:
        for pool in pools.values():
            while pool and pool[-1].pk in used:
                pool.pop()
        available = {s: s.weight for s in scenarios if pools[s]}
        if not available:
            break
        scenario = weighted(rng, available)
        order = pools[scenario].pop()
        used.add(order.pk)
        timing = weighted(
            rng,
            {
                "overdue": overdue_share,
                "soon": due_soon_share,
                "open": max(0.0, 1 - overdue_share - due_soon_share),
            },
        )
        try:
            with transaction.atomic():  # the request and its steps, or nothing
                case = _simulate_one(shop, order, scenario, timing, policy, now, rng)
        except OmsError as exc:  # the order changed under us: skip it
            logger.info("no simulated %s on order %s: %s", scenario.kind, order.pk, exc)
            continue
        cases.append(case)
    return cases


def seed_cases(
    shops: Iterable[Shop],
    *,
    count: int,
    now: datetime | None = None,
    rng: Random | None = None,
) -> list[Case]:
    """About ``count`` requests spread over ``shops`` (the demo's after-sales inbox)."""
    shops = [shop for shop in shops if shop.platform in SCENARIOS]
    rng = rng or Random()
    cases: list[Case] = []
    for index, shop in enumerate(shops):
        share = (count - len(cases)) // (len(shops) - index)
        cases += simulate_cases(shop, count=share, now=now, rng=rng)
    return cases


# --- one request ----------------------------------------------------------------------


def _order_pools(
    shop: Shop, scenarios: Sequence[Scenario], rng: Random
) -> dict[Scenario, list[Order]]:
    """Candidate orders per scenario: paid, in its statuses, without any case yet (an
    order may be a candidate of several; it is used once)."""
    statuses = {code for s in scenarios for code in s.order_statuses}
    orders = list(
        Order.objects.filter(
            shop=shop, native_status__in=statuses, paid_at__isnull=False
        )
        .filter(cases__isnull=True)
        .select_related("shop")
        .prefetch_related("items")
        .order_by("-created_at", "-id")[: ORDER_POOL * max(1, len(statuses))]
    )
    rng.shuffle(orders)
    return {
        s: [o for o in orders if o.native_status in s.order_statuses] for s in scenarios
    }


def _simulate_one(
    shop: Shop,
    order: Order,
    scenario: Scenario,
    timing: str,
    policy: dict,
    now: datetime,
    rng: Random,
) -> Case:
    platform = Actor.platform(shop.platform)
    spec = get_case_spec(shop.platform, scenario.kind)
    reason = rng.choice(scenario.reasons)
    has_return = rng.random() < scenario.return_share
    # The steps after the request, as the platform reports them.
    steps: list[str] = []
    # The platform's steps of a return: the seller agreed (on the platform), the buyer
    # sent the goods back; each table names its action for these roles.
    send_back = spec.action_for(RETURN_SENT)
    if has_return:
        progress = weighted(rng, PROGRESS)
        if progress in ("agreed", "sent_back"):
            steps.append(spec.action_for(APPROVE))
        if progress == "sent_back":
            steps.append(send_back)
    withdrawn = not steps and rng.random() < WITHDRAWN_SHARE
    if withdrawn:
        steps.append(spec.action_for(WITHDRAW))
    final = spec.initial
    for action in steps:
        final = spec.plan(
            final, action, ActorKind.PLATFORM, has_return=has_return
        ).target
    times = _times(order, scenario, spec, final, timing, len(steps), policy, now, rng)

    lines, amount = _lines(order, scenario, rng)
    case, _ = services.open_case(
        order,
        scenario.kind,
        platform,
        platform_case_id=_case_id(shop.platform, scenario.kind, rng),
        reason=reason.text,
        description=reason.description,
        evidence=_photos(reason, rng),
        has_return=has_return,
        items=lines,
        amount=amount,
        now=times[0],
    )
    for action, at in zip(steps, times[1:], strict=True):
        carrier, tracking = (
            _return_parcel(shop, rng) if action == send_back else ("", "")
        )
        services.act(
            case,
            action,
            platform,
            reason=reason.text if withdrawn else "",
            return_carrier=carrier,
            return_tracking_number=tracking,
            now=at,
        )
    case.refresh_from_db()
    return case


def _times(
    order: Order,
    scenario: Scenario,
    spec,
    final: str,
    timing: str,
    steps: int,
    policy: dict,
    now: datetime,
    rng: Random,
) -> list[datetime]:
    """When the request was made and each later step happened: the last step sets the
    running deadline, ``timing`` says where that deadline falls against ``now``."""
    due = spec.status(final).due
    window = policy[due.policy] if due else D(3)
    if timing == "overdue":
        last = now - window - span(rng, timedelta(minutes=5), H(30))
    elif timing == "soon":
        last = now - window + span(rng, timedelta(minutes=20), H(6))
    else:
        last = now - span(rng, window * 0.05, window * 0.7)
    gaps = [span(rng, H(2), H(36)) for _ in range(steps)]
    after = getattr(order, scenario.after) or order.paid_at or order.created_at
    earliest = after + span(rng, timedelta(minutes=20), H(10))
    start = max(last - sum(gaps, timedelta()), earliest)
    start = min(start, now - 2 * MINUTE * (steps + 1))
    return [start, *timeline(start, gaps, now)]


def _lines(
    order: Order, scenario: Scenario, rng: Random
) -> tuple[list[dict[str, int]] | None, Decimal | None]:
    """Which lines the buyer asks about and how much: the whole order for a cancel or
    an unshipped refund, else usually one line (all or some of its units); the amount
    is the lines' (None) or, for a partial refund, part of it."""
    items = sorted(order.items.all(), key=lambda item: item.pk)
    if scenario.kind == CaseKind.CANCEL or scenario.after == "paid_at" or not items:
        return None, None
    if len(items) > 1 and rng.random() < 0.3:
        return None, None
    item = rng.choice(items)
    quantity = rng.randint(1, item.quantity) if item.quantity > 1 else 1
    lines = [{"item": item.pk, "quantity": quantity}]
    if rng.random() >= scenario.partial_share:
        return lines, None
    share = Decimal(rng.choice(("0.2", "0.3", "0.5")))
    amount = quantize(item.unit_price * quantity * share, order.currency)
    return lines, max(amount, Decimal("0.01"))


def _case_id(platform: str, kind: str, rng: Random) -> str:
    if platform == "tiktok":
        return digits(rng, 18, "57" if kind == CaseKind.CANCEL else "40")
    if platform == "taobao":
        return digits(rng, 17, "2")
    if kind == CaseKind.CANCEL:
        return ""  # AliExpress has no cancel object (the order is IN_CANCEL)
    return digits(rng, 16, "80")


def _photos(reason: Reason, rng: Random) -> list[dict[str, str]]:
    if not reason.photos:
        return []
    ref = digits(rng, 10)
    return [
        {"name": f"photo_{n}.jpg", "url": f"https://img.example.com/demo/evidence/{ref}_{n}.jpg"}
        for n in range(1, rng.randint(1, 3) + 1)
    ]  # fmt: skip


def _return_parcel(shop: Shop, rng: Random) -> tuple[str, str]:
    carriers = (
        RETURN_CARRIERS.get(f"{shop.platform}:{shop.market}")
        or RETURN_CARRIERS[shop.platform]
    )
    name, prefix, length = rng.choice(carriers)
    suffix = "GB" if prefix == "RR" else ""
    return name, prefix + digits(rng, length) + suffix
