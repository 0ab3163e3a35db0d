"""The seller dashboard, server side: roles, shops, tabs, actions, batches, languages."""

import re

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.choices import Role
from orders.models import Order
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


def member(shop, role=Role.OWNER, client=None):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    if client is not None:
        client.force_login(membership.user)
    return membership


def test_sign_in_and_out(client):
    shop = ShopFactory(platform="taobao")
    membership = member(shop)
    page = client.get("/orders/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
    wrong = client.post(
        "/login/", {"username": membership.user.username, "password": "nope"}
    )
    assert "error" in wrong.content.decode()
    signed_in = client.post(
        "/login/", {"username": membership.user.username, "password": "pw"}
    )
    assert signed_in["Location"] == "/orders/"
    assert client.get("/orders/").status_code == 200
    client.post("/logout/")
    assert client.get("/orders/").status_code == 302


def tab_counts(html: str) -> dict[str, int]:
    return {
        key: int(n) for key, n in re.findall(r'data-count="([a-z_]+)">(\d+)<', html)
    }


def test_tabs_count_only_the_members_shops(client):
    shop = ShopFactory(platform="tiktok")
    other = ShopFactory(platform="taobao", organisation=shop.organisation)
    for status in ("UNPAID", "AWAITING_SHIPMENT", "AWAITING_SHIPMENT"):
        make_order(shop, status)
    hidden = make_order(other, "WAIT_SELLER_SEND_GOODS")
    make_order(ShopFactory(platform="tiktok"), "UNPAID")  # another organisation
    limited = member(shop, Role.OPERATOR, client)
    limited.shops.add(shop)

    html = client.get("/orders/").content.decode()
    counts = tab_counts(html)
    assert counts["all"] == 3
    assert counts["unpaid"] == 1
    assert counts["awaiting_shipment"] == 2
    assert hidden.platform_order_id not in html
    assert client.get(f"/orders/{hidden.pk}/").status_code == 404
    assert tab_counts(client.get("/orders/?tab=unpaid").content.decode())["all"] == 3


def test_search_by_phone_and_filters(client):
    shop = ShopFactory(platform="tiktok")
    wanted = make_order(
        shop,
        "UNPAID",
        buyer={"nick": "a", "name": "b", "phone": "13900001111", "email": ""},
    )
    other = make_order(shop, "UNPAID")
    member(shop, client=client)
    html = client.get("/orders/?q=13900001111").content.decode()
    assert wanted.platform_order_id in html
    assert other.platform_order_id not in html
    assert "139****1111" in html  # masked in the list
    assert "13900001111\n" not in html
    bad = client.get("/orders/?stage=nonsense").content.decode()
    assert "stage" in bad


def test_the_list_runs_the_same_queries_for_20_and_100_rows(client):
    shop = ShopFactory(platform="tiktok")
    for _ in range(100):
        make_order(shop, "UNPAID")
    member(shop, client=client)
    counts = []
    for size in (20, 100):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/orders/?size={size}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# Every action of the role table: (action, form data, status, roles allowed).
ACTIONS = [
    ("memo", {"memo": "x"}, "AWAITING_SHIPMENT", {Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE}),
    ("hold", {}, "AWAITING_SHIPMENT", {Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE, Role.WAREHOUSE}),
    ("adjust_price", {"total": "50.00"}, "UNPAID", {Role.OWNER, Role.OPERATOR}),
    ("edit_address", {"street": "新地址 1 号"}, "AWAITING_SHIPMENT",
     {Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE}),
    ("cancel", {"reason": "seller_cancel_reason_out_of_stock"}, "AWAITING_SHIPMENT", {Role.OWNER, Role.OPERATOR}),
]  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    ("action", "data", "status", "allowed"), ACTIONS, ids=[a[0] for a in ACTIONS]
)
def test_each_action_is_allowed_exactly_to_its_roles(
    client, role, action, data, status, allowed
):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, status)
    member(shop, role, client)
    response = client.post(f"/orders/{order.pk}/{action}/", data)
    changed = Order.objects.get(pk=order.pk)
    if role in allowed:
        assert response.status_code == 302
        assert changed.version == 2
    else:
        assert response.status_code == 403
        assert changed.version == 1
        assert changed.events.count() == 1


def test_release_is_for_every_role_but_warehouse(client):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    Order.objects.filter(pk=order.pk).update(on_hold=True)
    member(shop, Role.WAREHOUSE, client)
    assert client.post(f"/orders/{order.pk}/release/").status_code == 403
    assert Order.objects.get(pk=order.pk).on_hold


def test_a_refused_action_shows_the_reason_and_changes_nothing(client):
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "IN_TRANSIT")
    member(shop, client=client)
    page = client.post(
        f"/orders/{order.pk}/adjust_price/", {"total": "1.00"}, follow=True
    )
    assert "not_unpaid" in page.content.decode()
    assert Order.objects.get(pk=order.pk).version == 1


