"""Races: 2, 10 and 50 conflicting requests at once on one thing.

Every request must come back (no deadlock: a timeout is a failure), none with a 5xx,
exactly one winner where the requests conflict, and the state after must agree with the
winners (one package per shipped order, one status change, distinct tracking numbers).
"""

import itertools
import threading
import uuid

import requests

from soak.result import AreaResult

TIMEOUT = 60
_numbers = itertools.count(50_000_000)


def burst(calls) -> list:
    """Run ``calls`` (no-argument functions) at once; each gives a response or an error."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def runner(i, call):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = call()
        except (requests.RequestException, threading.BrokenBarrierError) as exc:
            results[i] = exc

    threads = [
        threading.Thread(target=runner, args=(i, c), daemon=True)
        for i, c in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 10)
    return results


def statuses(results) -> list:
    return [
        r.status_code if hasattr(r, "status_code") else type(r).__name__
        for r in results
    ]


def tracking() -> str:
    return f"YD{next(_numbers)}"


def _judge(result, label, results, *, winners_expected, state_problem=None):
    codes = statuses(results)
    problems = []
    hung = [c for c in codes if not isinstance(c, int)]
    if hung:
        problems.append(f"{len(hung)} did not answer ({hung[0]})")
    if any(isinstance(c, int) and c >= 500 for c in codes):
        problems.append("server error")
    wins = sum(1 for c in codes if isinstance(c, int) and 200 <= c < 300)
    if winners_expected is not None and wins != winners_expected:
        problems.append(f"{wins} winners, expected {winners_expected}")
    if state_problem:
        problems.append(state_problem)
    summary = ",".join(sorted({str(c) for c in codes}))
    result.check(
        not problems,
        f"{label}: {'; '.join(problems)} (statuses {summary})",
        kind=f"{label.split(' x')[0]}: {'; '.join(problems)}",
    )


def cancel_vs_ship(ctx, result, n):
    from logistics.models import Package
    from orders.models import Order
    from soak import seed

    key = ctx.world.principal("key:all")
    order = seed.awaiting(ctx.world.shops["A3"])  # TikTok: a seller may cancel it
    calls = []
    for i in range(n):
        if i % 2:
            calls.append(
                lambda: key.request(
                    "POST",
                    f"/api/v1/orders/{order.pk}/cancel/",
                    json={"reason": "seller_cancel_reason_out_of_stock"},
                )
            )
        else:
            body = {"carrier": "YUNDA", "tracking_number": tracking()}
            calls.append(
                lambda body=body: key.request(
                    "POST", f"/api/v1/orders/{order.pk}/ship/", json=body
                )
            )
    results = burst(calls)
    order = Order.objects.get(pk=order.pk)
    live = ["created", "handed_over", "in_transit", "delivered", "failed"]
    packages = Package.objects.filter(order=order, status__in=live).count()
    codes = statuses(results)
    cancels = sum(
        1 for i, c in enumerate(codes) if i % 2 and isinstance(c, int) and c < 300
    )
    shipped = sum(
        1 for i, c in enumerate(codes) if not i % 2 and isinstance(c, int) and c < 300
    )
    problem = None
    if cancels > 1 or shipped > 1 or not cancels + shipped:
        problem = f"{cancels} cancels and {shipped} ships won"
    elif order.stage == "closed" and packages:
        problem = f"cancelled with {packages} live package(s)"
    elif order.stage != "closed" and packages != 1:
        problem = f"stage {order.stage} with {packages} packages"
    # Ship then cancel is a legal sequence on TikTok (cancel while awaiting collection):
    # one of each may win, but a cancelled order must not keep a live package (#13).
    _judge(
        result,
        f"cancel vs ship x{n}",
        results,
        winners_expected=None,
        state_problem=problem,
    )


def ships(ctx, result, n):
    from logistics.models import Package
    from soak import seed

    key = ctx.world.principal("key:all")
    order = seed.awaiting(ctx.world.shops["A1"])
    calls = [
        (
            lambda body=body: key.request(
                "POST", f"/api/v1/orders/{order.pk}/ship/", json=body
            )
        )
        for body in (
            {"carrier": "YUNDA", "tracking_number": tracking()} for _ in range(n)
        )
    ]
    results = burst(calls)
    count = Package.objects.filter(order=order).count()
    _judge(result, f"ship x{n}", results, winners_expected=1,
           state_problem=None if count == 1 else f"{count} packages")  # fmt: skip


def memo_if_match(ctx, result, n):
    from orders.models import Order, OrderEvent
    from soak import seed

    member = ctx.world.principal("operator")
    order = seed.awaiting(ctx.world.shops["A1"])
    version = Order.objects.get(pk=order.pk).version
    calls = [
        (lambda i=i: member.request("POST", f"/api/v1/orders/{order.pk}/memo/",
                                    json={"memo": f"writer {i}"}, headers={"If-Match": f'"{version}"'}))
        for i in range(n)
    ]  # fmt: skip
    results = burst(calls)
    events = OrderEvent.objects.filter(order=order, type="memo_changed").count()
    _judge(result, f"memo If-Match x{n}", results, winners_expected=1,
           state_problem=None if events == 1 else f"{events} memo events")  # fmt: skip


def batch_ship(ctx, result, n):
    from logistics.models import Package
    from soak import seed

    key = ctx.world.principal("key:all")
    orders = [seed.awaiting(ctx.world.shops["A1"]) for _ in range(5)]
    calls = []
    for _ in range(n):
        body = {"ids": [o.pk for o in orders], "carrier": "YUNDA",
                "tracking_numbers": [{"id": o.pk, "tracking_number": tracking()} for o in orders]}  # fmt: skip
        calls.append(
            lambda body=body: key.request(
                "POST", "/api/v1/orders/batch/ship/", json=body
            )
        )
    results = burst(calls)
    counts = [Package.objects.filter(order=o).count() for o in orders]
    _judge(result, f"batch ship x{n}", results, winners_expected=None,
           state_problem=None if counts == [1] * 5 else f"packages per order {counts}")  # fmt: skip


def case_decisions(ctx, result, n):
    from aftersales.models import Case, CaseEvent
    from soak import seed

    key = ctx.world.principal("key:all")
    case = seed.fresh_case(ctx.world.shops["A3"])  # a TikTok cancel request
    actions = ["agree", "reject"]
    calls = [
        (lambda a=actions[i % 2]: key.request(
            "POST", f"/api/v1/cases/{case.pk}/{a}/",
            json={"reason": "Out of stock"} if a == "reject" else {}))
        for i in range(n)
    ]  # fmt: skip
    results = burst(calls)
    case = Case.objects.get(pk=case.pk)
    decided = CaseEvent.objects.filter(case=case, action__in=actions).count()
    _judge(result, f"case agree vs reject x{n}", results, winners_expected=1,
           state_problem=None if decided == 1 else f"{decided} decisions recorded")  # fmt: skip


def pool_allocation(ctx, result, n):
    from logistics.models import Carrier, Package
    from logistics.services import pool_create_from_range
    from soak import seed

    key = ctx.world.principal("key:all")
    org = ctx.world.orgs["A"]
    prefix = f"P{uuid.uuid4().hex[:4].upper()}"
    size = max(n - 1, 1)
    pool_create_from_range(
        organisation=org, carrier=Carrier.objects.get(code="YUNDA"), prefix=prefix,
        start=1, end=size, width=6, price="0.80", currency="CNY", expires_at=None,
        name=f"soak {prefix}",
    )  # fmt: skip
    orders = [seed.awaiting(ctx.world.shops["A1"]) for _ in range(n)]
    calls = [
        (lambda o=o: key.request("POST", f"/api/v1/orders/{o.pk}/ship/",
                                 json={"carrier": "YUNDA", "allocate": True}))
        for o in orders
    ]  # fmt: skip
    results = burst(calls)
    numbers = list(
        Package.objects.filter(order__in=orders).values_list(
            "tracking_number", flat=True
        )
    )
    problem = None
    if len(numbers) != len(set(numbers)):
        problem = "a tracking number went to two packages"
    elif len(numbers) > size:
        problem = f"{len(numbers)} packages from a pool of {size}"
    # Other pools of the organisation may serve too: at least the pool's size must win.
    wins = sum(1 for c in statuses(results) if isinstance(c, int) and 200 <= c < 300)
    _judge(result, f"pool allocation x{n}", results,
           winners_expected=None if wins >= min(n, size) else -1, state_problem=problem)  # fmt: skip


RACES = [
    cancel_vs_ship,
    ships,
    memo_if_match,
    batch_ship,
    case_decisions,
    pool_allocation,
]


def run(ctx, result: AreaResult) -> AreaResult:
    sizes = (2, 10) if ctx.short else (2, 10, 50)
    rounds = 1 if ctx.short else 3
    for race in RACES:
        for n in sizes:
            for _ in range(rounds):
                try:
                    race(ctx, result, n)
                except Exception as exc:
                    result.fail(f"{race.__name__} x{n}: the probe failed: {exc!r}")
    return result
