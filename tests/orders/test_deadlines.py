"""Deadline jobs: each platform rule one minute before (nothing) and one minute after
(exactly the platform's effect, one timeline event, the notification)."""

import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from orders.choices import EventType, JobStatus, Role
from orders.deadlines import REASONS, process_due_deadlines, running_deadlines
from orders.jobs import run_job
from orders.models import JobRun, Notification, Order, Violation
from tests.conftest import requires_postgres, requires_redis
from tests.factories import MembershipFactory, ShopFactory, make_order, order_in
from tests.race import race

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)

# platform, market, status, deadline kind → status after, end reason, violation
RULES = [
    ("taobao", "", "WAIT_BUYER_PAY", "pay_by", "TRADE_CLOSED_BY_TAOBAO", "", ""),
    ("aliexpress", "", "PLACE_ORDER_SUCCESS", "pay_by", "FINISH", "buyer_pay_timeout", ""),
    ("tiktok", "MY", "UNPAID", "pay_by", "CANCELLED", "", ""),
    ("tiktok", "MY", "UNPAID", "pay_reminder_first", "UNPAID", "", ""),
    ("tiktok", "GB", "UNPAID", "pay_reminder_second", "UNPAID", "", ""),
    ("tiktok", "GB", "ON_HOLD", "hold_until", "AWAITING_SHIPMENT", "", ""),
    ("aliexpress", "", "RISK_CONTROL", "hold_until", "WAIT_SELLER_SEND_GOODS", "", ""),
    ("taobao", "", "WAIT_SELLER_SEND_GOODS", "ship_warning_early", "WAIT_SELLER_SEND_GOODS", "", ""),
    ("taobao", "", "WAIT_SELLER_SEND_GOODS", "ship_warning_late", "WAIT_SELLER_SEND_GOODS", "", ""),
    ("taobao", "", "WAIT_SELLER_SEND_GOODS", "ship_by", "WAIT_SELLER_SEND_GOODS", "", "late_shipment"),
    ("aliexpress", "", "WAIT_SELLER_SEND_GOODS", "ship_warning_early", "WAIT_SELLER_SEND_GOODS", "", ""),
    ("aliexpress", "", "WAIT_SELLER_SEND_GOODS", "ship_warning_late", "WAIT_SELLER_SEND_GOODS", "", ""),
    ("aliexpress", "", "WAIT_SELLER_SEND_GOODS", "ship_by", "FINISH", "seller_send_goods_timeout",
     "sold_not_shipped"),
    ("tiktok", "MY", "AWAITING_SHIPMENT", "ship_warning_early", "AWAITING_SHIPMENT", "", ""),
    ("tiktok", "MY", "AWAITING_SHIPMENT", "ship_warning_late", "AWAITING_SHIPMENT", "", ""),
    ("tiktok", "MY", "AWAITING_SHIPMENT", "ship_by", "CANCELLED", "", "late_dispatch"),
    ("tiktok", "GB", "AWAITING_COLLECTION", "ship_by", "CANCELLED", "", "late_dispatch"),
    ("aliexpress", "", "IN_CANCEL", "cancel_response_by", "FINISH", "buyer_cancel_order", ""),
    ("taobao", "", "WAIT_BUYER_CONFIRM_GOODS", "confirm_by", "TRADE_FINISHED", "", ""),
    ("aliexpress", "", "WAIT_BUYER_ACCEPT_GOODS", "confirm_by", "FUND_PROCESSING",
     "buyer_accept_goods_timeout", ""),
    ("tiktok", "MY", "DELIVERED", "complete_by", "COMPLETED", "", ""),
    ("aliexpress", "", "FUND_PROCESSING", "release_funds_by", "FINISH", "", ""),
]  # fmt: skip


def shop(platform, market):
    if platform == "tiktok" and market == "GB":
        return ShopFactory(
            platform="tiktok", market="GB", timezone="Europe/London", currency="GBP"
        )
    return ShopFactory(platform=platform)


def state(order):
    order = Order.objects.get(pk=order.pk)
    return (
        order.native_status,
        order.events.exclude(type=EventType.AFTERSALES).count(),
    )


