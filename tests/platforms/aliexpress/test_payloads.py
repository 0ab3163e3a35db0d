"""Every fact of a real AliExpress payload (issue 12, Build 5), through the public
doors (``orders.ingest.ingest_native``, bulk upsert with ``format``, the case ingest
API). Payloads are API responses with their envelopes: findorderbyid's
``{"…_response": {"target": order}}``, ``solution.order.get``'s ``{"result":
{"target_list": {"order_dto": [...]}}}``, ``error_response`` (platforms.md §3.5)."""

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from aftersales.models import Case
from oms.core.errors import CurrencyRequired, PlatformErrorResponse, ValidationFailed
from orders.choices import Stage
from orders.ingest import ingest_native
from tests.factories import ShopFactory
from tests.ingest.helpers import bulk, post_case

pytestmark = pytest.mark.django_db

ORDER_ID = "8123456789012345"
CHILD_A, CHILD_B = "8123456789012346", "8123456789012347"


def usd(amount: str) -> dict:
    return {"amount": amount, "currency_code": "USD"}


def detail(**overrides):
    """A shipped order of two child orders: child A has a 2.00 store coupon share and
    a 1.00 price adjustment; child B no discount."""
    body = {
        "id": ORDER_ID,
        "order_status": "WAIT_BUYER_ACCEPT_GOODS",
        "gmt_create": "2026-11-11 08:00:00",
        "gmt_modified": "2026-11-14 08:00:00",
        "gmt_pay_success": "2026-11-11 08:05:00",
        "gmt_send_goods": "2026-11-13 08:00:00",
        "order_amount": usd("42.00"),
        "logistics_amount": usd("5.00"),
        "buyerloginid": "us1234567890ae",
        "buyer_info": {"login_id": "us1234567890ae", "country": "US"},
        "receipt_address": {
            "contact_person": "J*** D**",
            "country": "US",
            "province": "California",
            "city": "San Jose",
            "detail_address": "1 Main St",
            "zip": "95112",
            "phone_country": "1",
            "mobile_no": "*****1234",
        },
        "child_order_list": {
            "global_aeop_tp_child_order_dto": [
                {
                    "child_order_id": CHILD_A,
                    "product_id": "1005001",
                    "product_name": "Phone case",
                    "product_count": 2,
                    "sku_code": "CASE-BLK",
                    "product_price": usd("10.00"),
                    "child_order_discount_info": usd("2.00"),
                    "child_order_adjust_amount": usd("1.00"),
                    "order_status": "WAIT_BUYER_ACCEPT_GOODS",
                    "issue_status": "NO_ISSUE",
                },
                {
                    "child_order_id": CHILD_B,
                    "product_id": "1005002",
                    "product_name": "Cable",
                    "product_count": 1,
                    "sku_code": "CABLE-1M",
                    "product_price": usd("20.00"),
                    "order_status": "WAIT_BUYER_ACCEPT_GOODS",
                    "issue_status": "NO_ISSUE",
                },
            ]
        },
    }
    body.update(overrides)
    return body


def findorderbyid(body=None):
    return {
        "aliexpress_trade_new_redefining_findorderbyid_response": {
            "target": body or detail(),
            "request_id": "0ba2887315178178017221014",
        }
    }


@pytest.fixture
def shop(db):
    return ShopFactory(platform="aliexpress")


def lines(order):
    return {item.line_id: item for item in order.items.all()}


# --- a. ------------------------------------------------------------------------------


def test_a_findorderbyid_response_with_its_envelope_is_ingested(shop):
    order = ingest_native(shop=shop, payload=findorderbyid()).order
    assert order.platform_order_id == ORDER_ID
    assert order.stage == Stage.SHIPPED
    assert set(lines(order)) == {CHILD_A, CHILD_B}


def test_an_order_list_response_yields_every_order(shop):
    second = detail(id="8123456789019999", order_status="WAIT_SELLER_SEND_GOODS")
    response = bulk(
        shop,
        {
            "format": "aliexpress",
            "shop": shop.pk,
            "orders": [
                {
                    "aliexpress_solution_order_get_response": {
                        "result": {
                            "success": True,
                            "total_page": 1,
                            "target_list": {"order_dto": [detail(), second]},
                        }
                    }
                }
            ],
        },
    )
    body = response.json()
    assert body["ok"] == 2, body
    assert shop.orders.count() == 2


@pytest.mark.parametrize(
    "error",
    [
        {"error_response": {"code": "IllegalAccessToken", "msg": "token expired"}},
        {
            "aliexpress_solution_order_info_get_response": {
                "result": {"success": False, "error_code": "B_ORDER_NOT_FOUND"}
            }
        },
    ],
)
def test_an_error_envelope_is_a_clear_refusal(shop, error):
    with pytest.raises(PlatformErrorResponse):
        ingest_native(shop=shop, payload=error)
    row = bulk(shop, {"format": "aliexpress", "shop": shop.pk, "orders": [error]})
    assert row.json()["results"][0]["error"]["code"] == "platform_error_response"
    assert not shop.orders.exists()


