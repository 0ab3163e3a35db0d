"""The Content-Security-Policy in a real browser: every page works and Chromium reports
no violation (issue 11, failure 12).

The behaviour that used inline handlers (sort, the inbox filters, the organisation
switch) and the styles that were inline (conversation, buyer page, scan result) are
exercised here under the policy, as are the API docs and the admin. Chromium reports each
refusal as a ``securitypolicyviolation`` event, collected by an init script (which runs
outside the page's policy) and read back after each step.
"""

import re

import pytest

from aftersales import services
from aftersales.choices import CaseKind
from logistics.models import Carrier, PrintBatch
from logistics.services import pool_create_from_range
from orders.choices import Role
from orders.services import Actor
from tests.browser import BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER

COLLECT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def seller():
    shop = ShopFactory(platform="taobao", name="淘宝旗舰店")
    org = shop.organisation
    tiktok = ShopFactory(platform="tiktok", organisation=org, name="TikTok MY")
    boss = MembershipFactory(
        organisation=org,
        role=Role.OWNER,
        user__username="boss",
        user__is_staff=True,
        user__is_superuser=True,
    )
    MembershipFactory(user=boss.user, role=Role.OWNER)  # a second organisation
    carrier, _ = Carrier.objects.get_or_create(
        code="YUNDA",
        defaults={"name": "韵达快递", "platform_codes": {"taobao": "YUNDA"}},
    )
    pool_create_from_range(
        organisation=org, carrier=carrier, prefix="YD", start=1, end=10, width=8,
        price="0.80", currency="CNY", expires_at=None, name="Yunda",
    )  # fmt: skip
    orders = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(3)]
    services.open_case(
        make_order(tiktok, "AWAITING_SHIPMENT"),
        CaseKind.CANCEL,
        Actor.platform("tiktok"),
        platform_case_id="C-1",
        reason="Buyer changed mind",
    )
    return org, orders


def violations(page) -> list[str]:
    return page.evaluate("() => window.__cspViolations || []")


def test_the_pages_work_under_the_policy(live_server, browser, seller):
    org, orders = seller
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(COLLECT)
    page = context.new_page()
    base = live_server.url

    page.goto(f"{base}/login/")
    assert violations(page) == []
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/"))
    assert violations(page) == []

    # the sort select (was an inline onchange)
    sort = page.locator("select[name=sort]")
    other = sort.locator("option").nth(1).get_attribute("value")
    sort.select_option(other)
    page.wait_for_url(re.compile(rf"sort={re.escape(other)}"))
    assert violations(page) == []

    # the order page: countdowns, the conversation panel and its styles
    page.goto(f"{base}/orders/{orders[0].pk}/")
    page.wait_for_selector("#conversation .thread")
    assert (
        page.locator("#conversation .thread").evaluate(
            "(el) => getComputedStyle(el).display"
        )
        == "flex"
    )
    assert violations(page) == []
    page.goto(f"{base}/orders/{orders[0].pk}/buyer/")
    assert violations(page) == []

    # the inbox filters (were inline onchange handlers)
    page.goto(f"{base}/aftersales/")
    page.locator("select[name=platform]").select_option("tiktok")
    page.wait_for_url(re.compile(r"platform=tiktok"))
    assert violations(page) == []

    # print, then scan: the outcome's colour comes from the stylesheet
    page.goto(f"{base}/warehouse/to-ship/")
    assert violations(page) == []
    page.goto(f"{base}/warehouse/print/?ids={orders[0].pk}&ids={orders[1].pk}")
    page.click("form#print-form button[type=submit], form button.primary")
    page.wait_for_url(re.compile(r"/warehouse/batches/\d+/"))
    batch = PrintBatch.objects.get(organisation=org)
    page.goto(f"{base}/warehouse/batches/{batch.pk}/scan/")
    page.fill("#scan-input", "NOT-A-NUMBER")
    page.press("#scan-input", "Enter")
    result = page.wait_for_selector("#scan-result")
    assert result.evaluate("(el) => getComputedStyle(el).backgroundColor") == (
        "rgb(207, 34, 46)"
    )
    assert violations(page) == []

    # the API docs (Swagger UI) and the admin
    page.goto(f"{base}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info")
    assert violations(page) == []
    page.goto(f"{base}/admin/")
    page.wait_for_selector("#content")
    assert violations(page) == []

    # the organisation switch (was an inline onchange)
    page.goto(f"{base}/orders/")
    switch = page.locator("select[name=organisation]")
    current = switch.input_value()
    target = next(
        value
        for value in switch.locator("option").evaluate_all(
            "(options) => options.map((o) => o.value)"
        )
        if value != current
    )
    with page.expect_navigation():
        switch.select_option(target)
    assert page.locator("select[name=organisation]").input_value() == target
    assert violations(page) == []
    context.close()
