"""What generic code reads from the platform registry instead of naming platforms:
OpenAPI enums, the dashboards' platform filters, factory and demo shops, message rules,
webhook formats, hand-over by collection. ``OMS_PLATFORMS`` is overridden in tests, so
each surface must follow the installed packages, not a list written at import time."""

import pytest

from aftersales import messaging
from integrations.models import InboundEvent
from logistics.print_batches import handover_action
from oms.management.commands.seed_demo import demo_shops
from orders.choices import Role
from orders.platforms import platform_codes
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db

DEFAULT = ["platforms.taobao", "platforms.aliexpress", "platforms.tiktok"]
WITH_MOCKMART = ["platforms.taobao", "tests.mockmart_platform"]


WEBHOOK = "/api/v1/platforms/{shop_id}/webhook/"


def platform_enums(client) -> dict[str, list[str]]:
    schema = client.get("/api/v1/schema/?format=json").json()
    platform_enums.webhook = schema["paths"][WEBHOOK]["post"]["description"]
    found = {}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "platform":
                    items = parameter["schema"].get("items", parameter["schema"])
                    found[path] = items["enum"]
    return found


def test_the_openapi_platform_enums_are_the_installed_platforms(client, settings):
    enums = platform_enums(client)
    assert {"/api/v1/orders/", "/api/v1/cases/"} <= set(enums)
    assert all(sorted(e) == sorted(platform_codes()) for e in enums.values())
    assert sorted(platform_codes()) == ["aliexpress", "taobao", "tiktok"]
    assert (
        "tts_notification_id" in platform_enums.webhook
    )  # TikTok's format, documented

    settings.OMS_PLATFORMS = WITH_MOCKMART
    enums = platform_enums(client)
    assert {"/api/v1/orders/", "/api/v1/cases/"} <= set(enums)
    assert all(e == ["mockmart", "taobao"] for e in enums.values()), enums
    assert "**Taobao**" in platform_enums.webhook
    assert "tts_notification_id" not in platform_enums.webhook


@pytest.mark.parametrize("page", ["/orders/", "/aftersales/"])
def test_the_dashboard_platform_filters_list_the_installed_platforms(
    client, settings, page
):
    settings.OMS_PLATFORMS = WITH_MOCKMART
    shop = ShopFactory(platform="mockmart")
    membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    client.force_login(membership.user)
    html = client.get(page).content.decode()
    assert '<option value="mockmart"' in html
    assert "MockMart" in html
    assert '<option value="tiktok"' not in html


def test_factory_shops_take_their_defaults_from_the_package(settings):
    tiktok = ShopFactory(platform="tiktok")
    assert (tiktok.market, tiktok.timezone, tiktok.currency) == (
        "MY",
        "Asia/Kuala_Lumpur",
        "MYR",
    )
    assert ShopFactory().platform == "taobao"  # the first installed
    settings.OMS_PLATFORMS = list(reversed(WITH_MOCKMART))
    shop = ShopFactory()
    assert (shop.platform, shop.timezone, shop.currency) == ("mockmart", "UTC", "USD")


def test_demo_shops_are_the_ones_the_installed_packages_declare(settings):
    assert [(code, demo.market) for code, demo in demo_shops()] == [
        ("taobao", ""),
        ("aliexpress", ""),
        ("tiktok", "GB"),
        ("tiktok", "MY"),
    ]
    assert sum(demo.share for _, demo in demo_shops()) == pytest.approx(1.0)
    settings.OMS_PLATFORMS = WITH_MOCKMART
    assert [code for code, _ in demo_shops()] == ["taobao"]


def test_a_platform_without_a_message_rule_gets_the_generic_default(settings):
    settings.OMS_PLATFORMS = WITH_MOCKMART
    assert messaging.rule_for("mockmart") is messaging.DEFAULT_RULE
    assert set(messaging.message_rules()) == {"taobao"}


def test_a_platform_without_a_webhook_format_refuses_every_push(client, settings):
    settings.OMS_PLATFORMS = WITH_MOCKMART
    shop = ShopFactory(platform="mockmart", app_key="k", app_secret="s")
    response = client.post(
        f"/api/v1/platforms/{shop.pk}/webhook/",
        data=b"{}",
        content_type="application/json",
        HTTP_X_OMS_PLATFORM_SIGNATURE="0" * 64,
    )
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_hand_over_by_collection_is_the_platforms_capability():
    collecting = make_order(ShopFactory(platform="tiktok"), "AWAITING_COLLECTION")
    shipping = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    taobao = make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS")
    assert handover_action(collecting) == "collect"
    assert handover_action(shipping) == ""  # collect is not allowed from here
    assert handover_action(taobao) == ""  # Taobao hands over no other way
