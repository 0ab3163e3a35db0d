"""Every platform machine: sound tables, every declared transition walked, illegal events refused."""

import pytest
from django.conf import settings

from oms.core.errors import InvalidTransition
from orders import guards as g
from orders.choices import ActorKind, EventType
from orders.machine import RESUME, deadlines_for, validate_spec
from orders.models import Order
from orders.platforms import get_spec, registry
from orders.services import apply_event, policy_for
from tests.factories import ShopFactory, actor_for, order_in

PLATFORMS = sorted(registry())


def snapshot(order: Order) -> dict:
    order = Order.objects.get(pk=order.pk)
    return {
        "status": order.native_status,
        "stage": order.stage,
        "version": order.version,
        # The order's own events (an after-sales case the platform's status opens or
        # closes writes its own, tested in tests/aftersales).
        "events": order.events.exclude(type=EventType.AFTERSALES).count(),
        "deadlines": sorted(order.deadlines.values_list("kind", "state", "due_at")),
        "overlays": order.overlays,
    }


def shop_for(platform: str, transition=None):
    """TikTok's pay goes to ON_HOLD only in markets with a hold window (GB)."""
    if (
        platform == "tiktok"
        and transition
        and g.hold_window_applies in transition.guards
    ):
        return ShopFactory(
            platform="tiktok", market="GB", timezone="Europe/London", currency="GBP"
        )
    return ShopFactory(platform=platform)


def walk_cases():
    for platform in PLATFORMS:
        spec = get_spec(platform)
        for index, transition in enumerate(spec.transitions):
            for source in sorted(transition.sources):
                yield pytest.param(
                    platform,
                    index,
                    source,
                    id=f"{platform}-{transition.action}-{source}-{index}",
                )


def test_registry_lists_every_platform_module():
    assert set(registry()) == {"taobao", "aliexpress", "tiktok"}
    assert len(settings.OMS_PLATFORMS) == len(registry())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_platform_table_is_sound(platform):
    assert validate_spec(get_spec(platform)) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_broken_table_is_reported(platform):
    spec = get_spec(platform)
    broken = type(spec)(
        code=spec.code,
        label=spec.label,
        native_tz=spec.native_tz,
        statuses=spec.statuses,
        transitions=(*spec.transitions, spec.transitions[0].__class__(
            action="teleport", sources=frozenset({"NOWHERE"}), target="ALSO_NOWHERE",
            actors=frozenset({ActorKind.SYSTEM}),
        )),
        policy=spec.policy,
    )  # fmt: skip
    problems = validate_spec(broken)
    assert any("unknown source NOWHERE" in p for p in problems)
    assert any("unknown target ALSO_NOWHERE" in p for p in problems)


@pytest.mark.django_db
@pytest.mark.parametrize(("platform", "index", "source"), list(walk_cases()))
def test_every_declared_transition(platform, index, source):
    # given an order in the transition's source status
    spec = get_spec(platform)
    transition = spec.transitions[index]
    shop = shop_for(platform, transition)
    order = order_in(shop, source)
    before = snapshot(order)
    expected_target = transition.target_for(order)
    data = {"forbid_consign": g.consign_forbidden in transition.guards}
    actor = actor_for(sorted(transition.actors)[0], shop)

    # when the event is applied by someone allowed to
    changed = apply_event(
        order,
        transition.action,
        actor,
        reason=transition.reasons[0] if transition.reasons else "test",
        **data,
    )

    # then the order is in the target status, with one event and the declared deadlines
    changed.refresh_from_db()
    assert changed.native_status == expected_target
    assert expected_target != RESUME
    assert changed.stage == spec.stage_of(
        changed.native_status,
        end_reason=changed.end_reason,
        resume_status=changed.resume_status,
    )
    if transition.end_reason:
        assert changed.end_reason == transition.end_reason
    assert changed.version == before["version"] + 1
    events = list(changed.events.exclude(type=EventType.AFTERSALES).order_by("id"))
    assert len(events) == before["events"] + 1
    assert (events[-1].action, events[-1].from_status, events[-1].to_status) == (
        transition.action,
        source,
        expected_target,
    )
    pending = set(
        changed.deadlines.filter(state="pending").values_list("kind", flat=True)
    )
    assert pending == set(deadlines_for(spec, changed, policy_for(shop), {}))


def status_cases():
    for platform in PLATFORMS:
        for status in get_spec(platform).codes:
            yield pytest.param(platform, status, id=f"{platform}-{status}")


@pytest.mark.django_db
@pytest.mark.parametrize(("platform", "status"), list(status_cases()))
def test_illegal_events_are_refused_and_change_nothing(platform, status):
    # given an order in each status
    spec = get_spec(platform)
    shop = shop_for(platform)
    order = order_in(shop, status)
    legal = {t.action for t in spec.transitions_from(status)}
    before = snapshot(order)
    system = actor_for(ActorKind.SYSTEM, shop)

    # when every action the status does not allow is attempted
    for action in sorted(set(spec.actions()) - legal):
        with pytest.raises(InvalidTransition) as refused:
            apply_event(order, action, system)
        # then it is refused with the machine-readable code, and nothing changed
        assert refused.value.code == "invalid_transition"
        assert refused.value.details["reason"] == "not_allowed_in_status"
        assert snapshot(order) == before


@pytest.mark.django_db
def test_an_actor_outside_the_transition_is_refused():
    # given an unpaid Taobao order: only the platform reports payment
    shop = ShopFactory(platform="taobao")
    order = order_in(shop, "WAIT_BUYER_PAY")
    before = snapshot(order)

    # when a member claims it was paid
    with pytest.raises(InvalidTransition) as refused:
        apply_event(order, "pay", actor_for(ActorKind.MEMBER, shop))

    # then it is refused, and nothing changed
    assert refused.value.details["reason"] == "not_allowed_for_actor"
    assert snapshot(order) == before
