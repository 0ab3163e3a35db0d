"""The transition service: locking, versions, actors and roles, deadlines, side effects."""

from datetime import timedelta

import pytest
from django.db import transaction

from oms.core.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    VersionConflict,
)
from orders import effects
from orders.choices import ActorKind, Role
from orders.models import Order
from orders.services import Actor, apply_event
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.race import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched():
    seen: list[list[int]] = []

    def handler(event_ids):
        seen.append(list(event_ids))

    effects.register(handler)
    yield seen
    effects.unregister(handler)


def test_side_effects_run_only_after_the_commit(
    dispatched, django_capture_on_commit_callbacks
):
    order = make_order(ShopFactory(platform="tiktok"), "UNPAID")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        apply_event(order, "auto_cancel", Actor.system("deadlines"))
        assert dispatched == []  # not before the commit
    assert len(callbacks) == 1
    assert dispatched == [[order.events.latest("id").pk]]


def test_a_rolled_back_change_has_no_side_effects(
    dispatched, django_capture_on_commit_callbacks
):
    order = make_order(ShopFactory(platform="tiktok"), "UNPAID")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                apply_event(order, "auto_cancel", Actor.system("deadlines"))
                raise RuntimeError("the caller fails after the change")
        except RuntimeError:
            pass
    assert callbacks == []
    assert dispatched == []
    order.refresh_from_db()
    assert order.native_status == "UNPAID"
    assert order.events.count() == 1


def test_a_stale_version_is_refused():
    order = make_order(ShopFactory(platform="tiktok"), "UNPAID")
    apply_event(order, "auto_cancel", Actor.system("job"), expected_version=1)
    order.refresh_from_db()
    assert order.version == 2

    other = make_order(ShopFactory(platform="taobao"), "WAIT_BUYER_PAY")
    with pytest.raises(VersionConflict) as refused:
        apply_event(other, "auto_cancel", Actor.system("job"), expected_version=7)
    assert (refused.value.code, refused.value.http_status) == ("version_conflict", 412)
    assert refused.value.details["current_version"] == 1


def test_a_role_without_the_permission_is_refused():
    # given a warehouse member (who may not cancel orders)
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_PAY")
    warehouse = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.WAREHOUSE)
    )

    with pytest.raises(PermissionDenied):
        apply_event(order, "cancel", warehouse, reason="缺货")

    order.refresh_from_db()
    assert (order.native_status, order.version) == ("WAIT_BUYER_PAY", 1)
    operator = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.OPERATOR)
    )
    apply_event(order, "cancel", operator, reason="缺货")
    event = order.events.latest("id")
    assert (event.actor_kind, event.actor_user, event.reason) == (
        ActorKind.MEMBER,
        operator.membership.user,
        "缺货",
    )


def test_another_organisations_order_does_not_exist_for_a_member():
    order = make_order(ShopFactory(platform="taobao"), "WAIT_BUYER_PAY")
    outsider = Actor.member(MembershipFactory(role=Role.OWNER))
    with pytest.raises(NotFound):
        apply_event(order, "cancel", outsider, reason="缺货")


def test_a_member_limited_to_other_shops_cannot_reach_the_order():
    shop = ShopFactory(platform="taobao")
    other_shop = ShopFactory(platform="taobao", organisation=shop.organisation)
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OPERATOR)
    membership.shops.add(other_shop)
    order = make_order(shop, "WAIT_BUYER_PAY")
    with pytest.raises(NotFound):
        apply_event(order, "cancel", Actor.member(membership), reason="缺货")


def test_an_api_key_of_another_organisation_cannot_reach_the_order():
    order = make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS")
    with pytest.raises(NotFound):
        apply_event(
            order,
            "ship",
            Actor.api_client("erp", organisation_id=order.organisation_id + 1),
        )


def test_a_reason_outside_the_platforms_list_is_refused():
    # TikTok refuses unpaid-order reasons on paid orders (platforms.md §1.7)
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    owner = Actor.member(
        MembershipFactory(organisation=order.organisation, role=Role.OWNER)
    )
    with pytest.raises(InvalidTransition) as refused:
        apply_event(
            order, "cancel", owner, reason="seller_cancel_unpaid_reason_out_of_stock"
        )
    assert refused.value.details["reason"] == "reason_not_allowed"
    apply_event(order, "cancel", owner, reason="seller_cancel_reason_out_of_stock")


