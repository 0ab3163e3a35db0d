"""The warehouse pools and carriers pages (L1, L2): figures, the record form, refusals."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logistics.models import TrackingNumber, TrackingNumberPool
from logistics.services import allocate, mark_used, pool_create_from_range, void
from logistics.shipping import ship
from orders.choices import Role
from orders.services import Actor
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Pages in English (the default language is Simplified Chinese)."""
    settings.LANGUAGE_CODE = "en"


URL = "/warehouse/pools/"


@pytest.fixture
def packer(organisation):
    return MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)


def a_pool(organisation, carrier, start=1, end=10, **overrides):
    arguments = {
        "organisation": organisation,
        "carrier": carrier,
        "prefix": "YD",
        "start": start,
        "end": end,
        "width": 8,
        "price": "0.80",
        "currency": "CNY",
        "expires_at": None,
        "name": f"Yunda {start}",
    } | overrides
    return pool_create_from_range(**arguments)


def form(carrier, **fields):
    data = {
        "carrier": carrier.pk,
        "name": "Yunda March",
        "source": "range",
        "prefix": "yd",
        "start": "1",
        "end": "5",
        "width": "6",
        "numbers": "",
        "price": "0.75",
        "currency": "CNY",
        "purchased_at": "",
        "expires_at": "",
    }
    data.update(fields)
    return data


def test_the_list_shows_usage_in_one_aggregate_query(
    client, organisation, shop, carrier, orders, packer
):
    pool = a_pool(organisation, carrier)  # 10 numbers at 0.80
    (order,) = orders(1)
    taken = allocate(organisation=organisation, carrier=carrier, count=4)
    mark_used([taken[0]], order_id=order.pk)
    void(taken[1], reason="torn label")
    soon = a_pool(
        organisation,
        carrier,
        start=100,
        end=102,
        expires_at=timezone.now() + timedelta(days=2),
    )
    a_pool(OrganisationFactory(), carrier, start=500, end=501)  # not ours

    client.force_login(packer.user)
    with CaptureQueriesContext(connection) as few:
        response = client.get(URL)
    assert response.status_code == 200
    rows = {p.pk: stats for p, stats in response.context["rows"]}
    assert set(rows) == {pool.pk, soon.pk}
    stats = rows[pool.pk]
    assert (stats.total, stats.available, stats.reserved, stats.used, stats.void) == (
        10,
        6,
        2,
        1,
        1,
    )
    assert stats.remaining == 6
    assert stats.cost_per_used == Decimal("8.0000")  # 10 × 0.80 over 1 used
    assert rows[soon.pk].expiring_soon == 3
    html = response.content.decode()
    assert "3 expiring soon" in html
    assert 'id="pool-form"' in html

    # More pools do not add queries: the counts come from one grouped query.
    for start in (200, 300, 400):
        a_pool(organisation, carrier, start=start, end=start + 1)
    with CaptureQueriesContext(connection) as more:
        response = client.get(URL)
    assert len(response.context["rows"]) == 5
    assert len(more.captured_queries) == len(few.captured_queries)
    pool_queries = [
        q["sql"]
        for q in more.captured_queries
        if 'FROM "logistics_trackingnumberpool"' in q["sql"]
    ]
    assert len(pool_queries) == 1
    assert "COUNT(" in pool_queries[0]


def test_record_a_range_with_price_purchase_time_and_expiry(
    client, organisation, shop, carrier, packer
):
    client.force_login(packer.user)
    response = client.post(
        URL,
        form(
            carrier,
            purchased_at="2026-01-10T09:30",
            expires_at="2099-06-30T18:00",
        ),
    )
    assert response.status_code == 302
    pool = TrackingNumberPool.objects.get(organisation=organisation)
    zone = ZoneInfo(shop.timezone)  # the shop's wall clock, not the server's
    assert pool.purchased_at == datetime(2026, 1, 10, 9, 30, tzinfo=zone)
    assert pool.expires_at == datetime(2099, 6, 30, 18, 0, tzinfo=zone)
    assert pool.price_per_number == Decimal("0.75")
    assert list(
        TrackingNumber.objects.filter(pool=pool).values_list("number", flat=True)
    ) == ["YD000001", "YD000002", "YD000003", "YD000004", "YD000005"]
    assert "Yunda March" in client.get(URL).content.decode()


