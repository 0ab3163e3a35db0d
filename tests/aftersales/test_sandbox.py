"""The after-sales simulator: realistic requests through the service, some overdue and
some due soon, returns on their way back, and seed_demo's after-sales inbox."""

import random
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from aftersales import sandbox
from aftersales.choices import CaseKind, CaseState
from aftersales.models import Case
from aftersales.platforms import case_specs
from aftersales.services import OPENABLE_STAGES
from orders.choices import ActorKind, Stage
from orders.jobs import run_job
from orders.machine import APPROVE, RETURN_SENT
from orders.models import Order, Organisation
from orders.platforms import get_spec, registry
from tests.factories import ShopFactory, make_order

NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
CJK = re.compile(r"[\u4e00-\u9fff]")
STAGE_TIMES = {
    Stage.AWAITING_SHIPMENT: ("paid_at",),
    Stage.SHIPPED: ("paid_at", "shipped_at"),
    Stage.DELIVERED: ("paid_at", "shipped_at", "delivered_at"),
}


def orders_for(shop, per_status: int = 6, age: timedelta = timedelta(days=30)):
    """Orders of ``shop`` in every status its scenarios ask on, placed ``age`` ago."""
    spec = get_spec(shop.platform)
    statuses = {
        c for s in sandbox.scenarios_for(shop.platform) for c in s.order_statuses
    }
    orders = []
    for status in sorted(statuses):
        stage = spec.status(status).stage
        for index in range(per_status):
            placed = NOW - age + timedelta(hours=index)
            times = {
                name: (placed + timedelta(hours=1 + 24 * step)).isoformat()
                for step, name in enumerate(STAGE_TIMES[stage])
            }
            when = {"created_at": placed.isoformat(), **times}
            orders.append(
                make_order(shop, status, platform_updated_at=placed.isoformat(), **when)
            )
    return orders


def test_every_platform_has_scenarios_the_machines_allow():
    for platform in registry():
        scenarios = sandbox.scenarios_for(platform)
        assert scenarios
        order_spec = get_spec(platform)
        for scenario in scenarios:
            spec = case_specs()[(platform, scenario.kind)]
            for status in scenario.order_statuses:
                assert order_spec.status(status).stage in OPENABLE_STAGES[scenario.kind]
            assert scenario.reasons
            if scenario.return_share:
                # the platform reports the seller's agreement, then the parcel
                agreed = spec.plan(spec.initial, spec.action_for(APPROVE),
                                   ActorKind.PLATFORM, has_return=True)  # fmt: skip
                sent = spec.plan(agreed.target, spec.action_for(RETURN_SENT),
                                 ActorKind.PLATFORM, has_return=True)  # fmt: skip
                assert spec.status(sent.target).task == "confirm_return"
            for reason in scenario.reasons:
                # Taobao speaks Chinese, the others English
                assert bool(CJK.search(reason.text)) == (platform == "taobao")
                assert bool(CJK.search(reason.description)) == (platform == "taobao")


@pytest.mark.django_db
@pytest.mark.parametrize("platform", sorted(registry()))
def test_simulated_requests_are_opened_by_the_platform_through_the_service(platform):
    shop = ShopFactory(platform=platform)
    orders = {o.pk: o for o in orders_for(shop)}

    cases = sandbox.simulate_cases(shop, count=12, now=NOW, rng=random.Random(7))

    assert len(cases) == 12
    assert len({c.order_id for c in cases}) == 12  # one request per order
    scenarios = sandbox.scenarios_for(platform)
    for case in cases:
        order = orders[case.order_id]
        scenario = next(
            s for s in scenarios
            if s.kind == case.kind and order.native_status in s.order_statuses
            and case.reason in {r.text for r in s.reasons}
        )  # fmt: skip
        # the request came after what it is about, and before now
        assert getattr(order, scenario.after) < case.opened_at < NOW
        assert 0 < case.amount <= order.total
        opened = case.events.order_by("id").first()
        assert (opened.action, opened.actor_kind) == ("open", ActorKind.PLATFORM)
        assert all(e.actor_kind == ActorKind.PLATFORM for e in case.events.all())
        assert case.order.events.filter(type="aftersales").exists()
        if case.is_open:
            assert case.due_at is not None
        if case.kind != CaseKind.CANCEL or platform != "aliexpress":
            assert case.platform_case_id
    ids = [(c.kind, c.platform_case_id) for c in cases if c.platform_case_id]
    assert len(set(ids)) == len(ids)
    # the shop has more than one kind of request
    assert len({c.kind for c in cases}) > 1