def test_shipping_is_refused_while_a_cancel_request_is_open():
    order = make_order(
        ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT", cancel_requested=True
    )
    erp = Actor.api_client("erp", organisation_id=order.organisation_id)
    with pytest.raises(InvalidTransition) as refused:
        apply_event(order, "ship", erp)
    assert refused.value.details["reason"] == "cancel_requested"
    assert "ship" not in refused.value.details["allowed_actions"]


@pytest.mark.parametrize(
    ("market", "after_payment", "hold_deadline"),
    [("GB", "ON_HOLD", timedelta(hours=1)), ("MY", "AWAITING_SHIPMENT", None)],
)
def test_tiktok_payment_holds_only_where_the_market_does(
    market, after_payment, hold_deadline
):
    shop = ShopFactory(platform="tiktok", market=market)
    order = make_order(shop, "UNPAID")

    order = apply_event(order, "pay", Actor.platform("tiktok"))

    assert order.native_status == after_payment
    kinds = dict(order.deadlines.filter(state="pending").values_list("kind", "due_at"))
    if hold_deadline:
        assert kinds == {"hold_until": order.paid_at + hold_deadline}
        assert order.shipping_blocked
    else:
        assert kinds["ship_by"] == order.paid_at + timedelta(hours=72)
        assert kinds["ship_warning_early"] == order.paid_at + timedelta(hours=48)
        assert kinds["ship_warning_late"] == order.paid_at + timedelta(hours=66)
        assert order.next_deadline_kind == "ship_by"


def test_an_aliexpress_dispute_keeps_the_stage_and_returns_where_it_was():
    order = make_order(ShopFactory(platform="aliexpress"), "WAIT_BUYER_ACCEPT_GOODS")
    platform = Actor.platform("aliexpress")

    order = apply_event(order, "open_dispute", platform)
    assert (order.native_status, order.stage, order.in_dispute) == (
        "IN_ISSUE",
        "shipped",
        True,
    )
    assert not order.deadlines.filter(
        state="pending"
    ).exists()  # buyer protection paused

    order = apply_event(order, "close_dispute", platform)
    assert (order.native_status, order.in_dispute) == ("WAIT_BUYER_ACCEPT_GOODS", False)
    assert order.deadlines.get(kind="confirm_by").state == "pending"


# --- Concurrency (PostgreSQL) -------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_conflicting_events_at_once_exactly_one_wins():
    shop = ShopFactory(platform="tiktok")
    erp = Actor.api_client("erp", organisation_id=shop.organisation_id)
    owner = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    )
    for _ in range(25):
        order = make_order(shop, "AWAITING_SHIPMENT")
        results = race(
            lambda order=order: apply_event(order.pk, "ship", erp, expected_version=1),
            lambda order=order: apply_event(
                order.pk, "cancel", owner, expected_version=1,
                reason="seller_cancel_reason_out_of_stock",
            ),
        )  # fmt: skip
        winners = [r for r in results if isinstance(r, Order)]
        losers = [r for r in results if not isinstance(r, Order)]
        assert len(winners) == 1, results
        assert isinstance(losers[0], InvalidTransition | VersionConflict), results
        order.refresh_from_db()
        assert order.native_status in ("AWAITING_COLLECTION", "CANCELLED")
        assert order.version == 2
        assert order.events.count() == 2  # created + the one applied change


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_row_lock_serialises_writers_without_a_version():
    # Without expected_version the loser waits for the lock, re-reads, and is refused.
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_PAY")
    system = Actor.system("deadlines")
    platform = Actor.platform("taobao")
    results = race(
        lambda: apply_event(order.pk, "auto_cancel", system),
        lambda: apply_event(order.pk, "pay", platform),
    )
    assert sum(isinstance(r, Order) for r in results) == 1
    assert sum(isinstance(r, InvalidTransition) for r in results) == 1
    order.refresh_from_db()
    assert order.events.count() == 2
