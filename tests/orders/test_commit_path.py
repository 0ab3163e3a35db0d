"""The one commit path: dry run, commit, batch service (orders.services / actions)."""

import pytest
from django.db import transaction

from oms.core.errors import InvalidTransition, NotFound, PermissionDenied
from orders import effects
from orders.actions import run_batch
from orders.choices import EventType, Role
from orders.models import Order
from orders.services import Actor, Entry, apply_event, check_action, commit, lock_order
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched():
    seen: list[list[int]] = []

    def handler(event_ids):
        seen.append(list(event_ids))

    effects.register(handler)
    yield seen
    effects.unregister(handler)


def test_the_dry_run_gives_the_refusal_apply_event_raises_and_writes_nothing():
    order = make_order(
        ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT", cancel_requested=True
    )
    erp = Actor.api_client("erp", organisation_id=order.organisation_id)
    events = order.events.count()

    refusal = check_action(order, "ship", erp)

    assert isinstance(refusal, InvalidTransition)
    assert refusal.details["reason"] == "cancel_requested"
    with pytest.raises(InvalidTransition) as raised:
        apply_event(order, "ship", erp)
    assert raised.value.details == refusal.details
    order.refresh_from_db()
    assert (order.version, order.events.count()) == (1, events)


def test_the_dry_run_allows_what_apply_event_allows():
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    erp = Actor.api_client("erp", organisation_id=order.organisation_id)
    assert check_action(order, "ship", erp) is None
    order.refresh_from_db()
    assert order.version == 1


def test_the_dry_run_checks_role_and_scope():
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_PAY")
    warehouse = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.WAREHOUSE)
    )
    stranger = Actor.api_client("erp", organisation_id=order.organisation_id + 1000)
    data = {"reason": "缺货"}
    assert isinstance(check_action(order, "cancel", warehouse, data), PermissionDenied)
    assert isinstance(check_action(order, "cancel", stranger, data), NotFound)


def test_commit_bumps_the_version_writes_the_event_and_schedules_its_effects(
    dispatched, django_capture_on_commit_callbacks
):
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    actor = Actor.system("test")
    before = list(order.events.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        locked = lock_order(order.pk)
        locked.delivery_failed = True
        (event,) = commit(
            locked,
            actor,
            fields=["delivery_failed"],
            events=[Entry(EventType.SYNCED, {"action": "test"})],
        )
    order.refresh_from_db()
    assert (order.version, order.delivery_failed) == (2, True)
    assert list(
        order.events.exclude(pk__in=before).values_list("pk", "type", "action")
    ) == [(event.pk, EventType.SYNCED, "test")]
    assert dispatched == [[event.pk]]


def test_commit_refuses_a_version_bump_without_an_event():
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    with transaction.atomic(), pytest.raises(ValueError):
        commit(lock_order(order.pk), Actor.system("test"), events=[])
    order.refresh_from_db()
    assert order.version == 1


def test_a_batch_gives_one_result_per_order_and_leaves_refused_ones_untouched():
    shop = ShopFactory(platform="tiktok")
    waiting = make_order(shop, "AWAITING_SHIPMENT")
    other = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    actor = Actor.api_client("erp", organisation_id=shop.organisation_id)

    run = run_batch(
        actor,
        "hold",
        Order.objects.filter(pk__in=[other.pk, waiting.pk]),
        data={},
        reason="check stock",
    )

    assert [order.pk for order in run.orders] == sorted([waiting.pk, other.pk])
    by_id = dict(zip([o.pk for o in run.orders], run.outcomes, strict=True))
    assert by_id[waiting.pk].version == 2
    assert isinstance(by_id[other.pk], NotFound)  # another organisation's order
    other.refresh_from_db()
    assert other.version == 1


def test_a_batch_does_nothing_when_the_selection_changed():
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    actor = Actor.api_client("erp", organisation_id=shop.organisation_id)
    run = run_batch(
        actor,
        "hold",
        Order.objects.filter(pk=order.pk),
        data={},
        reason="x",
        expected_count=2,
    )
    assert run.outcomes is None
    order.refresh_from_db()
    assert order.version == 1
