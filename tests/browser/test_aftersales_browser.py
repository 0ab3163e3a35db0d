"""The after-sales inbox and case page in a real browser (headless Chromium, Playwright).

Customer service rejects a TikTok Shop cancel request from the inbox and agrees to a
Taobao refund on its case page, then finds both on the orders' timelines. Screenshots in
Chinese and English go to ``artifacts/screenshots/``. Same skip and launch pattern as
``test_dashboard_browser.py``.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.models import Case
from orders.choices import EventType, Role
from orders.services import Actor
from tests.browser import ARTIFACTS, BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER


def opened(order, kind, **kwargs) -> Case:
    case, _ = services.open_case(order, kind, Actor.platform(order.platform), **kwargs)
    return case


@pytest.fixture
def cases():
    tiktok = ShopFactory(
        platform="tiktok",
        name="TikTok UK",
        market="GB",
        timezone="Europe/London",
        currency="GBP",
    )
    org = tiktok.organisation
    taobao = ShopFactory(platform="taobao", name="淘宝旗舰店", organisation=org)
    aliexpress = ShopFactory(platform="aliexpress", name="AE Global", organisation=org)
    MembershipFactory(
        organisation=org, role=Role.CUSTOMER_SERVICE, user__username="kefu"
    )
    now = timezone.now()
    cancel = opened(make_order(tiktok, "AWAITING_SHIPMENT"), CaseKind.CANCEL,
                    reason="Buyer changed mind", due_at=now + timedelta(hours=3))  # fmt: skip
    refund_order = make_order(taobao, "WAIT_BUYER_CONFIRM_GOODS")
    refund = opened(
        refund_order, CaseKind.REFUND, reason="质量问题", amount="20.00",
        description="衣服有破洞，申请部分退款。",
        evidence=["https://img.example.com/hole.jpg"],
        items=[{"item": refund_order.items.get().pk, "quantity": 1}],
    )  # fmt: skip
    opened(make_order(aliexpress, "WAIT_BUYER_ACCEPT_GOODS"), CaseKind.DISPUTE,
           reason="Item not as described")  # fmt: skip
    opened(make_order(taobao, "WAIT_BUYER_CONFIRM_GOODS"), CaseKind.RETURN,
           reason="七天无理由", status="WAIT_SELLER_CONFIRM_GOODS",
           due_at=now - timedelta(hours=1))  # fmt: skip
    funds = make_order(aliexpress, "FUND_PROCESSING")
    return cancel, refund, funds


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_customer_service_works_through_the_inbox(live_server, browser, cases):
    cancel, refund, funds = cases
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "kefu")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/"))

    # The nav badge counts the cases waiting for the seller; the inbox sorts by deadline.
    assert page.inner_text("#aftersales-badge") == "4"
    page.click("#nav-aftersales")
    page.wait_for_selector("#inbox tbody tr[data-case]")
    rows = page.locator("#inbox tbody tr[data-case]")
    assert rows.count() == 4
    assert rows.first.get_attribute("class") == "overdue"
    assert "已超时" in rows.first.inner_text()
    assert rows.nth(1).get_attribute("data-case") == str(cancel.pk)
    shot(page, "aftersales-inbox")

    # Reject the TikTok Shop cancel request from the inbox, with a reason.
    page.check(f'tr[data-case="{cancel.pk}"] input[name=ids]')
    page.select_option("#inbox-form select[name=action]", "reject")
    page.fill(
        "#inbox-form input[name=reason]", "Already packed and handed to the carrier"
    )
    page.click("#batch-apply")
    page.wait_for_selector("#batch-results")
    assert page.locator("#batch-results tr.ok").count() == 1
    cancel.refresh_from_db()
    assert cancel.outcome == Outcome.REJECTED

    # Agree to the Taobao refund on its case page.
    page.goto(f"{live_server.url}/aftersales/")
    page.click(f'tr[data-case="{refund.pk}"] a.button')
    page.wait_for_selector("#case-actions")
    assert "衣服有破洞" in page.inner_text("body")
    assert page.inner_text("#case-due-doc") == "超时未处理：自动同意退款。"
    shot(page, "aftersales-case")
    page.click('form[data-action="agree"] button[type=submit]')
    page.wait_for_selector('#case-timeline li[data-action="agree"]')
    refund.refresh_from_db()
    assert refund.state == CaseState.CLOSED
    assert refund.outcome == Outcome.REFUNDED

    # Both decisions are on their orders' timelines, and in the orders' panels.
    for case, action in ((cancel, "cancel.reject"), (refund, "refund.agree")):
        page.goto(f"{live_server.url}/orders/{case.order_id}/")
        timeline = page.locator(f'#timeline li[data-type="{EventType.AFTERSALES}"]')
        assert action in timeline.last.inner_text()
        assert page.locator(f'#aftersales-panel tr[data-case="{case.pk}"]').count() == 1
    assert "20.00 CNY" in page.inner_text("#refund-summary")
    shot(page, "aftersales-order")

    # The same pages in English.
    page.click('button[data-lang="en"]')
    page.wait_for_selector('#nav-aftersales:has-text("After-sales")')
    page.goto(f"{live_server.url}/aftersales/")
    assert "overdue by" in page.inner_text("#inbox")
    shot(page, "aftersales-inbox-en")
    dispute = Case.objects.get(kind=CaseKind.DISPUTE)
    page.goto(f"{live_server.url}/aftersales/cases/{dispute.pk}/")
    assert page.locator("input[name=proposal_amount]").count() == 1
    shot(page, "aftersales-case-en")
    page.goto(f"{live_server.url}/orders/{funds.pk}/")
    assert "Waiting for fund release" in page.inner_text("#fund-release")
    shot(page, "aftersales-funds-en")
