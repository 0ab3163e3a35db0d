"""The order page's shipments panel (L6): tracking events, failed and stalled parcels,
and the redelivery form, through the page and the same service as the API."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from logistics import tracking
from logistics.models import Package, PackageStatus, RedeliveryRequest
from orders.choices import Role
from orders.models import Order
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Pages in English (the default language is Simplified Chinese)."""
    settings.LANGUAGE_CODE = "en"


T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Kuala Lumpur
NUMBER = "YD9000000001"


@pytest.fixture
def shop(db):
    return ShopFactory(
        platform="tiktok"
    )  # Asia/Kuala_Lumpur, a 7-day redelivery window


@pytest.fixture
def organisation(shop):
    return shop.organisation


@pytest.fixture
def operator(organisation):
    return MembershipFactory(organisation=organisation, role=Role.OPERATOR)


@pytest.fixture
def package(shop, carrier):
    order = make_order(shop, "IN_TRANSIT")
    return Package.objects.create(
        organisation=shop.organisation,
        order=order,
        carrier=carrier,
        tracking_number=NUMBER,
        status=PackageStatus.IN_TRANSIT,
        handed_over_at=T0,
    )


def push(organisation, carrier, *events):
    results = tracking.ingest_tracking_events(
        organisation=organisation,
        events=[
            {
                "carrier": carrier.code,
                "tracking_number": NUMBER,
                "occurred_at": at.isoformat(),
                "code": code,
                "location": location,
            }
            for at, code, location in events
        ],
    )
    assert [r["outcome"] for r in results] == ["created"] * len(events)


def page(client, package):
    response = client.get(f"/orders/{package.order_id}/")
    assert response.status_code == 200
    return response.content.decode()


def failed(organisation, carrier):
    push(
        organisation,
        carrier,
        (T0 + timedelta(hours=1), "in_transit", "Shah Alam hub"),
        (T0 + timedelta(hours=30), "delivery_failed", "Petaling Jaya"),
    )


def test_events_newest_first_in_shop_time(
    client, organisation, carrier, package, operator
):
    push(
        organisation,
        carrier,
        (T0, "accepted", "Kuala Lumpur"),
        (T0 + timedelta(hours=5), "in_transit", "Shah Alam hub"),
    )
    client.force_login(operator.user)
    html = page(client, package)
    panel = html[html.index(f'data-package-events="{package.pk}"') :]
    newest, oldest = panel.index("Shah Alam hub"), panel.index("Kuala Lumpur")
    assert newest < oldest
    assert "2026-03-02 15:00" in panel  # 07:00 UTC in the shop's zone
    assert "2026-03-02 10:00" in panel
    assert 'data-state="delivery-failed"' not in html
    assert 'data-state="stalled"' not in html


def test_stalled_and_failed_states_are_shown(
    client, organisation, carrier, package, operator
):
    Package.objects.filter(pk=package.pk).update(stalled=True)
    client.force_login(operator.user)
    assert 'data-state="stalled"' in page(client, package)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        failed(organisation, carrier)
        html = page(client, package)
    assert 'data-state="delivery-failed"' in html
    assert 'data-state="stalled"' not in html  # a new event clears the flag
    assert 'data-redelivery="open"' in html
    assert "2026-03-10 16:00" in html  # the window closes 7 days after the failure


def test_redelivery_from_the_page_inside_the_window(
    client, organisation, carrier, package, operator
):
    client.force_login(operator.user)
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        failed(organisation, carrier)
        assert 'class="stack redelivery-form"' in page(client, package)
        response = client.post(
            f"/orders/{package.order_id}/packages/{package.pk}/redelivery/",
            {
                "country": "MY",
                "city": "Petaling Jaya",
                "street": "12 Jalan SS2/24",
                "postcode": "47300",
                "phone": "60123456789",
            },
            follow=True,
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Redelivery requested for {NUMBER}." in html
    assert 'data-redelivery="requested"' in html
    request = RedeliveryRequest.objects.get(package=package)
    assert (request.street, request.phone) == ("12 Jalan SS2/24", "60123456789")
    assert Order.objects.get(pk=package.order_id).address_street == "12 Jalan SS2/24"


def test_redelivery_after_the_window_is_refused_with_a_clear_message(
    client, organisation, carrier, package, operator
):
    failed(organisation, carrier)
    client.force_login(operator.user)
    order = Order.objects.get(pk=package.order_id)
    with time_machine.travel(T0 + timedelta(hours=30, days=7, minutes=1), tick=False):
        html = page(client, package)
        assert 'data-redelivery="closed"' in html
        assert 'class="stack redelivery-form"' not in html
        response = client.post(
            f"/orders/{package.order_id}/packages/{package.pk}/redelivery/",
            {"country": "MY", "city": "PJ", "street": "Somewhere 1"},
            follow=True,
        )
    html = response.content.decode()
    assert (
        "Refused: the redelivery window closed at 2026-03-10 16:00 (shop time)." in html
    )
    assert not RedeliveryRequest.objects.exists()
    after = Order.objects.get(pk=package.order_id)
    assert (after.address_street, after.version) == (
        order.address_street,
        order.version,
    )


def test_packers_see_the_state_but_get_no_form(client, organisation, carrier, package):
    packer = MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    client.force_login(packer.user)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        failed(organisation, carrier)
        html = page(client, package)
        response = client.post(
            f"/orders/{package.order_id}/packages/{package.pk}/redelivery/",
            {"country": "MY", "street": "Somewhere 1"},
        )
    assert 'data-redelivery="open"' in html
    assert "redelivery-form" not in html
    assert response.status_code == 403
    assert not RedeliveryRequest.objects.exists()


def test_another_organisations_package_is_not_found(
    client, organisation, carrier, package
):
    stranger = MembershipFactory(role=Role.OWNER)
    client.force_login(stranger.user)
    response = client.post(
        f"/orders/{package.order_id}/packages/{package.pk}/redelivery/",
        {"country": "MY", "street": "Somewhere 1"},
    )
    assert response.status_code == 404
    mine = MembershipFactory(organisation=organisation, role=Role.OWNER)
    other = make_order(
        ShopFactory(organisation=organisation, platform="tiktok"), "IN_TRANSIT"
    )
    client.force_login(mine.user)
    response = client.post(
        f"/orders/{other.pk}/packages/{package.pk}/redelivery/",
        {"country": "MY", "street": "Somewhere 1"},
    )
    assert response.status_code == 404  # the package is not on that order
    assert not RedeliveryRequest.objects.exists()


def test_the_panel_and_refusal_in_chinese(
    client, settings, organisation, carrier, package, operator
):
    settings.LANGUAGE_CODE = "zh-hans"
    failed(organisation, carrier)
    client.force_login(operator.user)
    with time_machine.travel(T0 + timedelta(hours=30, days=8), tick=False):
        html = client.get(f"/orders/{package.order_id}/").content.decode()
        response = client.post(
            f"/orders/{package.order_id}/packages/{package.pk}/redelivery/",
            {"country": "MY", "street": "Somewhere 1"},
            follow=True,
        )
    assert "派送失败" in html
    assert "重新派送期限已于 2026-03-10 16:00（店铺时间）结束" in html
    assert "已拒绝：重新派送期限已于 2026-03-10 16:00（店铺时间）结束" in (
        response.content.decode()
    )