@pytest.mark.django_db
def test_some_requests_are_overdue_and_the_job_acts_on_them():
    shop = ShopFactory(platform="tiktok")
    orders_for(shop, per_status=8)
    cases = sandbox.simulate_cases(shop, count=20, now=NOW, rng=random.Random(3),
                                   overdue_share=0.4, due_soon_share=0.4)  # fmt: skip
    open_cases = [c for c in cases if c.is_open]
    overdue = [c for c in open_cases if c.due_at <= NOW]
    soon = [c for c in open_cases if NOW < c.due_at <= NOW + timedelta(hours=6)]
    assert overdue
    assert soon

    run = run_job("aftersales", now=NOW)

    assert run.counts["applied"] + run.counts["failed"] == len(overdue)
    for case in overdue:
        case.refresh_from_db()
        assert case.events.filter(actor_kind=ActorKind.SYSTEM).exists()
    for case in soon:
        before = case.version
        case.refresh_from_db()
        assert case.version == before


@pytest.mark.django_db
def test_returns_are_agreed_and_on_their_way_back():
    shop = ShopFactory(platform="taobao")
    orders_for(shop, per_status=12)
    cases = sandbox.simulate_cases(shop, count=24, now=NOW, rng=random.Random(11))
    statuses = {c.native_status for c in cases}
    assert {"WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS",
            "WAIT_SELLER_CONFIRM_GOODS"} <= statuses  # fmt: skip
    for case in cases:
        if case.native_status == "WAIT_SELLER_CONFIRM_GOODS":
            assert case.has_return
            assert case.return_carrier
            assert case.return_tracking_number
            actions = list(case.events.values_list("action", flat=True))
            assert actions == ["open", "agree", "buyer_return"]
            times = list(case.events.values_list("created_at", flat=True))
            assert times == sorted(times)
            assert case.status_changed_at == times[-1]


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_requests():
    shop = ShopFactory(platform="aliexpress")
    orders_for(shop)

    def run():
        with transaction.atomic():
            cases = sandbox.simulate_cases(shop, count=8, now=NOW,
                                           rng=random.Random(5))  # fmt: skip
            seen = [(c.order_id, c.kind, c.reason, c.native_status, c.amount,
                     c.opened_at) for c in cases]  # fmt: skip
            transaction.set_rollback(True)
        return seen

    first = run()
    assert not Case.objects.exists()
    assert run() == first


@pytest.mark.django_db
def test_a_shop_without_eligible_orders_gets_no_requests():
    shop = ShopFactory(platform="tiktok")
    make_order(shop, "UNPAID")
    make_order(shop, "COMPLETED")
    assert sandbox.simulate_cases(shop, count=5, now=NOW, rng=random.Random(1)) == []


@pytest.mark.django_db
def test_seed_demo_fills_the_after_sales_inbox():
    out = StringIO()
    call_command("seed_demo", orders=300, cases=24, seed=4, stdout=out)
    org = Organisation.objects.get(slug="demo")
    opened = int(re.search(r"After-sales requests opened: (\d+)", out.getvalue())[1])
    assert 12 <= opened <= 24
    # (orders the platform sent already in a cancel request or dispute have theirs too)
    cases = Case.objects.filter(organisation=org)
    assert cases.count() >= opened
    assert cases.filter(state=CaseState.OPEN).exists()
    assert len(set(cases.values_list("shop", flat=True))) == 4
    # reset removes the orders and their cases, and seeds again
    call_command("seed_demo", reset=True, orders=40, cases=0, stdout=StringIO())
    assert not Case.objects.filter(organisation=org).exists()
    assert Order.objects.filter(organisation=org).count() == 40
