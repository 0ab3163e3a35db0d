"""Random event sequences against each platform machine (hypothesis stateful testing).

After every step: the order is in a declared status; its stage is the mapping of its
native status; every applied change left exactly one timeline event; refused events
changed nothing; the running deadlines are exactly those the status declares.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from oms.core.errors import InvalidTransition
from orders.choices import ActorKind, EventType, Role
from orders.ingest import ingest_order
from orders.machine import deadlines_for
from orders.models import Order
from orders.platforms import get_spec
from orders.services import Actor, apply_event, policy_for
from tests.factories import MembershipFactory, ShopFactory, order_in, order_payload

STATEFUL = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def machine_for(platform: str, market: str = ""):
    spec = get_spec(platform)

    class OrderMachine(RuleBasedStateMachine):
        @initialize(
            start=st.sampled_from([s.code for s in spec.statuses if not s.terminal])
        )
        def create(self, start):
            extra = {"market": market} if market else {}
            self.shop = ShopFactory(platform=platform, **extra)
            self.member = Actor.member(
                MembershipFactory(organisation=self.shop.organisation, role=Role.OWNER)
            )
            self.order = order_in(self.shop, start)
            self.expected_events = order_in_events = self.order.events.exclude(
                type=EventType.AFTERSALES
            ).count()
            assert order_in_events in (1, 2)
            self.clock = timezone.now()

        def actor(self, kind):
            if kind == ActorKind.MEMBER:
                return self.member
            if kind == ActorKind.API_CLIENT:
                return Actor.api_client(
                    "erp", organisation_id=self.shop.organisation_id
                )
            if kind == ActorKind.PLATFORM:
                return Actor.platform(platform)
            return Actor.system("stateful")

        @rule(
            action=st.sampled_from(spec.actions()),
            kind=st.sampled_from(list(ActorKind)),
            forbid=st.booleans(),
        )
        def apply(self, action, kind, forbid):
            before = Order.objects.get(pk=self.order.pk)
            candidates = [
                t
                for t in spec.transitions_from(before.native_status)
                if t.action == action
            ]
            reason = (
                candidates[0].reasons[0] if candidates and candidates[0].reasons else ""
            )
            try:
                apply_event(
                    before.pk,
                    action,
                    self.actor(kind),
                    reason=reason,
                    forbid_consign=forbid,
                )
            except InvalidTransition:
                after = Order.objects.get(pk=self.order.pk)
                assert (after.native_status, after.version) == (
                    before.native_status,
                    before.version,
                )
                return
            self.expected_events += 1

        @rule(status=st.sampled_from(spec.codes), older=st.booleans())
        def platform_reports(self, status, older):
            """The platform sends a snapshot: newer ones may move the order, older never do."""
            before = Order.objects.get(pk=self.order.pk)
            self.clock += timedelta(minutes=1)
            when = (
                before.platform_updated_at - timedelta(minutes=5)
                if older
                else self.clock
            )
            payload = order_payload(
                self.shop,
                status,
                platform_order_id=before.platform_order_id,
                platform_updated_at=when.isoformat(),
                created_at=before.created_at.isoformat(),
            )
            result = ingest_order(shop=self.shop, payload=payload)
            if older:
                assert result.outcome == "stale"
                after = Order.objects.get(pk=self.order.pk)
                assert (after.native_status, after.version) == (
                    before.native_status,
                    before.version,
                )
            self.expected_events += len(result.event_ids)

        @invariant()
        def consistent(self):
            if not hasattr(self, "order"):
                return
            order = Order.objects.get(pk=self.order.pk)
            assert order.native_status in spec.codes
            assert order.stage == spec.stage_of(
                order.native_status,
                end_reason=order.end_reason,
                resume_status=order.resume_status,
            )
            assert (
                order.events.exclude(type=EventType.AFTERSALES).count()
                == self.expected_events
            )
            pending = set(
                order.deadlines.filter(state="pending").values_list("kind", flat=True)
            )
            assert pending == set(deadlines_for(spec, order, policy_for(self.shop), {}))

    return OrderMachine


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "market"),
    [("taobao", ""), ("aliexpress", ""), ("tiktok", "GB"), ("tiktok", "MY")],
)
def test_random_event_sequences_keep_the_invariants(platform, market):
    run_state_machine_as_test(machine_for(platform, market), settings=STATEFUL)
