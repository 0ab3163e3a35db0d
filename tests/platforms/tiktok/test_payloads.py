"""Every fact of a real TikTok Shop payload (issue 12, Build 5), through the public
doors (``orders.ingest.ingest_native``, bulk upsert with ``format``, the case ingest
API). Payloads are Partner API 202309 responses with their envelope ``{code, message,
request_id, data: {orders: [...]}}`` (platforms.md §1.5): one line item per unit."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from aftersales.models import Case
from oms.core.errors import CurrencyRequired, PlatformErrorResponse
from orders.choices import Stage
from orders.ingest import ingest_native
from tests.factories import ShopFactory
from tests.ingest.helpers import bulk, post_case

pytestmark = pytest.mark.django_db

ORDER_ID = "576461413038785752"
UNITS = ("577087614418520001", "577087614418520002")  # two units of one SKU
CABLE = "577087614418520003"
CREATED = 1763510400  # 2025-11-19 00:00:00 UTC


def unit(line_id, sku_id, seller_sku, original, sale, seller_discount="0.00"):
    return {
        "id": line_id,
        "product_id": "1729582718312380001",
        "product_name": "Phone case" if seller_sku == "CASE" else "Cable",
        "sku_id": sku_id,
        "seller_sku": seller_sku,
        "sku_name": "Black",
        "original_price": original,
        "sale_price": sale,
        "seller_discount": seller_discount,
        "platform_discount": "0.00",
        "currency": "GBP",
        "display_status": "AWAITING_SHIPMENT",
    }


def order(**overrides):
    """Two units of a 20.00 case, each sold at 17.00 (a 3.00 seller discount shared
    out), and a cable at 10.00; 3.00 shipping; 47.00 paid."""
    body = {
        "id": ORDER_ID,
        "status": "AWAITING_SHIPMENT",
        "create_time": CREATED,
        "paid_time": CREATED + 60,
        "update_time": CREATED + 120,
        "user_id": "7494049642642441621",
        "payment": {
            "currency": "GBP",
            "original_total_product_price": "50.00",
            "sub_total": "44.00",
            "seller_discount": "6.00",
            "platform_discount": "0.00",
            "shipping_fee": "3.00",
            "tax": "0.00",
            "total_amount": "47.00",
        },
        "recipient_address": {
            "name": "J*** S****",
            "phone_number": "(+44)77*****23",
            "region_code": "GB",
            "postal_code": "SW1A 1AA",
            "address_detail": "10 Downing St",
            "district_info": [
                {"address_level": "L0", "address_name": "United Kingdom"},
                {"address_level": "L1", "address_name": "England"},
                {"address_level": "L2", "address_name": "London"},
            ],
        },
        "line_items": [
            unit(UNITS[0], "1729", "CASE", "20.00", "17.00", "3.00"),
            unit(UNITS[1], "1729", "CASE", "20.00", "17.00", "3.00"),
            unit(CABLE, "1730", "CABLE", "10.00", "10.00"),
        ],
    }
    body.update(overrides)
    return body


def response(*orders):
    return {
        "code": 0,
        "message": "Success",
        "request_id": "202511191234560102450161A1B2C3D4",
        "data": {"orders": list(orders) or [order()]},
    }


@pytest.fixture
def shop(db):
    return ShopFactory(platform="tiktok", market="GB", currency="GBP")


def by_sku(o):
    return {item.sku: item for item in o.items.all()}


# --- a. ------------------------------------------------------------------------------


def test_a_get_order_detail_response_with_its_envelope_is_ingested(shop):
    o = ingest_native(shop=shop, payload=response()).order
    assert o.platform_order_id == ORDER_ID
    assert o.stage == Stage.AWAITING_SHIPMENT


def test_an_order_search_response_yields_every_order(shop):
    second = order(id="576461413038780000")
    result = bulk(
        shop,
        {"format": "tiktok", "shop": shop.pk, "orders": [response(order(), second)]},
    )
    body = result.json()
    assert body["ok"] == 2, body
    assert [r["position"] for r in body["results"]] == [0, 1]
    assert shop.orders.count() == 2


def test_an_error_envelope_is_a_clear_refusal(shop):
    error = {
        "code": 105002,
        "message": "Expired credentials",
        "request_id": "x",
        "data": None,
    }
    with pytest.raises(PlatformErrorResponse) as raised:
        ingest_native(shop=shop, payload=error)
    assert raised.value.details["platform_code"] == "105002"
    row = bulk(shop, {"format": "tiktok", "shop": shop.pk, "orders": [error]})
    assert row.status_code == 200
    assert row.json()["results"][0]["error"]["code"] == "platform_error_response"
    assert not shop.orders.exists()


def test_a_format_the_system_does_not_know_is_a_400(shop):
    result = bulk(shop, {"format": "ebay", "shop": shop.pk, "orders": [response()]})
    assert result.status_code == 400
    assert result.json()["error"]["code"] == "invalid_input"


# --- b. ------------------------------------------------------------------------------


def test_line_amounts_are_the_per_unit_sale_prices(shop):
    o = ingest_native(shop=shop, payload=response()).order
    case_line, cable = by_sku(o)["CASE"], by_sku(o)["CABLE"]
    assert case_line.unit_price == Decimal("20.00")
    assert case_line.unit_price * case_line.quantity - case_line.discount == Decimal(
        "34.00"
    )
    assert cable.unit_price * cable.quantity - cable.discount == Decimal("10.00")
    assert o.items_total == Decimal("44.00")
    assert o.discount == Decimal("0.00")  # the discount is in the lines already
    assert o.total == Decimal("47.00")


# --- c. ------------------------------------------------------------------------------


def test_every_unit_id_is_kept_on_its_grouped_line(shop):
    o = ingest_native(shop=shop, payload=response()).order
    case_line = by_sku(o)["CASE"]
    assert case_line.quantity == 2
    assert case_line.platform_line_ids == list(UNITS)
    assert by_sku(o)["CABLE"].platform_line_ids == [CABLE]
    # A newer observation of the same order keeps them (no unit id is dropped).
    later = order(update_time=CREATED + 600, status="AWAITING_COLLECTION")
    ingest_native(shop=shop, payload=response(later))
    case_line.refresh_from_db()
    assert case_line.platform_line_ids == list(UNITS)


# --- d. ------------------------------------------------------------------------------


def test_a_return_naming_the_second_unit_matches_its_line_only(shop):
    delivered = order(
        status="DELIVERED", rts_time=CREATED + 3600, delivery_time=CREATED + 86400
    )
    o = ingest_native(shop=shop, payload=response(delivered)).order
    result = post_case(
        shop,
        {
            "cases": [
                {
                    "code": 0,
                    "message": "Success",
                    "data": {
                        "return_orders": [
                            {
                                "return_id": "4035318504086000001",
                                "order_id": ORDER_ID,
                                "return_type": "REFUND",
                                "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
                                "refund_amount": {
                                    "currency": "GBP",
                                    "refund_total": "17.00",
                                },
                                "return_line_items": [
                                    {
                                        "order_line_item_id": UNITS[1],
                                        "seller_sku": "CASE",
                                    }
                                ],
                                "create_time": CREATED + 90000,
                                "update_time": CREATED + 90000,
                            }
                        ]
                    },
                }
            ]
        },
    )
    assert result.json()["results"][0]["ok"], result.json()
    o.refresh_from_db()
    case = Case.objects.get(order=o)
    assert [(i.order_item.sku, i.quantity) for i in case.items.all()] == [("CASE", 1)]
    assert o.stage == Stage.DELIVERED
    assert o.refund_open  # the refund pauses the automatic completion
    assert o.next_deadline_kind != "complete_by"


def test_a_return_naming_an_id_that_is_not_this_orders_is_refused(shop):
    ingest_native(shop=shop, payload=response())
    result = post_case(
        shop,
        {
            "cases": [
                {
                    "return_id": "4035318504086000002",
                    "order_id": ORDER_ID,
                    "return_type": "REFUND",
                    "return_status": "RETURN_OR_REFUND_REQUEST_PENDING",
                    "return_line_items": [{"order_line_item_id": "999"}],
                }
            ]
        },
    )
    assert result.json()["results"][0]["ok"] is False


# --- e. ------------------------------------------------------------------------------


def test_the_phone_country_code_is_apart_and_the_mask_kept(shop):
    o = ingest_native(shop=shop, payload=response()).order
    assert o.buyer_phone_country_code == "+44"
    assert o.buyer_phone == "77*****23"
    assert o.buyer_phone_e164 == ""


def test_an_unmasked_phone_is_e164(shop):
    body = order()
    body["recipient_address"]["phone_number"] = "(+44)7700900123"
    o = ingest_native(shop=shop, payload=response(body)).order
    assert o.buyer_phone_e164 == "+447700900123"


# --- f. ------------------------------------------------------------------------------


def test_a_payment_without_currency_is_refused_not_stored_as_the_shops(shop):
    body = order()
    body["payment"].pop("currency")
    with pytest.raises(CurrencyRequired):
        ingest_native(shop=shop, payload=response(body))
    row = bulk(shop, {"format": "tiktok", "shop": shop.pk, "orders": [response(body)]})
    assert row.json()["results"][0]["error"]["code"] == "currency_required"
    body["line_items"] = [{**line, "currency": ""} for line in body["line_items"]]
    row = bulk(shop, {"format": "tiktok", "shop": shop.pk, "orders": [response(body)]})
    assert row.json()["results"][0]["ok"] is False
    assert not shop.orders.exists()


# --- g. ------------------------------------------------------------------------------


def test_times_are_unix_seconds_whatever_the_zone_setting(shop, settings):
    settings.OMS_PLATFORM_TIMEZONES = {"tiktok": "Asia/Bangkok"}
    o = ingest_native(shop=shop, payload=response()).order
    assert o.created_at == datetime(2025, 11, 19, tzinfo=UTC)


# --- the webhook door ------------------------------------------------------------------


def test_unit_ids_survive_a_status_change_push(shop):
    from integrations.inbound import process_inbound_event
    from integrations.models import InboundEvent

    o = ingest_native(shop=shop, payload=response()).order
    message = {
        "type": 1,
        "tts_notification_id": "7300000000001",
        "shop_id": shop.platform_shop_id or "1",
        "timestamp": CREATED + 700,
        "data": {
            "order_id": ORDER_ID,
            "order_status": "AWAITING_COLLECTION",
            "update_time": CREATED + 700,
        },
    }
    event = InboundEvent.objects.create(
        shop=shop, event_key="7300000000001", topic="1", payload=message
    )
    assert process_inbound_event(event.pk) == "processed"
    o.refresh_from_db()
    assert o.native_status == "AWAITING_COLLECTION"
    assert by_sku(o)["CASE"].platform_line_ids == list(UNITS)
    assert o.buyer_phone_country_code == "+44"