def test_memo_appears_in_the_timeline(client):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    member(shop, client=client)
    client.post(
        f"/orders/{order.pk}/memo/", {"memo": "加急", "flag": "red", "version": "1"}
    )
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-type="memo_changed"' in html
    assert "加急" in html


def test_batch_confirms_then_reports_per_order(client):
    shop = ShopFactory(platform="tiktok")
    orders = [
        make_order(shop, "AWAITING_SHIPMENT"),
        make_order(shop, "AWAITING_SHIPMENT"),
        make_order(shop, "IN_TRANSIT"),
    ]
    member(shop, client=client)
    ids = [o.pk for o in orders]
    confirm = client.post("/orders/batch/", {"action": "hold", "ids": ids})
    assert "3" in confirm.content.decode()
    assert not Order.objects.filter(on_hold=True).exists()  # nothing before confirming
    result = client.post(
        "/orders/batch/", {"action": "hold", "ids": ids, "confirm": "yes"}
    ).content.decode()
    assert result.count('class="ok"') == 2
    assert result.count('class="refused"') == 1
    assert "not_open" in result
    assert Order.objects.filter(on_hold=True).count() == 2


def test_batch_on_all_matching_the_filter(client):
    shop = ShopFactory(platform="tiktok")
    unpaid = [make_order(shop, "UNPAID") for _ in range(3)]
    shipped = make_order(shop, "AWAITING_SHIPMENT")
    member(shop, client=client)
    client.post(
        "/orders/batch/",
        {
            "action": "flag",
            "scope": "filter",
            "query": "tab=unpaid",
            "flag": "blue",
            "confirm": "yes",
            "count": "3",  # what the confirmation showed (tests/orders/test_batch_filter.py)
        },
    )
    assert {o.flag for o in Order.objects.filter(pk__in=[o.pk for o in unpaid])} == {
        "blue"
    }
    assert Order.objects.get(pk=shipped.pk).flag == ""


def test_a_member_of_two_organisations_switches(client):
    first = ShopFactory(platform="taobao")
    second = ShopFactory(platform="tiktok")
    membership = member(first, client=client)
    MembershipFactory(
        organisation=second.organisation, user=membership.user, role=Role.OPERATOR
    )
    in_second = make_order(second, "UNPAID")
    first_slug, second_slug = first.organisation.slug, second.organisation.slug
    assert first_slug != second_slug
    client.post("/organisation/", {"organisation": second_slug})
    assert in_second.platform_order_id in client.get("/orders/").content.decode()
    client.post("/organisation/", {"organisation": first_slug})
    assert in_second.platform_order_id not in client.get("/orders/").content.decode()


def english_msgids() -> set[str]:
    catalog = polib.pofile(
        settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    )
    return {
        e.msgid
        for e in catalog
        if e.msgstr
        and e.msgstr != e.msgid
        and re.fullmatch(r"[A-Z][A-Za-z /()-]{4,}", e.msgid)
    }


def visible_text(html: str) -> str:
    """The page's text without scripts and without buyer data (marked translate="no")."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<(\w+)[^>]*translate="no"[^>]*>.*?</\1>', " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_page_loads_with_the_demo_data_in_both_languages(client, language):
    call_command("seed_demo", orders=60, seed=7, stdout=open("/dev/null", "w"))  # noqa: SIM115
    client.login(username="owner", password="demo")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    pages = ["/orders/"] + [f"/orders/?tab={tab}" for tab in
             ("unpaid", "awaiting_shipment", "shipped", "delivered", "completed", "closed", "attention")]  # fmt: skip
    pages += [
        f"/orders/{pk}/"
        for pk in Order.objects.order_by("?").values_list("pk", flat=True)[:15]
    ]
    untranslated = english_msgids()
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if language == "zh-hans":
            text = visible_text(response.content.decode())
            left = sorted(
                m
                for m in untranslated
                if re.search(rf"(?<![\w]){re.escape(m)}(?![\w])", text)
            )
            assert left == [], f"{url}: untranslated {left}"


def test_date_filters_are_days_in_the_shops_zone(client):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    shop = ShopFactory(platform="taobao")  # Asia/Shanghai
    beijing = ZoneInfo("Asia/Shanghai")
    early = make_order(
        shop,
        "WAIT_BUYER_PAY",
        created_at=datetime(2026, 11, 1, 0, 30, tzinfo=beijing).isoformat(),
    )
    late = make_order(
        shop,
        "WAIT_BUYER_PAY",
        created_at=datetime(2026, 10, 31, 23, 30, tzinfo=beijing).isoformat(),
    )
    member(shop, client=client)
    html = client.get(
        "/orders/?created_from=2026-11-01&created_to=2026-11-01"
    ).content.decode()
    assert early.platform_order_id in html
    assert late.platform_order_id not in html
