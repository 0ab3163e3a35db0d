"""Issue 11 failures 6 and 7 in a real browser (headless Chromium through Playwright).

A tab, then a search (both htmx swaps), then "apply to all matching": the button, the
confirmation and the result all count exactly the tab's matching orders; beyond the
synchronous limit the same filter runs as a background job whose page follows its
progress. And a stale memo shows the conflict with both texts.
"""

import re

import pytest
from django.test import override_settings

from orders import background
from orders.choices import Role
from orders.models import BackgroundJob, Order
from tests.browser import ARTIFACTS, BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER

PHONE = "13700001234"


@pytest.fixture
def seller():
    shop = ShopFactory(platform="tiktok", name="TikTok 店")
    buyer = {"nick": "老顾客", "name": "李四", "phone": PHONE, "email": ""}
    unpaid = [make_order(shop, "UNPAID", buyer=buyer) for _ in range(3)]
    make_order(shop, "UNPAID")  # in the tab, not in the search
    waiting = [make_order(shop, "AWAITING_SHIPMENT", buyer=buyer) for _ in range(4)]
    MembershipFactory(
        organisation=shop.organisation, role=Role.OWNER, user__username="boss"
    )
    return unpaid, waiting


def sign_in(browser, live_server):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/orders/"))
    return page


def rows(page, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('tbody tr[data-order]').length === {n}"
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_tab_then_search_then_apply_to_all_matching(live_server, browser, seller):
    unpaid, _waiting = seller
    page = sign_in(browser, live_server)

    page.click('[data-tab="unpaid"]')
    rows(page, 4)
    # A search after switching tabs stays in the tab (it used to fall back to "all").
    page.fill("input[name=q]", PHONE)
    page.press("input[name=q]", "Enter")
    rows(page, 3)
    # Enter fires both "change" and "submit" on the search box: let the swaps settle
    # before choosing the action (a late swap would render the table afresh).
    page.wait_for_load_state("networkidle")
    assert "tab=unpaid" in page.url
    button = page.locator("button[name=scope][value=filter]")
    assert button.get_attribute("data-matching") == "3"
    assert "3" in button.inner_text()

    page.select_option("select[name=action]", "flag")
    button.click()
    page.wait_for_selector("#batch-confirm")
    assert page.get_attribute("#batch-confirm", "data-count") == "3"
    assert page.locator('#batch-filter [data-filter="q"]').inner_text() == PHONE
    assert page.locator('#batch-filter [data-filter="tab"]').inner_text() != ""
    shot(page, "batch-filter-confirm")
    page.select_option("#batch-confirm select[name=flag]", "purple")
    page.click("#batch-confirm button[type=submit]")
    page.wait_for_selector("#batch-results")
    assert page.locator("#batch-results tr.ok").count() == 3
    assert set(Order.objects.filter(flag="purple").values_list("pk", flat=True)) == {
        o.pk for o in unpaid
    }


@override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=3)
def test_beyond_the_limit_the_job_page_follows_the_progress(
    live_server, browser, seller
):
    from oms.celery import app

    _, waiting = seller
    page = sign_in(browser, live_server)
    page.goto(f"{live_server.url}/orders/?tab=awaiting_shipment")
    page.select_option("select[name=action]", "hold")
    page.click("button[name=scope][value=filter]")
    page.wait_for_selector("#batch-confirm")
    assert page.get_attribute("#batch-confirm", "data-count") == "4"
    assert page.locator("[data-background=yes]").count() == 1
    page.click("#batch-confirm button[type=submit]")
    page.wait_for_selector("#job-progress[data-status=pending]")
    job = BackgroundJob.objects.get()
    assert (job.total, job.params["filter"]) == (4, "tab=awaiting_shipment")

    background.run(job.pk, chunks=1)  # what a worker does, one chunk at a time
    page.wait_for_selector('#job-progress[data-done="3"]')  # the page polls
    background.run(job.pk)
    page.wait_for_selector("#job-progress[data-status=succeeded]")
    assert page.locator("#job-results tr.ok").count() == 4
    assert page.locator("#job-cancel").count() == 0
    shot(page, "batch-filter-job")
    assert set(Order.objects.filter(on_hold=True).values_list("pk", flat=True)) == {
        o.pk for o in waiting
    }
    app.control.purge()  # the job's own message, never consumed here


def test_a_stale_memo_shows_both_texts(live_server, browser, seller):
    unpaid, _ = seller
    order = unpaid[0]
    page = sign_in(browser, live_server)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    # Someone else saves a memo after this page was built.
    from orders import actions
    from orders.services import Actor

    other = MembershipFactory(organisation=order.organisation, role=Role.OPERATOR)
    actions.perform(order.pk, "memo", Actor.member(other), memo="他们的备注")

    page.fill("#memo-form textarea[name=memo]", "我的备注")
    page.click("#memo-form button")
    page.wait_for_selector("#conflict")
    assert "他们的备注" in page.inner_text('#conflict [data-side="theirs"]')
    assert "我的备注" in page.inner_text('#conflict [data-side="yours"]')
    assert Order.objects.get(pk=order.pk).seller_memo == "他们的备注"
    shot(page, "memo-conflict")
    page.click("#conflict-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/orders/{order.pk}/$"))
    assert Order.objects.get(pk=order.pk).seller_memo == "我的备注"
