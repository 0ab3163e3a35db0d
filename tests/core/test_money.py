"""Money is validated once, wherever it enters (issue 11, failure 10).

One validator (``oms.core.money.parse_amount``) for the unified ingest shape, the
platforms' native payloads, price adjustments, after-sales amounts and dashboard forms:
non-negative, finite, a plain decimal, at most the currency's decimals, and within the
digits of the amount columns.
"""

from decimal import Decimal

import pytest

from oms.core.errors import ValidationFailed
from oms.core.money import MAX_AMOUNT, currency_places, parse_amount
from orders.ingest import ingest_native, ingest_order
from orders.models import Order, OrderItem
from tests.api.conftest import key_client
from tests.factories import ShopFactory, make_order, order_payload

BULK = "/api/v1/orders/bulk-upsert/"


# --- the validator ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("49.90", Decimal("49.90")),
        ("0", Decimal("0.00")),
        (12, Decimal("12.00")),
        (Decimal("3.5"), Decimal("3.50")),
        (" 7.1 ", Decimal("7.10")),
        ("999999999999.99", MAX_AMOUNT),
        (None, Decimal("0.00")),
        ("", Decimal("0.00")),
    ],
)
def test_plain_amounts_are_accepted(value, expected):
    amount = parse_amount(value)
    assert (amount, amount.as_tuple().exponent) == (expected, -2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5.00", "amount must be 0 or more"),
        (-1, "amount must be 0 or more"),
        (Decimal("-0.01"), "amount must be 0 or more"),
        ("1e30", "amount is not a decimal number"),
        ("1E2", "amount is not a decimal number"),
        ("NaN", "amount is not a decimal number"),
        ("Infinity", "amount is not a decimal number"),
        (Decimal("NaN"), "amount is not a finite number"),
        (Decimal("Infinity"), "amount is not a finite number"),
        ("١٢", "amount is not a decimal number"),  # Arabic-Indic digits
        ("12,50", "amount is not a decimal number"),
        ("1" * 60, "amount is not a decimal number"),
        ("1000000000000.00", "amount must be at most 999999999999.99"),
        (10**30, "amount must be at most 999999999999.99"),
        ("12.345", "amount has more than 2 decimal places for this amount"),
        (12.5, "amount must be a decimal string, not a float"),
        (True, "amount must be a decimal string, not a float"),
    ],
)
def test_bad_amounts_are_refused_with_a_message(value, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_amount(value)
    assert refused.value.message == message


def test_the_currency_sets_the_decimals():
    assert [currency_places(c) for c in ("CNY", "usd", "IDR", "VND", "JPY", None)] == [
        2, 2, 0, 0, 0, 2,
    ]  # fmt: skip
    assert parse_amount("150000", currency="IDR") == Decimal("150000.00")
    assert parse_amount("150000.00", currency="IDR") == Decimal("150000.00")
    with pytest.raises(ValidationFailed) as refused:
        parse_amount("1.50", currency="IDR", field="total")
    assert refused.value.message == "total has more than 0 decimal places for IDR"


def test_positive_refuses_zero():
    with pytest.raises(ValidationFailed) as refused:
        parse_amount("0.00", positive=True, field="total")
    assert refused.value.message == "total must be more than 0"


# --- the unified shape (bulk upsert) -------------------------------------------------


def _order(shop, **overrides):
    return {"shop": shop.pk, **order_payload(shop, "AWAITING_SHIPMENT", **overrides)}


def _item(**overrides):
    return {"sku": "S", "title": "T", "quantity": 1, "unit_price": "5.00", **overrides}


@pytest.mark.django_db
def test_bulk_upsert_refuses_negative_and_oversized_amounts_per_order():
    shop = ShopFactory(platform="tiktok", market="GB", currency="GBP")
    api = key_client(shop.organisation)
    orders = [
        _order(shop, items=[_item(unit_price="-5.00")], total=None),
        _order(shop, total="1e30"),
        _order(shop, total="-1.00"),
        _order(shop, shipping_fee="-8.00"),
        _order(shop, items=[_item(discount="-1.00")]),
        _order(shop, items=[_item(unit_price="1000000000000")]),
        _order(shop, total="107.805"),
        # Computed total below zero: the discount is more than everything else.
        _order(shop, items=[_item()], discount="50.00", shipping_fee="0", total=None),
        _order(shop),
    ]
    response = api.post(BULK, {"orders": orders}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["failed"]) == (1, 8)
    fields = [
        r["error"]["details"]["fields"] if not r["ok"] else None
        for r in body["results"]
    ]
    assert fields[:8] == [
        {"items[0]": "unit_price must be 0 or more"},
        {"total": "total is not a decimal number"},
        {"total": "total must be 0 or more"},
        {"shipping_fee": "shipping_fee must be 0 or more"},
        {"items[0]": "discount must be 0 or more"},
        {"items[0]": "unit_price must be at most 999999999999.99"},
        {"total": "total has more than 2 decimal places for GBP"},
        {"total": "total must be 0 or more"},
    ]
    assert Order.objects.count() == 1
    assert not OrderItem.objects.filter(unit_price__lt=0).exists()


@pytest.mark.django_db
def test_an_idr_order_has_no_decimals():
    shop = ShopFactory(platform="tiktok", market="ID", currency="IDR")
    bad = order_payload(
        shop, "AWAITING_SHIPMENT", currency="IDR",
        items=[_item(unit_price="15000.50")], total=None, shipping_fee="0",
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        ingest_order(shop=shop, payload=bad)
    assert refused.value.details["fields"] == {
        "items[0]": "unit_price has more than 0 decimal places for IDR"
    }
    good = {**bad, "items": [_item(unit_price="15000")]}
    order = ingest_order(shop=shop, payload=good).order
    assert order.total == Decimal("15000.00")


# --- native payloads ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tiktok_payload_with_a_negative_total_is_refused():
    shop = ShopFactory(platform="tiktok", market="GB", currency="GBP")
    payload = {
        "id": "576123456789099999",
        "status": "AWAITING_SHIPMENT",
        "create_time": 1763600000,
        "update_time": 1763600600,
        "paid_time": 1763600300,
        "payment": {"currency": "GBP", "total_amount": "-17.99", "shipping_fee": "0"},
        "line_items": [{"id": "L1", "sku_id": "9", "product_name": "Mug",
                        "original_price": "8.00"}],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        ingest_native(shop=shop, payload=payload)
    assert refused.value.details["fields"] == {"total": "total must be 0 or more"}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_aliexpress_negative_cent_amount_is_refused():
    shop = ShopFactory(platform="aliexpress", currency="USD")
    payload = {
        "id": "3012345678909999",
        "order_status": "WAIT_SELLER_SEND_GOODS",
        "gmt_create": "2026-07-01 09:00:00",
        "gmt_modified": "2026-07-01 09:05:00",
        "gmt_pay_success": "2026-07-01 09:01:00",
        "order_amount": {"amount": "25.80", "currency_code": "USD"},
        "logistics_amount": {"cent": -550, "cent_factor": 100, "currency_code": "USD"},
        "child_order_list": [{"child_order_id": "1", "sku_code": "C", "product_name": "Case",
                              "product_count": 1, "product_price": {"amount": "20.30"}}],
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        ingest_native(shop=shop, payload=payload)
    assert refused.value.details["fields"] == {
        "shipping_fee": "shipping_fee must be 0 or more"
    }


# --- price adjustment --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("total", "message"),
    [
        ("-5.00", "total must be more than 0"),
        ("0", "total must be more than 0"),
        ("1e30", "total is not a decimal number"),
        ("99.5", "total has more than 0 decimal places for IDR"),
    ],
)
def test_adjust_price_validates_the_total(total, message):
    shop = ShopFactory(platform="tiktok", market="ID", currency="IDR")
    order = make_order(
        shop, "UNPAID", currency="IDR", items=[_item(unit_price="15000")],
        shipping_fee="0", total=None,
    )  # fmt: skip
    api = key_client(shop.organisation)
    response = api.post(
        f"/api/v1/orders/{order.pk}/adjust-price/", {"total": total}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert message in str(error["details"])
    order.refresh_from_db()
    assert (order.total, order.version) == (Decimal("15000.00"), 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("money", "expected"),
    [
        ({"cent": 300, "cent_factor": 100, "currency_code": "USD"}, Decimal("3.00")),
        ({"cent": 305}, Decimal("3.05")),
        ({"cent": 7, "cent_factor": 1, "currency_code": "USD"}, Decimal("7.00")),
    ],
)
def test_aliexpress_cents_are_exact(money, expected):
    shop = ShopFactory(platform="aliexpress", currency="USD")
    payload = {
        "id": "3012345678908888",
        "order_status": "WAIT_SELLER_SEND_GOODS",
        "gmt_create": "2026-07-01 09:00:00",
        "gmt_modified": "2026-07-01 09:05:00",
        "gmt_pay_success": "2026-07-01 09:01:00",
        "order_amount": {"amount": "25.80", "currency_code": "USD"},
        "logistics_amount": money,
        "child_order_list": [{"child_order_id": "1", "sku_code": "C", "product_name": "Case",
                              "product_count": 1, "product_price": {"amount": "20.30"}}],
    }  # fmt: skip
    assert ingest_native(shop=shop, payload=payload).order.shipping_fee == expected


@pytest.mark.django_db
def test_an_aliexpress_cent_factor_that_is_not_a_power_of_ten_is_refused():
    shop = ShopFactory(platform="aliexpress", currency="USD")
    payload = {
        "id": "3012345678907777",
        "order_status": "WAIT_SELLER_SEND_GOODS",
        "gmt_create": "2026-07-01 09:00:00",
        "gmt_modified": "2026-07-01 09:05:00",
        "order_amount": {"cent": 2580, "cent_factor": 3, "currency_code": "USD"},
        "child_order_list": [{"child_order_id": "1", "product_name": "Case", "product_count": 1,
                              "product_price": {"amount": "20.30"}}],
    }  # fmt: skip
    with pytest.raises(ValidationFailed):
        ingest_native(shop=shop, payload=payload)
    assert not Order.objects.exists()
