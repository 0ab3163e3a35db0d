"""Outbound webhooks survive a worker that dies (issue 11, failure 5).

A crash after the commit is simulated honestly: in these tests the transaction commits
(from the code's point of view) but the ``on_commit`` callbacks never run, exactly what
``kill -9`` between the two does. The relay job then creates the deliveries, once.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations import webhooks
from integrations.models import WebhookDelivery
from orders import effects
from orders.choices import DeadlineKind, EventType, JobStatus
from orders.deadlines import process_due_deadlines
from orders.jobs import JOBS, run_job
from orders.models import JobRun, Order, OrderEvent, OutboxEntry
from tests.conftest import requires_postgres
from tests.factories import ShopFactory, make_order
from tests.race import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    from integrations.tasks import deliver_webhook_task

    ids: list[int] = []
    monkeypatch.setattr(deliver_webhook_task, "delay", ids.append)
    return ids


@pytest.fixture
def shop(db):
    return ShopFactory(platform="taobao")


def subscribe(organisation, events=webhooks.EVENT_TYPES):
    return webhooks.create_subscription(
        organisation=organisation,
        url="https://erp.example.com/hooks",
        events=list(events),
    )


def unpaid_orders(shop, count):
    orders = [make_order(shop, "WAIT_BUYER_PAY") for _ in range(count)]
    due = max(o.deadlines.get(kind=DeadlineKind.PAY_BY).due_at for o in orders)
    return orders, due + timedelta(seconds=1)


def status_changes(orders):
    return OrderEvent.objects.filter(
        order__in=orders, type=EventType.STATUS_CHANGED
    ).order_by("id")


def test_a_sweep_whose_callbacks_never_ran_is_delivered_by_the_relay_once(
    shop, enqueued
):
    """The probe's loss: auto-cancelled orders, no ``order.status_changed`` delivery."""
    first = subscribe(shop.organisation, [webhooks.ORDER_STATUS_CHANGED])
    second = subscribe(shop.organisation)
    orders, after_due = unpaid_orders(shop, 5)

    process_due_deadlines(now=after_due)  # commits; the worker "dies" before on_commit

    assert (
        Order.objects.filter(pk__in=[o.pk for o in orders])
        .filter(native_status="TRADE_CLOSED_BY_TAOBAO")
        .count()
        == 5
    )
    events = list(status_changes(orders))
    assert len(events) == 5
    assert (
        WebhookDelivery.objects.filter(event_type="order.status_changed").count() == 0
    )

    run = run_job("outbox")
    assert run.status == JobStatus.SUCCEEDED, run.errors
    again = run_job("outbox")  # a second relay finds nothing left
    assert again.counts["relayed"] == 0

    delivered = WebhookDelivery.objects.filter(event_type="order.status_changed")
    assert sorted(delivered.values_list("subscription_id", "event_id")) == sorted(
        (subscription.pk, webhooks.event_id_for(event.pk, "order.status_changed"))
        for event in events
        for subscription in (first, second)
    )
    # The order.created events of make_order were relayed too (to the second only).
    assert WebhookDelivery.objects.filter(event_type="order.created").count() == 5
    assert OutboxEntry.objects.count() == 0
    # A relay running the same events again (a handler re-run) adds nothing.
    webhooks.on_order_events([event.pk for event in events])
    assert delivered.count() == 10


def test_the_outbox_row_is_written_with_the_change_and_rolled_back_with_it(shop):
    subscribe(shop.organisation)
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    entries = OutboxEntry.objects.count()
    assert entries == 1  # the created event, in the ingest's transaction
    from orders.services import Actor, apply_event

    inside: list[int] = []

    def ship_then_fail():
        with transaction.atomic():
            apply_event(order.pk, "ship", Actor.platform("taobao"))
            inside.append(OutboxEntry.objects.count())
            raise RuntimeError("the caller fails after the change")

    with pytest.raises(RuntimeError):
        ship_then_fail()
    assert inside == [entries + 1]
    assert OutboxEntry.objects.count() == entries
    run_job("outbox")
    assert [d.event_type for d in WebhookDelivery.objects.all()] == ["order.created"]


def test_one_insert_per_transaction_for_a_whole_sweep_batch(shop):
    orders, after_due = unpaid_orders(shop, 20)
    OutboxEntry.objects.all().delete()
    process_due_deadlines(now=after_due)
    (entry,) = OutboxEntry.objects.all()
    assert sorted(entry.data["event_ids"]) == sorted(
        OrderEvent.objects.filter(
            order__in=orders, created_at__gte=after_due - timedelta(seconds=1)
        ).values_list("pk", flat=True)
    )