@pytest.mark.parametrize(
    ("platform", "market", "status", "kind", "after", "end_reason", "violation"),
    RULES,
    ids=[f"{r[0]}{'-' + r[1] if r[1] else ''}-{r[2]}-{r[3]}" for r in RULES],
)
def test_each_rule_fires_exactly_at_its_deadline(
    platform,
    market,
    status,
    kind,
    after,
    end_reason,
    violation,
    django_capture_on_commit_callbacks,
):
    # given an order in the status, and the deadline its platform's rule computes
    with time_machine.travel(T0, tick=False):
        the_shop = shop(platform, market)
        MembershipFactory(
            organisation=the_shop.organisation,
            role=Role.OWNER,
            user__email="boss@example.com",
        )
        order = order_in(the_shop, status)
    due = order.deadlines.get(kind=kind).due_at

    # when the sweep runs one minute before it: this rule does nothing yet
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        process_due_deadlines()
    assert order.deadlines.get(kind=kind).state == "pending"
    assert Order.objects.get(pk=order.pk).native_status == status
    assert not Notification.objects.filter(kind=kind).exists()
    assert not Violation.objects.exists()
    _, events_before = state(order)

    # when it runs one minute after
    with (
        time_machine.travel(due + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = process_due_deadlines()

    # then exactly the platform's effect, one timeline event with the reason, a notification
    order.refresh_from_db()
    assert result.errors == []
    assert order.native_status == after
    if end_reason:
        assert order.end_reason == end_reason
    events = list(order.events.exclude(type=EventType.AFTERSALES).order_by("id"))
    assert len(events) == events_before + 1
    assert events[-1].reason == REASONS[kind]
    assert (events[-1].actor_kind, events[-1].actor_label) == ("system", "deadlines")
    assert order.deadlines.get(kind=kind).state == "expired"
    notification = Notification.objects.get(kind=kind)
    assert (notification.organisation_id, notification.order_id) == (
        order.organisation_id,
        order.pk,
    )
    assert list(Violation.objects.values_list("kind", "shop_id")) == (
        [(violation, order.shop_id)] if violation else []
    )
    if kind.startswith("ship_warning"):
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["boss@example.com"]
    else:
        assert mail.outbox == []

    # and a second run changes nothing more
    with time_machine.travel(due + timedelta(minutes=2), tick=False):
        again = process_due_deadlines()
    assert again.expired == 0
    assert state(order) == (after, events_before + 1)
    assert Notification.objects.filter(kind=kind).count() == 1


def test_auto_confirm_waits_while_a_refund_is_open():
    with time_machine.travel(T0, tick=False):
        order = make_order(ShopFactory(platform="taobao"), "WAIT_BUYER_CONFIRM_GOODS")
    Order.objects.filter(pk=order.pk).update(refund_open=True)
    from orders.services import Actor, apply_event

    # a change while the refund is open recomputes the deadlines: confirm_by pauses
    apply_event(order, "sign", Actor.platform("taobao"))
    order.refresh_from_db()
    assert order.native_status == "TRADE_BUYER_SIGNED"
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        assert process_due_deadlines().expired == 0
    order.refresh_from_db()
    assert order.native_status == "TRADE_BUYER_SIGNED"


def test_a_platform_deadline_is_the_one_enforced():
    with time_machine.travel(T0, tick=False):
        the_shop = ShopFactory(platform="tiktok")
        due = T0 + timedelta(hours=5)
        order = make_order(the_shop, "UNPAID", deadlines={"pay_by": due.isoformat()})
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        process_due_deadlines()
    assert Order.objects.get(pk=order.pk).native_status == "UNPAID"
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        process_due_deadlines()
    assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"


def test_running_deadlines_say_what_when_and_what_then():
    with time_machine.travel(T0, tick=False):
        order = make_order(ShopFactory(platform="tiktok"), "UNPAID")
    deadlines = running_deadlines(order)
    assert [d["kind"] for d in deadlines] == [
        "pay_reminder_first",
        "pay_reminder_second",
        "pay_by",
    ]
    pay_by = deadlines[-1]
    assert pay_by["due_at"] == order.created_at + timedelta(hours=48)
    assert pay_by["time_zone"] == "Asia/Kuala_Lumpur"
    assert pay_by["action"] == "auto_cancel"
    assert "auto_cancel" in pay_by["consequence"]
    assert order.next_deadline_at == pay_by["due_at"]


def overdue_unpaid(count):
    with time_machine.travel(T0, tick=False):
        the_shop = ShopFactory(platform="tiktok")
        return [make_order(the_shop, "UNPAID") for _ in range(count)]


def test_runjobs_runs_the_sweep_as_of_a_given_time_and_records_the_run():
    orders = overdue_unpaid(2)
    out = StringIO()
    call_command(
        "runjobs",
        "--job",
        "deadlines",
        "--now",
        (T0 + timedelta(days=3)).isoformat(),
        stdout=out,
    )
    assert "deadlines: succeeded" in out.getvalue()
    assert {
        o.native_status for o in Order.objects.filter(pk__in=[o.pk for o in orders])
    } == {"CANCELLED"}
    run = JobRun.objects.get()
    assert (run.job, run.status, run.as_of) == (
        "deadlines",
        JobStatus.SUCCEEDED,
        T0 + timedelta(days=3),
    )
    assert run.counts["applied"] == 2
    assert run.finished_at is not None


def test_a_sweep_failing_part_way_keeps_what_it_did_and_the_next_run_finishes(
    monkeypatch,
):
    # given five overdue orders, and a failure injected after the second
    orders = overdue_unpaid(5)
    import orders.deadlines as deadlines

    real_apply, done = deadlines.apply_event_to_locked, []

    def failing_apply(orders, *args, **kwargs):
        if len(done) + len(orders) > 2:
            raise RuntimeError("injected failure")
        done.extend(orders)
        return real_apply(orders, *args, **kwargs)

    monkeypatch.setattr(deadlines, "apply_event_to_locked", failing_apply)
    later = T0 + timedelta(days=3)

    # when the job runs
    run = run_job("deadlines", now=later)

    # then the first two are cancelled, the rest still due, and the run records the errors
    statuses = [Order.objects.get(pk=o.pk).native_status for o in orders]
    assert statuses.count("CANCELLED") == 2
    assert statuses.count("UNPAID") == 3
    assert run.status == JobStatus.FAILED
    assert len(run.errors) == 3
    assert "injected failure" in run.errors[0]["error"]
    assert (
        Notification.objects.filter(
            kind="job_failed:deadlines", level="critical"
        ).count()
        == 3
    )

    # when the next run has no failure, it finishes them
    monkeypatch.setattr(deadlines, "apply_event_to_locked", real_apply)
    run = run_job("deadlines", now=later)
    assert run.status == JobStatus.SUCCEEDED
    assert {Order.objects.get(pk=o.pk).native_status for o in orders} == {"CANCELLED"}
    for order in orders:  # cancelled exactly once, reminded exactly once each
        kinds = list(
            Order.objects.get(pk=order.pk).events.values_list("type", flat=True)
        )
        assert sorted(kinds) == [
            "created", "deadline_notice", "deadline_notice", "status_changed",
        ]  # fmt: skip


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_change_each_due_order_exactly_once():
    orders = overdue_unpaid(40)
    later = T0 + timedelta(days=3)
    results = race(
        lambda: process_due_deadlines(now=later, batch_size=7),
        lambda: process_due_deadlines(now=later, batch_size=7),
    )
    assert all(r.errors == [] for r in results), results
    assert sum(r.applied for r in results) == 40
    for order in orders:
        order.refresh_from_db()
        assert order.native_status == "CANCELLED"
        assert order.events.filter(type="status_changed").count() == 1
        assert order.events.filter(type="deadline_notice").count() == 2  # two reminders
    assert Notification.objects.filter(kind="pay_by").count() == 40


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_cancels_a_due_order_through_the_broker():
    from celery.contrib.testing.worker import start_worker

    from oms.celery import app
    from orders.tasks import run_job_task

    order = overdue_unpaid(1)[0]  # created 2026-11-02, 48 h pay window long gone
    app.control.purge()
    with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
        run_job_task.delay("deadlines")
        for _ in range(100):
            order.refresh_from_db()
            if order.native_status == "CANCELLED":
                break
            time.sleep(0.1)
    assert order.native_status == "CANCELLED"
    assert JobRun.objects.filter(job="deadlines", status=JobStatus.SUCCEEDED).exists()
