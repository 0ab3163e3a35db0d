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
from orders.sandbox import simulator, simulators
from orders.sandbox.common import (
    CaseScenario,
    D,
    H,
    Reason,
    digits,
    quantize,
    span,
    timeline,
    weighted,
)
from orders.services import Actor, policy_for

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)


def scenarios_for(platform: str) -> tuple[CaseScenario, ...]:
    """The requests buyers make on this platform (its simulator's ``CASE_SCENARIOS``)."""
    sim = simulators().get(platform)
    return tuple(getattr(sim, "CASE_SCENARIOS", ())) if sim is not None else ()


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
    scenarios = scenarios_for(shop.platform)
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
    shops = [shop for shop in shops if scenarios_for(shop.platform)]
    rng = rng or Random()
    cases: list[Case] = []
    for index, shop in enumerate(shops):
        share = (count - len(cases)) // (len(shops) - index)
        cases += simulate_cases(shop, count=share, now=now, rng=rng)
    return cases


# --- one request ----------------------------------------------------------------------


def _order_pools(
    shop: Shop, scenarios: Sequence[CaseScenario], rng: Random
) -> dict[CaseScenario, list[Order]]:
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
    scenario: CaseScenario,
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
        platform_case_id=simulator(shop.platform).case_id(scenario.kind, rng),
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
    scenario: CaseScenario,
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
    order: Order, scenario: CaseScenario, rng: Random
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


def _photos(reason: Reason, rng: Random) -> list[dict[str, str]]:
    if not reason.photos:
        return []
    ref = digits(rng, 10)
    return [
        {"name": f"photo_{n}.jpg", "url": f"https://img.example.com/demo/evidence/{ref}_{n}.jpg"}
        for n in range(1, rng.randint(1, 3) + 1)
    ]  # fmt: skip


def _return_parcel(shop: Shop, rng: Random) -> tuple[str, str]:
    carriers = simulator(shop.platform).RETURN_CARRIERS
    carriers = carriers.get(shop.market) or carriers[""]
    name, prefix, length, *suffix = rng.choice(carriers)
    return name, prefix + digits(rng, length) + "".join(suffix)