def test_after_sales_webhooks_are_durable_too(enqueued):
    from aftersales.services import open_case
    from orders.services import Actor

    shop = ShopFactory(platform="tiktok")
    subscription = subscribe(shop.organisation, [webhooks.AFTERSALES_OPENED])
    order = make_order(shop, "AWAITING_SHIPMENT")
    case, created = open_case(
        order,
        "cancel",
        Actor.platform("tiktok"),
        platform_case_id="C-1",
        reason="changed_mind",
    )
    assert created
    assert WebhookDelivery.objects.count() == 0  # on_commit never ran
    run_job("outbox")
    run_job("outbox")
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.subscription == subscription
    assert delivery.event_type == "aftersales.opened"
    assert delivery.payload["data"]["case"]["id"] == case.pk
    assert delivery.payload["id"] == str(delivery.event_id)


def test_the_fast_path_still_delivers_at_once_and_leaves_nothing_behind(
    shop, enqueued, django_capture_on_commit_callbacks
):
    subscribe(shop.organisation, [webhooks.ORDER_CREATED])
    with django_capture_on_commit_callbacks(execute=True):
        make_order(shop, "WAIT_SELLER_SEND_GOODS")
    (delivery,) = WebhookDelivery.objects.all()
    assert enqueued == [delivery.pk]
    assert OutboxEntry.objects.count() == 0
    run_job("outbox")
    assert WebhookDelivery.objects.count() == 1


def test_a_failing_handler_keeps_its_entry_for_later_and_does_not_block_others(
    shop, enqueued, monkeypatch
):
    subscribe(shop.organisation, [webhooks.ORDER_CREATED])
    make_order(shop, "WAIT_SELLER_SEND_GOODS")
    poisoned = OutboxEntry.objects.create(
        topic=effects.ORDER_EVENTS, data={"event_ids": "not a list"}
    )
    make_order(shop, "WAIT_SELLER_SEND_GOODS")
    now = timezone.now()
    counts, errors = effects.relay(now)
    assert counts == {"relayed": 2, "failed": 1}
    assert [e["outbox_entry"] for e in errors] == [poisoned.pk]
    assert WebhookDelivery.objects.count() == 2
    poisoned.refresh_from_db()
    assert poisoned.attempts == 1
    assert poisoned.last_error
    assert poisoned.available_at > now  # retried later, on a back-off
    assert counts_after(now) == {"relayed": 0, "failed": 0}  # not due again yet


def counts_after(now):
    return effects.relay(now)[0]


