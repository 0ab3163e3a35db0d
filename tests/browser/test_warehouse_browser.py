"""The warehouse pages in a real browser: select orders, print, scan at hand-over.

Same skip and launch pattern as ``test_dashboard_browser.py``.
"""

import re

import pytest

from logistics.models import Carrier, Package
from logistics.services import pool_create_from_range
from orders.choices import Role
from tests.browser import ARTIFACTS, BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER


@pytest.fixture
def warehouse():
    shop = ShopFactory(platform="taobao", name="淘宝旗舰店")
    MembershipFactory(
        organisation=shop.organisation, role=Role.WAREHOUSE, user__username="packer"
    )
    carrier, _ = Carrier.objects.get_or_create(
        code="YUNDA", defaults={"name": "韵达快递"}
    )
    pool_create_from_range(
        organisation=shop.organisation,
        carrier=carrier,
        prefix="YD",
        start=1,
        end=10,
        width=8,
        price="0.80",
        currency="CNY",
        expires_at=None,
        name="Yunda",
    )
    return [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(3)]


def test_select_print_and_scan(live_server, browser, warehouse):
    orders = warehouse
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "packer")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/"))

    for order in orders:
        page.check(f'input[name=ids][value="{order.pk}"]')
    page.click("#print-selected")
    page.wait_for_url(re.compile(r"/warehouse/print/"))
    assert "3" in page.locator("#selected-count").inner_text()
    page.select_option("#print-form select[name=carrier]", "YUNDA")
    page.click("#print-form button[type=submit]")
    page.wait_for_url(re.compile(r"/warehouse/batches/\d+/$"))
    assert page.locator("#entries tbody tr").count() == 3
    assert page.locator("#downloads a").count() == 4

    page.click("#scan-link")
    page.wait_for_url(re.compile(r"/scan/$"))
    numbers = [Package.objects.get(order=order).tracking_number for order in orders]
    for number in numbers[:2]:
        page.fill("#scan-input", number)
        page.press("#scan-input", "Enter")
        page.wait_for_selector('#scan-result[data-outcome="ok"]')
        assert number in page.locator("#scan-result").inner_text()
    page.fill("#scan-input", numbers[0])
    page.press("#scan-input", "Enter")
    page.wait_for_selector('#scan-result[data-outcome="already_scanned"]')
    rows = page.locator("#unscanned tbody tr[data-package]")
    assert rows.count() == 1
    assert numbers[2] in rows.first.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "warehouse-scan.png"), full_page=True)
