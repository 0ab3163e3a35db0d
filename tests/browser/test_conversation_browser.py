"""The order's message form in a real browser: the counter and the English-only hint
are JavaScript; the server still decides (AliExpress: English only, 1,500 characters)."""

from django.conf import settings

from aftersales import messaging
from aftersales.models import Message
from orders.choices import Role
from tests.browser import ARTIFACTS, BROWSER
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = BROWSER


def ali_order(**overrides):
    return make_order(
        ShopFactory(platform="aliexpress"), "WAIT_SELLER_SEND_GOODS", **overrides
    )


def test_the_counter_and_english_hint_in_a_browser(live_server, browser):
    order = ali_order(buyer={"nick": "amy"})
    messaging.record_buyer_message(order, "Where is my parcel?", "m-1")
    MembershipFactory(
        organisation=order.organisation,
        role=Role.CUSTOMER_SERVICE,
        user__username="cs",
    )
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.context.add_cookies(
        [
            {
                "name": settings.LANGUAGE_COOKIE_NAME,
                "value": "en",
                "url": live_server.url,
            }
        ]
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "cs")
    page.fill("input[name=password]", "pw")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/orders/")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    form = page.locator("form.send-message")
    area = form.locator("textarea[name=body]")

    area.fill("a" * 1501)
    assert form.locator(".counter").inner_text() == "1,501 / 1,500"
    assert "over" in form.locator(".counter").get_attribute("class")
    assert form.locator(".problem").inner_text() == "Over the limit by 1."

    area.fill("Hello 你好")
    assert form.locator(".counter").inner_text() == "8 / 1,500"
    assert form.locator(".problem").inner_text() == (
        'Character 7, "你" (U+4F60), is not allowed: English only.'
    )
    # The server is the authority: the message is refused and the text kept.
    form.locator("button").click()
    page.wait_for_selector(".msg.error")
    assert "character 7" in page.locator(".msg.error").inner_text()
    assert page.locator("form.send-message textarea").input_value() == "Hello 你好"

    page.locator("form.send-message textarea").fill("On its way!")
    page.locator("form.send-message button").click()
    page.wait_for_selector(".bubble.seller")
    assert page.locator(".bubble.seller .body").inner_text() == "On its way!"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#conversation").screenshot(
        path=str(ARTIFACTS / "conversation-en.png")
    )
    assert Message.objects.filter(direction="seller").count() == 1