# --- b. ------------------------------------------------------------------------------


def test_line_amounts_are_the_child_order_amounts_after_discounts(shop):
    order = ingest_native(shop=shop, payload=findorderbyid()).order
    a, b = lines(order)[CHILD_A], lines(order)[CHILD_B]
    assert a.unit_price * a.quantity - a.discount == Decimal("17.00")
    assert b.unit_price * b.quantity - b.discount == Decimal("20.00")
    assert order.total == Decimal("42.00")
    assert order.items_total + order.shipping_fee - order.discount == order.total


# --- c. + d. -------------------------------------------------------------------------


def test_in_issue_on_one_child_opens_the_dispute_on_that_line_and_stays_shipped(shop):
    body = detail(order_status="IN_ISSUE")
    body["child_order_list"]["global_aeop_tp_child_order_dto"][1]["issue_status"] = (
        "IN_ISSUE"
    )
    order = ingest_native(shop=shop, payload=findorderbyid(body)).order
    order.refresh_from_db()
    assert order.native_status == "IN_ISSUE"
    assert order.stage == Stage.SHIPPED
    assert order.in_dispute
    case = Case.objects.get(order=order)
    assert case.kind == "dispute"
    assert [i.order_item.line_id for i in case.items.all()] == [CHILD_B]
    # The issue itself, pushed later, names the child order: the same case.
    response = post_case(
        shop,
        {
            "cases": [
                {
                    "id": "9001",
                    "parent_order_id": ORDER_ID,
                    "order_id": CHILD_B,
                    "issue_status": "WAIT_SELLER_CONFIRM_REFUND",
                    "gmt_create": "2026-11-14 07:00:00",
                    "gmt_modified": "2026-11-14 07:00:00",
                }
            ]
        },
    )
    assert response.json()["results"][0]["ok"], response.json()
    assert Case.objects.filter(order=order).count() == 1


# --- e. ------------------------------------------------------------------------------


def test_the_phone_country_stays_apart_and_the_masked_number_masked(shop):
    order = ingest_native(shop=shop, payload=findorderbyid()).order
    assert order.buyer_phone_country_code == "+1"
    assert order.buyer_phone == "*****1234"
    assert order.buyer_phone_e164 == ""


def test_an_unmasked_number_has_its_e164(shop):
    body = detail()
    body["receipt_address"]["mobile_no"] = "4085550123"
    order = ingest_native(shop=shop, payload=findorderbyid(body)).order
    assert order.buyer_phone_e164 == "+14085550123"


# --- f. ------------------------------------------------------------------------------


def test_an_order_amount_without_currency_is_refused_not_taken_for_usd(shop):
    body = detail(order_amount={"amount": "42.00"})
    with pytest.raises(CurrencyRequired):
        ingest_native(shop=shop, payload=findorderbyid(body))
    row = bulk(shop, {"format": "aliexpress", "shop": shop.pk, "orders": [body]})
    assert row.status_code == 200
    assert row.json()["results"][0]["error"]["code"] == "currency_required"
    assert not shop.orders.exists()


def test_a_line_amount_in_another_currency_than_the_order_is_refused(shop):
    eur = {"amount": "42.00", "currency_code": "EUR"}
    body = detail(order_amount=eur, logistics_amount={**eur, "amount": "5.00"})
    with pytest.raises(ValidationFailed) as raised:  # child prices are in USD
        ingest_native(shop=shop, payload=findorderbyid(body))
    assert "currency_mismatch" in raised.value.details["fields"].values()


def test_amounts_that_state_no_currency_are_in_the_orders_not_the_shops(shop):
    eur = {"amount": "42.00", "currency_code": "EUR"}
    body = detail(order_amount=eur, logistics_amount={"amount": "5.00"})
    for child in body["child_order_list"]["global_aeop_tp_child_order_dto"]:
        for name in (
            "product_price",
            "child_order_discount_info",
            "child_order_adjust_amount",
        ):
            if name in child:
                child[name] = {"amount": child[name]["amount"]}
    order = ingest_native(shop=shop, payload=findorderbyid(body)).order
    assert shop.currency == "USD"
    assert order.currency == "EUR"
    assert order.total == Decimal("42.00")


# --- g. ------------------------------------------------------------------------------


def test_times_are_us_pacific_by_default_and_the_zone_is_a_setting(shop, settings):
    order = ingest_native(shop=shop, payload=findorderbyid()).order
    assert order.created_at == datetime(2026, 11, 11, 16, 0, tzinfo=UTC)  # PST −8
    settings.OMS_PLATFORM_TIMEZONES = {"aliexpress": "Asia/Shanghai"}
    body = copy.deepcopy(detail(id="8123456789010000"))
    order = ingest_native(shop=shop, payload=findorderbyid(body)).order
    assert order.created_at == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