def test_operators_see_stuck_entries_in_the_admin(shop, admin_client):
    make_order(shop, "WAIT_SELLER_SEND_GOODS")
    entry = OutboxEntry.objects.get()
    assert admin_client.get("/admin/orders/outboxentry/").status_code == 200
    page = admin_client.get(f"/admin/orders/outboxentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert b"order_events" in page.content


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_create_each_delivery_exactly_once(enqueued, monkeypatch):
    monkeypatch.setattr(effects, "_nudge", lambda entry_ids: None)  # a dead worker
    shop = ShopFactory(platform="taobao")
    subscribe(shop.organisation)
    subscribe(shop.organisation, [webhooks.ORDER_STATUS_CHANGED])
    _, after_due = unpaid_orders(shop, 30)
    process_due_deadlines(now=after_due, batch_size=7)
    assert OutboxEntry.objects.count() > 5
    assert WebhookDelivery.objects.count() == 0

    results = race(*[lambda: effects.relay(timezone.now(), batch_size=3)] * 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    results.append(effects.relay(timezone.now()))
    assert sum(counts["relayed"] for counts, _ in results) > 0
    assert OutboxEntry.objects.count() == 0
    pairs = list(
        WebhookDelivery.objects.values_list("subscription_id", "event_id", "event_type")
    )
    assert len(pairs) == len(set(pairs))
    # 30 created (first subscription) + 30 status changes x 2 subscriptions
    assert len([p for p in pairs if p[2] == "order.created"]) == 30
    assert len([p for p in pairs if p[2] == "order.status_changed"]) == 60


# --- job runs whose worker died ----------------------------------------------------------


def test_a_run_left_running_past_its_lease_is_marked_abandoned(shop):
    now = timezone.now()
    lease = timedelta(seconds=settings.OMS_JOB_RUN_LEASE_SECONDS)
    dead = JobRun.objects.create(
        job="deadlines",
        as_of=now - lease,
        started_at=now - lease - timedelta(minutes=1),
    )
    live = JobRun.objects.create(
        job="deadlines", as_of=now, started_at=now - timedelta(minutes=1)
    )
    run = run_job("deadlines")  # a new run is not blocked by the dead one
    assert run.status == JobStatus.SUCCEEDED
    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.status == JobStatus.ABANDONED
    assert dead.finished_at is not None
    assert "stopped" in dead.errors[0]["error"]
    assert live.status == JobStatus.RUNNING


def test_a_run_whose_process_died_is_marked_abandoned_at_once(shop):
    """A worker killed with kill -9 and restarted: its run is marked by the next run."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    now = timezone.now()
    dead = JobRun.objects.create(
        job="deadlines", as_of=now, started_at=now, worker=f"{host}:{gone.pid}"
    )
    alive = JobRun.objects.create(
        job="deadlines", as_of=now, started_at=now, worker=f"{host}:{os.getpid()}"
    )
    elsewhere = JobRun.objects.create(
        job="deadlines", as_of=now, started_at=now, worker=f"other-{host}:{gone.pid}"
    )
    run = run_job("deadlines")
    assert run.status == JobStatus.SUCCEEDED
    assert run.worker == f"{host}:{os.getpid()}"
    statuses = {
        r.pk: r.status
        for r in JobRun.objects.filter(pk__in=[dead.pk, alive.pk, elsewhere.pk])
    }
    assert statuses == {
        dead.pk: JobStatus.ABANDONED,
        alive.pk: JobStatus.RUNNING,
        elsewhere.pk: JobStatus.RUNNING,  # another host: only its lease tells
    }


def test_the_relay_is_scheduled_and_a_job():
    assert "outbox" in JOBS
    schedule = settings.CELERY_BEAT_SCHEDULE["outbox"]
    assert schedule["task"] == "orders.relay_outbox"
    assert schedule["schedule"] <= 10


# --- a real worker killed with SIGKILL mid-sweep ------------------------------------------

WORKER = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from django.db import transaction
    from integrations.tasks import deliver_webhook_task
    from oms.core.timeutils import parse_iso
    from orders import deadlines
    from orders.jobs import JOBS, run_job

    deliver_webhook_task.delay = lambda delivery_id: None  # no broker traffic
    real = deadlines._expire_batch
    batches = {"n": 0}

    def expire_batch(*args, **kwargs):
        batches["n"] += 1
        if batches["n"] == 2:
            # Registered first, so it runs first: the second batch commits, then the
            # worker dies before any other after-commit callback.
            transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
        return real(*args, **kwargs)

    def sweep(now):
        result = deadlines.process_due_deadlines(now=now, batch_size=50)
        return result.counts(), result.errors

    deadlines._expire_batch = expire_batch
    JOBS["deadlines"] = sweep
    run_job("deadlines", now=parse_iso(sys.argv[1], field="now"))
    """
)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_sigkill_during_a_sweep_loses_no_webhook_and_marks_the_run(settings):
    shop = ShopFactory(platform="taobao")
    subscribe(shop.organisation, [webhooks.ORDER_STATUS_CHANGED])
    orders, after_due = unpaid_orders(shop, 120)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oms.settings.test",
        "TEST_DATABASE_URL": _database_url(),
    }
    worker = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WORKER, after_due.isoformat()],
        env=env,
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        timeout=120,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    (run,) = JobRun.objects.filter(job="deadlines")
    assert run.status == JobStatus.RUNNING  # the record the dead worker left
    cancelled = Order.objects.filter(
        pk__in=[o.pk for o in orders], native_status="TRADE_CLOSED_BY_TAOBAO"
    ).count()
    assert cancelled == 100  # two batches of 50 committed
    # The first batch's deliveries came from the fast path; the second's were lost
    # with the worker (the probe's failure) until the relay runs.
    assert WebhookDelivery.objects.count() == 50

    assert effects.relay(timezone.now())[1] == []
    effects.relay(timezone.now())
    events = status_changes(orders)
    assert sorted(WebhookDelivery.objects.values_list("event_id", flat=True)) == sorted(
        webhooks.event_id_for(event.pk, "order.status_changed") for event in events
    )
    assert WebhookDelivery.objects.count() == 100

    settings.OMS_JOB_RUN_LEASE_SECONDS = 0
    rerun = run_job("deadlines", now=after_due)
    run.refresh_from_db()
    assert run.status == JobStatus.ABANDONED
    assert rerun.status == JobStatus.SUCCEEDED
    effects.relay(timezone.now())
    assert WebhookDelivery.objects.count() == 120


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
