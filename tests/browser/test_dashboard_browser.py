"""The dashboard in a real browser (headless Chromium driven by Playwright).

Screenshots of the list and the order page, in Chinese and English, are written to
``artifacts/screenshots/``. Without Chromium these tests are skipped, loudly; with
``CI=true`` they must run.
"""

import re

import pytest

from orders.choices import Role
from orders.models import Order
from tests.browser import ARTIFACTS, BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER


@pytest.fixture
def seller():
    shop = ShopFactory(
        platform="tiktok",
        name="TikTok UK",
        market="GB",
        timezone="Europe/London",
        currency="GBP",
    )
    taobao = ShopFactory(
        platform="taobao", name="淘宝旗舰店", organisation=shop.organisation
    )
    membership = MembershipFactory(
        organisation=shop.organisation, role=Role.OWNER, user__username="boss"
    )
    orders = [make_order(shop, "AWAITING_SHIPMENT") for _ in range(4)]
    orders += [make_order(shop, "UNPAID"), make_order(shop, "UNPAID")]
    orders.append(
        make_order(taobao, "WAIT_SELLER_SEND_GOODS",
                   buyer={"nick": "小明", "name": "王小明", "phone": "13912345678", "email": ""})
    )  # fmt: skip
    return membership, orders


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def count(page, tab: str) -> int:
    return int(page.locator(f'[data-count="{tab}"]').inner_text())


def test_a_seller_works_through_the_order_list(live_server, browser, seller):
    _, orders = seller
    page = browser.new_page(viewport={"width": 1366, "height": 900})

    # sign in
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/"))
    assert count(page, "all") == 7
    assert count(page, "unpaid") == 2
    shot(page, "list-zh")

    # switch tabs: the table follows, the counts stay
    page.click('[data-tab="awaiting_shipment"]')
    page.wait_for_function(
        "() => document.querySelectorAll('tbody tr[data-order]').length === 5"
    )
    assert "tab=awaiting_shipment" in page.url
    assert count(page, "awaiting_shipment") == 5

    # search by phone: the counts change with the search
    page.fill("input[name=q]", "13912345678")
    page.press("input[name=q]", "Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-count=\"all\"]').textContent.trim() === '1'"
    )
    rows = page.locator("tbody tr[data-order]")
    assert rows.count() == 1
    assert "139****5678" in rows.first.inner_text()

    # open the order, add a memo, see it on the timeline
    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    page.fill("#memo-form textarea[name=memo]", "顺丰加急")
    page.click("#memo-form button")
    page.wait_for_selector('#timeline li[data-type="memo_changed"]')
    assert "顺丰加急" in page.locator("#timeline").inner_text()
    shot(page, "order-zh")

    # batch-flag three orders and read the per-order result
    page.goto(f"{live_server.url}/orders/?tab=awaiting_shipment")
    boxes = page.locator("tbody input[name=ids]")
    for index in range(3):
        boxes.nth(index).check()
    page.select_option("select[name=action]", "flag")
    page.click("button[name=scope][value=selected]")
    page.wait_for_selector("#batch-confirm")
    page.select_option("#batch-confirm select[name=flag]", "red")
    page.click("#batch-confirm button[type=submit]")
    page.wait_for_selector("#batch-results")
    assert page.locator("#batch-results tr.ok").count() == 3
    assert Order.objects.filter(flag="red").count() == 3

    # switch the language: remembered, and the pages follow
    page.goto(f"{live_server.url}/orders/")
    page.click('button[data-lang="en"]')
    page.wait_for_selector('[data-tab="all"]:has-text("All")')
    assert "Awaiting shipment" in page.locator(".tabs").inner_text()
    shot(page, "list-en")
    page.goto(f"{live_server.url}/orders/{orders[0].pk}/")
    assert "Timeline" in page.inner_text("body")
    shot(page, "order-en")
    page.goto(f"{live_server.url}/orders/")
    assert "Needs attention" in page.locator(".tabs").inner_text()
