"""Fixtures for the logistics tests: a carrier, an organisation with a shop, orders."""

import pytest

from logistics.models import Carrier
from tests.factories import ShopFactory, make_order


@pytest.fixture
def carrier(db):
    # Seeded by the data migration; transactional tests flush the tables, so re-make it.
    carrier, _ = Carrier.objects.get_or_create(
        code="YUNDA",
        defaults={"name": "韵达快递", "platform_codes": {"taobao": "YUNDA"}},
    )
    return carrier


@pytest.fixture
def shop(db):
    return ShopFactory(platform="taobao")


@pytest.fixture
def organisation(shop):
    return shop.organisation


@pytest.fixture
def orders(shop):
    def make(n: int) -> list:
        return [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(n)]

    return make
