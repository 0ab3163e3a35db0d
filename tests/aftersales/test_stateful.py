"""An order and its after-sales cases together, driven by random steps (hypothesis).

Steps: the platform opens cases of its kinds (random lines, amounts, return or not);
anyone (seller, API client, platform, system) tries any case action; anyone tries any
order action (ship, collect, deliver, confirm, cancel, time-outs …); time passes and the
``aftersales`` or ``deadlines`` job runs. Refused steps change nothing. After every step:

- a closed order has no open case;
- a shipped order never had an approved cancel (and an approved cancel closed the order);
- the refunded total never exceeds the paid amount;
- every case is in a declared status of its machine, open exactly when that status is,
  with one timeline entry per version; at most one open cancel request;
- the order's case overlays are up exactly while such a case is open.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.models import Case
from aftersales.platforms import case_specs, kinds_for
from oms.core.errors import OmsError
from orders.choices import ActorKind, Stage
from orders.jobs import run_job
from orders.models import Order
from orders.platforms import get_spec
from orders.services import apply_event
from tests.aftersales.helpers import actor_of, snapshot
from tests.factories import ShopFactory, order_in

STATEFUL = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SHIPPED_STAGES = {Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED}


def order_row(order_id: int) -> dict:
    row = Order.objects.filter(pk=order_id).values().get()
    row.pop("updated_at")
    return row


def machine_for(platform: str):
    order_spec = get_spec(platform)
    kinds = kinds_for(platform)
    specs = {kind: case_specs()[(platform, kind)] for kind in kinds}
    case_actions = sorted({t.action for s in specs.values() for t in s.transitions})
    terminal = {s.code for s in order_spec.statuses if s.terminal}
    # Orders that are paid and not over: where after-sales happens.
    starts = [
        s.code
        for s in order_spec.statuses
        if not s.terminal and s.stage not in (None, Stage.UNPAID)
    ]

    class OrderAndCases(RuleBasedStateMachine):
        @initialize(start=st.sampled_from(starts))
        def create(self, start):
            self.shop = ShopFactory(platform=platform)
            self.actors = {kind: actor_of(kind, self.shop) for kind in ActorKind}
            self.order = order_in(self.shop, start)
            self.clock = timezone.now()
            self.ever_shipped = False
            self.note_shipping()

        def note_shipping(self):
            order = Order.objects.get(pk=self.order.pk)
            if order.shipped_at is not None or order.stage in SHIPPED_STAGES:
                self.ever_shipped = True

        def tick(self, minutes: int = 1):
            self.clock += timedelta(minutes=minutes)

        # --- steps ----------------------------------------------------------------

        @rule(
            kind=st.sampled_from(kinds),
            units=st.sampled_from([1, 1, 2, None]),
            amount=st.sampled_from([None, "0.50", "20.00", "20.00", "99.80", "500.00"]),
            has_return=st.sampled_from([None, True, False]),
            opened_in=st.booleans(),
        )
        def platform_opens_a_case(self, kind, units, amount, has_return, opened_in):
            """The platform reports a buyer's request (first status, or a later open
            one when it was synced late)."""
            self.tick()
            spec = specs[kind]
            open_codes = [s.code for s in spec.statuses if s.is_open]
            status = open_codes[-1] if opened_in else spec.initial
            line = self.order.items.first()
            items = None if units is None else [{"item": line.pk, "quantity": units}]
            before_cases = Case.objects.filter(order=self.order).count()
            before = order_row(self.order.pk)
            try:
                services.open_case(
                    self.order.pk, kind, self.actors[ActorKind.PLATFORM],
                    status=status, items=items, amount=amount,
                    has_return=has_return, reason="test", now=self.clock,
                )  # fmt: skip
                event(f"opened {kind}")
            except OmsError:
                assert Case.objects.filter(order=self.order).count() == before_cases
                assert order_row(self.order.pk) == before

        @rule(
            action=st.sampled_from(case_actions),
            actor=st.sampled_from(list(ActorKind)),
            pick=st.integers(min_value=0, max_value=11),
            declared=st.booleans(),
            with_reason=st.booleans(),
            amount=st.sampled_from([None, None, "1.00", "500.00"]),
        )
        def someone_acts_on_a_case(
            self, action, actor, pick, declared, with_reason, amount
        ):
            """Any action by anyone; half the time one an open case's status declares."""
            cases = list(Case.objects.filter(order=self.order).order_by("id"))
            if declared:
                cases = [c for c in cases if c.is_open] or cases
            if not cases:
                return
            self.tick()
            case = cases[pick % len(cases)]
            steps = specs[case.kind].transitions_from(case.native_status)
            if declared and steps:
                step = steps[pick % len(steps)]
                action = step.action
                actor = sorted(step.actors)[pick % len(step.actors)]
            before = snapshot(case)
            if actor != ActorKind.PLATFORM:
                amount = None  # only the platform reports what it refunded
            try:
                services.act(
                    case, action, self.actors[actor],
                    reason="test reason" if with_reason else "",
                    amount=amount, now=self.clock,
                )  # fmt: skip
                event(f"case {action} by {actor}")
            except OmsError:
                assert snapshot(case) == before

        @rule(
            action=st.sampled_from(order_spec.actions()),
            actor=st.sampled_from(list(ActorKind)),
            pick=st.integers(min_value=0, max_value=11),
            declared=st.booleans(),
        )
        def someone_acts_on_the_order(self, action, actor, pick, declared):
            """Any order action by anyone; half the time one the status declares."""
            self.tick()
            before = order_row(self.order.pk)
            cases_before = list(
                Case.objects.filter(order=self.order).values_list("id", "version")
            )
            steps = order_spec.transitions_from(before["native_status"])
            # (declared steps that end the order are left to the random half, so the
            # order lives long enough for its cases to matter)
            going_on = [t for t in steps if t.target not in terminal]
            if declared and going_on:
                step = going_on[pick % len(going_on)]
                action = step.action
                actor = sorted(step.actors)[pick % len(step.actors)]
            candidates = [t for t in steps if t.action == action]
            reasons = candidates[0].reasons if candidates else ()
            try:
                apply_event(
                    self.order.pk, action, self.actors[actor],
                    reason=reasons[0] if reasons else "test", now=self.clock,
                )  # fmt: skip
                event(f"order {action}")
            except OmsError:
                assert order_row(self.order.pk) == before
                assert (
                    list(
                        Case.objects.filter(order=self.order).values_list(
                            "id", "version"
                        )
                    )
                    == cases_before
                )
            self.note_shipping()

        @rule(
            job=st.sampled_from(["aftersales", "deadlines"]),
            hours=st.sampled_from([1, 25, 49, 24 * 6, 24 * 11]),
        )
        def time_passes(self, job, hours):
            self.tick(hours * 60)
            run = run_job(job, now=self.clock)
            if run.counts.get("applied"):
                event(f"{job} job applied")
            self.note_shipping()

        # --- invariants -------------------------------------------------------------

        @invariant()
        def a_closed_order_has_no_open_case(self):
            if not hasattr(self, "order"):
                return
            order = Order.objects.get(pk=self.order.pk)
            if order.stage == Stage.CLOSED:
                assert not Case.objects.filter(
                    order=order, state=CaseState.OPEN
                ).exists()

        @invariant()
        def a_shipped_order_never_had_an_approved_cancel(self):
            if not hasattr(self, "order"):
                return
            approved = Case.objects.filter(
                order=self.order, kind=CaseKind.CANCEL, outcome=Outcome.APPROVED
            ).exists()
            if self.ever_shipped:
                assert not approved
            if approved:
                assert Order.objects.get(pk=self.order.pk).stage == Stage.CLOSED

        @invariant()
        def refunds_never_exceed_the_paid_amount(self):
            if not hasattr(self, "order"):
                return
            order = Order.objects.get(pk=self.order.pk)
            refunded = Case.objects.filter(order=order).aggregate(
                total=Sum("refunded_amount")
            )["total"] or Decimal(0)
            assert refunded <= services.paid_amount(order)

        @invariant()
        def cases_follow_their_machines(self):
            if not hasattr(self, "order"):
                return
            order = Order.objects.get(pk=self.order.pk)
            open_kinds = set()
            open_cancels = 0
            for case in Case.objects.filter(order=order):
                spec = specs[case.kind]
                status = spec.status(case.native_status)
                if case.state == CaseState.OPEN:
                    assert status.is_open
                    assert case.task == status.task
                    assert case.outcome == ""
                    open_kinds.add(case.kind)
                    open_cancels += case.kind == CaseKind.CANCEL
                else:
                    assert case.state == CaseState.CLOSED
                    assert case.outcome
                    assert case.due_at is None
                assert case.events.count() == case.version
            assert open_cancels <= 1
            managed = order_spec.managed_overlays
            for overlay, overlay_kinds in services.OVERLAY_KINDS.items():
                if overlay not in managed:
                    assert getattr(order, overlay) == bool(open_kinds & overlay_kinds)

    OrderAndCases.__name__ = f"OrderAndCases_{platform}"
    return OrderAndCases


@pytest.mark.django_db
@pytest.mark.parametrize("platform", ["taobao", "aliexpress", "tiktok"])
def test_random_order_and_case_steps_keep_the_invariants(platform):
    run_state_machine_as_test(machine_for(platform), settings=STATEFUL)
