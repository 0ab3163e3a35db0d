"""Crash: ``kill -9`` the Celery worker (the whole worker on odd repetitions, only its
pool processes on even ones) during a deadline sweep, then the whole worker during webhook
deliveries, restart it, let the jobs run again (as beat would), then check that nothing
was lost and nothing doubled:

- every due order transitioned exactly once;
- every order event has exactly one delivery per matching subscription (none missing,
  none twice);
- every delivery that is sent arrived at the receiver at least once (repeats carry the
  same event id, so a receiver can de-duplicate); none is left due and unsent;
- no job run is left "running" by the killed worker.

An organisation of its own ("C") holds the orders and the subscription, so the other
areas' requests cannot change what is expected here.
"""

import random
import time
from datetime import timedelta

from soak.result import AreaResult

RECOVERY_SECONDS = {True: 30, False: 60}  # short, full: the jobs run every JOB_EVERY s
JOB_EVERY = 2.0


def _world_c(ctx):
    from soak import seed
    from tests.factories import OrganisationFactory, ShopFactory

    org = OrganisationFactory(name="Soak C", slug="soak-c")
    shop = ShopFactory(organisation=org, platform="tiktok", name="C tiktok")
    subscription = seed.fresh_subscription(org, ctx.stack.receiver.url)
    return org, shop, subscription


def _send_jobs(*names):
    from oms.celery import app

    for name in names:
        app.send_task("orders.run_job", args=[name])


def _beat():
    """What beat would send: every entry of the one schedule (new jobs included)."""
    from django.conf import settings

    from oms.celery import app

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        app.send_task(
            entry["task"], args=entry.get("args", ()), kwargs=entry.get("kwargs", {})
        )


def _due_orders(shop, count):
    from django.utils import timezone

    from soak import seed

    created = (timezone.now() - timedelta(days=3)).isoformat()
    return [
        seed.fresh_order(
            shop, "UNPAID", created_at=created, platform_updated_at=created
        )
        for _ in range(count)
    ]


def _expected_deliveries(org, order_ids) -> set:
    from integrations.models import WebhookSubscription
    from integrations.webhooks import event_id_for, webhook_types_for
    from orders.models import OrderEvent

    subscriptions = list(
        WebhookSubscription.objects.filter(organisation=org, is_active=True)
    )
    expected = set()
    for event in OrderEvent.objects.filter(order_id__in=order_ids).select_related(
        "order"
    ):
        for event_type, _ in webhook_types_for(event):
            for subscription in subscriptions:
                if event_type in subscription.events:
                    expected.add(
                        (subscription.pk, str(event_id_for(event.pk, event_type)))
                    )
    return expected


def _state(org, order_ids):
    from django.db.models import Count
    from django.utils import timezone

    from integrations.models import WebhookDelivery
    from orders.models import Order, OrderEvent

    closed = Order.objects.filter(pk__in=order_ids, stage="closed").count()
    changes = dict(
        OrderEvent.objects.filter(order_id__in=order_ids, type="status_changed")
        .values_list("order_id")
        .annotate(n=Count("id"))
        .values_list("order_id", "n")
    )
    expected = _expected_deliveries(org, order_ids)
    rows = list(
        WebhookDelivery.objects.filter(subscription__organisation=org).values_list(
            "subscription_id", "event_id", "status", "next_attempt_at"
        )
    )
    now = timezone.now()
    return {
        "closed": closed,
        "changes": changes,
        "expected": expected,
        "rows": [(s, str(e), st, at) for s, e, st, at in rows],
        "due_unsent": [r for r in rows if r[2] == "pending" and r[3] <= now],
    }


def _settled(state, count) -> bool:
    present = {(s, e) for s, e, _, _ in state["rows"]}
    return (
        state["closed"] == count
        and state["expected"] <= present
        and not state["due_unsent"]
    )


def _wait_for_job_start(since, timeout=30) -> bool:
    from orders.models import JobRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if JobRun.objects.filter(job="deadlines", started_at__gte=since).exists():
            return True
        time.sleep(0.02)
    return False


def _wait_for_arrivals(receiver, before, timeout=20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(receiver.event_ids()) > before:
            return True
        time.sleep(0.02)
    return False


def repetition(ctx, result, rng, org, shop, count, rep):
    from django.utils import timezone

    from orders.models import JobRun

    stack = ctx.stack
    receiver = stack.receiver
    label = f"repetition {rep} ({'whole worker' if rep % 2 else 'pool processes'})"
    orders = _due_orders(shop, count)
    order_ids = [o.pk for o in orders]
    receiver.delay = 0.05  # deliveries take a while: the kill lands among them
    started = timezone.now()
    _send_jobs("deadlines")
    if not _wait_for_job_start(started):
        result.fail(f"{label}: the deadline sweep never started")
    time.sleep(rng.uniform(0, 0.4))
    whole = rep % 2 == 1  # odd repetitions: the whole worker; even: its pool processes
    if whole:
        stack.kill9_worker()  # 1: during the sweep
    else:
        stack.kill9_worker_children()
    killed_at = timezone.now()
    arrived = len(receiver.event_ids())
    if whole:
        stack.start_worker()
    _send_jobs("deadlines", "webhooks")
    if _wait_for_arrivals(receiver, arrived):
        time.sleep(rng.uniform(0, 0.3))
        stack.kill9_worker()  # 2: during deliveries
        killed_at = timezone.now()
        stack.start_worker()
    receiver.delay = 0
    recovery = RECOVERY_SECONDS[ctx.short]
    deadline = time.monotonic() + recovery
    state = _state(org, order_ids)
    while time.monotonic() < deadline and not _settled(state, count):
        _beat()
        time.sleep(JOB_EVERY)
        state = _state(org, order_ids)

    twice = {pk: n for pk, n in state["changes"].items() if n != 1}
    result.check(
        state["closed"] == count and not twice and len(state["changes"]) == count,
        f"{label}: {state['closed']}/{count} due orders closed, "
        f"{count - len(state['changes'])} without a change, {len(twice)} changed twice",
        kind="due orders not transitioned exactly once",
    )
    present = [(s, e) for s, e, _, _ in state["rows"]]
    missing = state["expected"] - set(present)
    doubled = len(present) - len(set(present))
    result.check(
        not missing and not doubled,
        f"{label}: {len(missing)} of {len(state['expected'])} deliveries never created, "
        f"{doubled} created twice",
        kind="deliveries lost or doubled",
    )
    got = set(receiver.event_ids())
    sent = [e for _, e, status, _ in state["rows"] if status == "succeeded"]
    not_arrived = [e for e in sent if e not in got]
    result.check(
        not not_arrived and not state["due_unsent"],
        f"{label}: {len(not_arrived)} 'succeeded' deliveries never arrived, "
        f"{len(state['due_unsent'])} due and unsent after {recovery} s",
        kind="deliveries not sent",
    )
    running = JobRun.objects.filter(
        status="running", started_at__gte=started, started_at__lt=killed_at
    ).count()
    result.check(
        running == 0,
        f"{label}: {running} job run(s) killed with the worker still 'running'",
        kind="job runs left running",
    )


def run(ctx, result: AreaResult) -> AreaResult:
    org, shop, _ = _world_c(ctx)
    rng = random.Random(20261204)  # when to kill: varied, but the same every run
    count = ctx.size(30, 200)
    for rep in range(1, ctx.size(2, 50) + 1):
        repetition(ctx, result, rng, org, shop, count, rep)
    return result
