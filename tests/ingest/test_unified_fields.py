"""The unified shape carries the payload facts too: the phone's country code apart,
every platform line id of a line; the order API shows them back."""

import pytest

from tests.api.conftest import key_client
from tests.factories import ShopFactory, order_payload
from tests.ingest.helpers import bulk

pytestmark = pytest.mark.django_db


def test_phone_country_code_and_line_ids_go_in_and_come_out():
    shop = ShopFactory(platform="tiktok", market="GB", currency="GBP")
    payload = order_payload(shop, "AWAITING_SHIPMENT")
    payload["shop"] = shop.pk
    payload["buyer"] = {**payload.get("buyer", {}), "phone": "7700*****23",
                        "phone_country_code": "44"}  # fmt: skip
    item = payload["items"][0]
    item.update(quantity=2, line_id="", platform_line_ids=["577001", "577002"])
    result = bulk(shop, {"orders": [payload]}).json()["results"][0]
    assert result["ok"], result
    body = key_client(shop.organisation).get(f"/api/v1/orders/{result['id']}/").json()
    assert body["buyer"]["phone_country_code"] == "+44"
    assert "*" in body["buyer"]["phone"]
    line = body["items"][0]
    assert line["line_id"] == "577001"
    assert line["platform_line_ids"] == ["577001", "577002"]


def test_more_line_ids_than_units_is_refused():
    shop = ShopFactory(platform="tiktok", market="GB", currency="GBP")
    payload = order_payload(shop, "AWAITING_SHIPMENT")
    payload["shop"] = shop.pk
    payload["items"][0].update(quantity=1, platform_line_ids=["1", "2"])
    result = bulk(shop, {"orders": [payload]}).json()["results"][0]
    assert result["ok"] is False
    assert not shop.orders.exists()