def test_record_a_pasted_list(client, organisation, carrier, packer):
    client.force_login(packer.user)
    response = client.post(
        URL,
        form(carrier, source="list", numbers="yd777\nYD778, YD779\n\n", start=""),
    )
    assert response.status_code == 302
    assert sorted(
        TrackingNumber.objects.filter(organisation=organisation).values_list(
            "number", flat=True
        )
    ) == ["YD777", "YD778", "YD779"]


def test_a_number_used_on_an_order_is_refused_naming_the_order(
    client, organisation, carrier, orders, packer
):
    (order,) = orders(1)
    ship(
        order.pk,
        actor=Actor.member(packer),
        carrier_code=carrier.code,
        tracking_number="YD000003",
    )
    client.force_login(packer.user)
    response = client.post(URL, form(carrier))  # YD000001 … YD000005
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1
    assert "YD000003" in errors[0]
    assert order.platform_order_id in errors[0]
    assert order.platform_order_id in response.content.decode()
    assert not TrackingNumberPool.objects.filter(organisation=organisation).exists()
    assert TrackingNumber.objects.filter(organisation=organisation).count() == 1


def test_form_errors_are_on_their_fields_and_nothing_is_recorded(
    client, organisation, carrier, packer
):
    client.force_login(packer.user)
    missing = client.post(URL, form(carrier, start="", end=""))
    assert set(missing.context["form"].errors) == {"start", "end"}
    empty_list = client.post(URL, form(carrier, source="list", numbers=" \n "))
    assert list(empty_list.context["form"].errors) == ["numbers"]
    expired = client.post(URL, form(carrier, expires_at="2020-01-01T00:00"))
    assert expired.context["form"].errors["expires_at"] == [
        "The pool has already expired."
    ]
    future = client.post(URL, form(carrier, purchased_at="2099-01-01T00:00"))
    assert future.context["form"].errors["purchased_at"] == [
        "The purchase time is in the future."
    ]
    bad = client.post(URL, form(carrier, source="list", numbers="YD-1"))
    assert "letters and digits" in bad.context["form"].errors["numbers"][0]
    assert not TrackingNumberPool.objects.exists()
    assert not TrackingNumber.objects.exists()


def test_roles_and_isolation(client, organisation, carrier):
    service = MembershipFactory(organisation=organisation, role=Role.CUSTOMER_SERVICE)
    client.force_login(service.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form(carrier)).status_code == 403
    assert client.get("/warehouse/carriers/").status_code == 403
    assert not TrackingNumber.objects.exists()
    for role in (Role.OWNER, Role.OPERATOR, Role.WAREHOUSE):
        member = MembershipFactory(organisation=organisation, role=role)
        client.force_login(member.user)
        assert client.get(URL).status_code == 200


def test_the_carriers_page_lists_platform_codes_url_and_label_size(
    client, organisation, carrier, packer
):
    carrier.platform_codes = {"taobao": "YUNDA", "aliexpress": "YUNDA_AE"}
    carrier.tracking_url_template = "https://example.com/track?n={number}"
    carrier.save()
    client.force_login(packer.user)
    response = client.get("/warehouse/carriers/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-carrier="YUNDA"' in html
    assert "YUNDA_AE" in html
    assert "https://example.com/track?n={number}" in html
    assert str(carrier.get_default_label_size_display()) in html
    row = {c.code: codes for c, codes in response.context["carriers"]}["YUNDA"]
    platforms = [code for code, _label in response.context["platforms"]]
    assert dict(zip(platforms, row, strict=True))["aliexpress"] == "YUNDA_AE"
    # The warehouse nav links both pages.
    nav = client.get("/warehouse/to-ship/").content.decode()
    assert 'href="/warehouse/pools/"' in nav
    assert 'href="/warehouse/carriers/"' in nav
