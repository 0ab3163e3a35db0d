"""The admin: every model listed, orders viewable but not editable, lists without N+1."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from orders.models import Order, OrderEvent
from tests.factories import ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model",
    ["organisation", "shop", "membership", "order", "orderevent", "orderdeadline"],
)
def test_every_model_has_a_list(admin_client, model):
    make_order(ShopFactory(platform="tiktok"), "UNPAID")
    response = admin_client.get(reverse(f"admin:orders_{model}_changelist"))
    assert response.status_code == 200


def test_an_order_page_shows_its_timeline_and_cannot_be_edited(admin_client):
    order = make_order(ShopFactory(platform="taobao"), "WAIT_BUYER_PAY")
    url = reverse("admin:orders_order_change", args=[order.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert "WAIT_BUYER_PAY" in page.content.decode()
    assert "pay_by" in page.content.decode()

    admin_client.post(url, {"native_status": "TRADE_FINISHED"})
    order.refresh_from_db()
    assert order.native_status == "WAIT_BUYER_PAY"
    event = OrderEvent.objects.get()
    assert (
        admin_client.post(
            reverse("admin:orders_orderevent_delete", args=[event.pk])
        ).status_code
        == 403
    )
    assert OrderEvent.objects.count() == 1


def test_the_overlay_filter(admin_client):
    shop = ShopFactory(platform="tiktok")
    blocked = make_order(shop, "AWAITING_SHIPMENT", cancel_requested=True)
    make_order(shop, "AWAITING_SHIPMENT")
    page = admin_client.get(
        reverse("admin:orders_order_changelist") + "?overlay=cancel_requested"
    )
    assert list(page.context["cl"].result_list) == [blocked]


def test_the_order_list_costs_the_same_queries_for_more_orders(
    admin_client, django_assert_max_num_queries
):
    shop = ShopFactory(platform="tiktok")
    make_order(shop, "UNPAID")
    url = reverse("admin:orders_order_changelist")
    with django_assert_max_num_queries(12) as few:
        admin_client.get(url)
    for _ in range(15):
        make_order(shop, "UNPAID")
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)
    assert Order.objects.count() == 16
