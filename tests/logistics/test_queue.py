"""The warehouse "to ship" queue: what waits for a label, soonest deadline first."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logistics.shipping import ship
from orders import actions
from orders.choices import Role
from orders.models import Order
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db

URL = "/warehouse/to-ship/"


def listed(response) -> list[int]:
    return [order.pk for order in response.context["orders"]]


@pytest.fixture
def packer(organisation):
    return MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)


def test_the_queue_lists_only_what_waits_for_a_label(
    client, organisation, shop, carrier, orders, packer
):
    waiting, held, cancel, packaged = orders(4)
    actor = Actor.member(packer)
    actions.perform(held.pk, "hold", actor, reason="check address")
    Order.objects.filter(pk=cancel.pk).update(cancel_requested=True)
    ship(
        packaged.pk, actor=actor, carrier_code=carrier.code, tracking_number="YD1234567"
    )
    unpaid = make_order(shop, "WAIT_BUYER_PAY")
    other = make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS")

    client.force_login(packer.user)
    response = client.get(URL)
    assert response.status_code == 200
    assert listed(response) == [waiting.pk]
    assert response.context["total"] == 1
    html = response.content.decode()
    assert waiting.platform_order_id in html
    for absent in (held, cancel, packaged, unpaid, other):
        assert absent.platform_order_id not in html
    # The selection goes to the print page, like the order list's button.
    assert 'action="/warehouse/print/"' in html
    assert f'name="ids" value="{waiting.pk}"' in html
    assert 'class="countdown"' in html
    assert (
        'href="/warehouse/to-ship/"' in client.get("/warehouse/print/").content.decode()
    )


def test_soonest_deadline_first_without_deadline_last(client, orders, packer):
    made = orders(4)
    now = timezone.now()
    due = {made[0].pk: 30, made[1].pk: 2, made[2].pk: None, made[3].pk: 10}
    for pk, hours in due.items():
        Order.objects.filter(pk=pk).update(
            next_deadline_at=now + timedelta(hours=hours) if hours else None
        )
    client.force_login(packer.user)
    assert listed(client.get(URL)) == [made[1].pk, made[3].pk, made[0].pk, made[2].pk]


def test_filters_platform_shop_and_no_number(
    client, organisation, shop, carrier, orders, packer
):
    mine = orders(2)
    tiktok = ShopFactory(organisation=organisation, platform="tiktok")
    other = make_order(tiktok, "AWAITING_SHIPMENT")
    client.force_login(packer.user)
    assert set(listed(client.get(URL))) == {mine[0].pk, mine[1].pk, other.pk}
    assert listed(client.get(URL, {"platform": "tiktok"})) == [other.pk]
    assert set(listed(client.get(URL, {"shop": shop.pk}))) == {m.pk for m in mine}
    response = client.get(URL, {"platform": "nope"})
    assert response.status_code == 200
    assert response.context["filter_error"]
    assert listed(response) == []

    from logistics import services
    from tests.logistics.test_shipping import make_pool

    make_pool(organisation, carrier, count=5)
    services.allocate(
        organisation=organisation, carrier=carrier, count=1, order_ids=[mine[0].pk]
    )
    assert set(listed(client.get(URL, {"no_number": "1"}))) == {mine[1].pk, other.pk}


def test_role_is_checked_on_the_server(client, organisation, orders):
    orders(1)
    service = MembershipFactory(organisation=organisation, role=Role.CUSTOMER_SERVICE)
    client.force_login(service.user)
    assert client.get(URL).status_code == 403
    assert client.get("/orders/").status_code == 200


def test_queries_do_not_grow_with_the_page(client, organisation, shop, orders, packer):
    client.force_login(packer.user)
    tiktok = ShopFactory(organisation=organisation, platform="tiktok")

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        assert response.status_code == 200
        return len(queries), len(response.context["orders"])

    orders(5)
    for _ in range(5):
        make_order(tiktok, "AWAITING_SHIPMENT")
    small, shown = count()
    assert shown == 10
    orders(25)
    for _ in range(25):
        make_order(tiktok, "AWAITING_SHIPMENT")
    large, shown = count()
    assert shown == 60
    assert large == small
