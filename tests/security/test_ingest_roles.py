"""Issue 11 failure 1: platform observations are the platform's voice, not a member's.

Only owners (``orders.ingest``) and API keys with the ``orders:ingest`` scope may send
them, and an observation may change only what the platform itself may change at the
order's stage: never the amounts of a paid order, never the address of a shipped one.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from aftersales.models import Case
from integrations.models import Scope
from orders.choices import Role, Stage
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order, order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return ShopFactory(platform="taobao")


def member_client(shop, role) -> APIClient:
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    client = APIClient()
    client.force_login(membership.user)
    return client


def later(order, **overrides) -> dict:
    """The platform's next observation of ``order`` (one minute newer)."""
    payload = order_payload(
        order.shop,
        overrides.pop("native_status", order.native_status),
        platform_order_id=order.platform_order_id,
        platform_updated_at=(
            order.platform_updated_at + timedelta(minutes=1)
        ).isoformat(),
        **overrides,
    )
    payload["shop"] = order.shop_id
    return payload


HOSTILE = {
    "native_status": "TRADE_CLOSED",
    "total": "0.01",
    "address": {"country": "CN", "province": "X", "city": "X", "street": "Elsewhere 1"},
}


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.CUSTOMER_SERVICE, Role.OPERATOR])
def test_a_member_who_is_not_owner_may_not_push_order_observations(shop, role):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    before = (order.native_status, order.total, order.address_street, order.version)

    response = member_client(shop, role).post(
        "/api/v1/orders/bulk-upsert/",
        {"orders": [later(order, **HOSTILE)]},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    order.refresh_from_db()
    assert (
        order.native_status,
        order.total,
        order.address_street,
        order.version,
    ) == before


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.CUSTOMER_SERVICE, Role.OPERATOR])
def test_a_member_who_is_not_owner_may_not_push_cases(shop, role):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    response = member_client(shop, role).post(
        "/api/v1/cases/ingest/",
        {"cases": [{"order_id": order.pk, "kind": "refund", "platform_case_id": "R1"}]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Case.objects.filter(order=order).exists()


def test_a_key_needs_the_ingest_scope(shop):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    writer = key_client(
        shop.organisation, scopes=[Scope.ORDERS_READ, Scope.ORDERS_WRITE]
    )
    response = writer.post(
        "/api/v1/orders/bulk-upsert/",
        {"orders": [later(order, **HOSTILE)]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "missing_scope"
    response = writer.post(
        "/api/v1/cases/ingest/",
        {"cases": [{"order_id": order.pk, "kind": "refund", "platform_case_id": "R1"}]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "missing_scope"
    order.refresh_from_db()
    assert order.native_status == "WAIT_SELLER_SEND_GOODS"
    assert not Case.objects.filter(order=order).exists()


@pytest.mark.parametrize("sender", ["owner", "ingest_key"])
def test_owners_and_ingest_keys_push_observations(shop, sender):
    client = (
        member_client(shop, Role.OWNER)
        if sender == "owner"
        else key_client(shop.organisation, scopes=[Scope.ORDERS_INGEST])
    )
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    response = client.post(
        "/api/v1/orders/bulk-upsert/",
        {"orders": [later(order, native_status="WAIT_BUYER_CONFIRM_GOODS",
                          shipped_at=timezone.now().isoformat())]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["outcome"] == "updated"
    order.refresh_from_db()
    assert order.stage == Stage.SHIPPED
    response = client.post(
        "/api/v1/cases/ingest/",
        {"cases": [{"order_id": order.pk, "kind": "refund", "platform_case_id": "R1"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["ok"] is True
    assert Case.objects.filter(order=order).count() == 1


@pytest.fixture
def ingest(shop):
    return key_client(shop.organisation, scopes=[Scope.ORDERS_INGEST])


def test_an_observation_never_reprices_a_paid_order(shop, ingest):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    payload = later(order, total="0.01", shipping_fee="0.00", buyer_message="hurry")
    payload["items"][0]["unit_price"] = "0.01"

    response = ingest.post("/api/v1/orders/bulk-upsert/", {"orders": [payload]},
                           format="json")  # fmt: skip

    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["ok"] is True
    assert result["outcome"] == "updated"  # the rest of the observation applies
    assert result["refused"] == [
        {"field": "shipping_fee", "code": "amount_locked_after_payment"},
        {"field": "total", "code": "amount_locked_after_payment"},
        {"field": "items[0].unit_price", "code": "amount_locked_after_payment"},
    ]
    order.refresh_from_db()
    assert order.total == Decimal("107.80")
    assert order.shipping_fee == Decimal("8.00")
    assert order.items.get().unit_price == Decimal("49.90")
    assert order.buyer_message == "hurry"


def test_an_unpaid_order_takes_the_platforms_new_price(shop, ingest):
    order = make_order(shop, "WAIT_BUYER_PAY")
    payload = later(order, total="88.00")
    response = ingest.post("/api/v1/orders/bulk-upsert/", {"orders": [payload]},
                           format="json")  # fmt: skip
    result = response.json()["results"][0]
    assert result["ok"] is True
    assert result["refused"] == []
    order.refresh_from_db()
    assert order.total == Decimal("88.00")


def test_an_observation_never_readdresses_a_shipped_order(shop, ingest):
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    assert order.stage == Stage.SHIPPED
    payload = later(order, address=HOSTILE["address"], buyer_message="where is it")

    response = ingest.post("/api/v1/orders/bulk-upsert/", {"orders": [payload]},
                           format="json")  # fmt: skip

    result = response.json()["results"][0]
    assert result["ok"] is True
    assert {r["field"] for r in result["refused"]} == {
        "address.province", "address.city", "address.district", "address.street",
        "address.postcode",
    }  # fmt: skip
    assert {r["code"] for r in result["refused"]} == {"address_locked_after_shipment"}
    order.refresh_from_db()
    assert order.address_street == "文三路 100 号"
    assert order.address_city == "杭州市"
    assert order.buyer_message == "where is it"


def test_before_shipment_the_platform_may_change_the_address(shop, ingest):
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    payload = later(order, address=HOSTILE["address"])
    result = ingest.post("/api/v1/orders/bulk-upsert/", {"orders": [payload]},
                         format="json").json()["results"][0]  # fmt: skip
    assert result["refused"] == []
    order.refresh_from_db()
    assert order.address_street == "Elsewhere 1"


def test_a_native_push_follows_the_same_rules_and_the_timeline_says_so(shop):
    """Platform pushes (integrations.inbound) ingest through the same function."""
    from orders.ingest import ingest_order
    from orders.services import Actor

    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    result = ingest_order(
        shop=shop,
        payload=later(order, total="1.00", buyer_message="push"),
        actor=Actor.platform("taobao"),
    )
    assert result.refused == [{"field": "total", "code": "amount_locked_after_payment"}]
    order.refresh_from_db()
    assert (order.total, order.buyer_message) == (Decimal("107.80"), "push")
    event = order.events.order_by("-pk").first()
    assert event.data["refused"] == result.refused
