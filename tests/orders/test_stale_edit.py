"""Issue 11 failure 7: a stale edit on the order page is a conflict, never lost silently.

Every edit form of the order page carries the version it was built from. A submission
built from an older version saves nothing and shows both values (theirs, saved; yours,
not saved) with a "save mine anyway" button that carries the current version.
"""

import re

import pytest

from oms.core.errors import VersionConflict
from orders import actions
from orders.choices import Role
from orders.models import Order
from orders.services import Actor
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.race import race

pytestmark = pytest.mark.django_db


def signed_in(client, shop, role=Role.OWNER):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    client.force_login(membership.user)
    return membership


def form_version(html: str, form_id: str) -> str:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return re.search(r'name="version" value="(\d+)"', form).group(1)


@pytest.fixture
def two_clients(client, django_user_model):
    from django.test import Client

    return client, Client()


def test_a_stale_memo_is_shown_as_a_conflict_and_saved_only_when_confirmed(
    two_clients,
):
    first, second = two_clients
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    signed_in(first, shop)
    signed_in(second, shop, Role.OPERATOR)
    url = f"/orders/{order.pk}/"
    # Both open the order page: both forms are built from version 1.
    assert form_version(first.get(url).content.decode(), "memo-form") == "1"
    assert form_version(second.get(url).content.decode(), "memo-form") == "1"

    saved = first.post(
        f"{url}memo/", {"memo": "先发顺丰", "flag": "red", "version": "1"}
    )
    assert saved.status_code == 302
    stale = second.post(
        f"{url}memo/", {"memo": "缺货，等通知", "flag": "", "version": "1"}
    )

    assert stale.status_code == 409
    html = stale.content.decode()
    conflict = re.search(r'<section[^>]*id="conflict".*?</section>', html, re.S).group(
        0
    )
    theirs = re.search(r'data-side="theirs".*?</td>', conflict, re.S).group(0)
    yours = re.search(r'data-side="yours".*?</td>', conflict, re.S).group(0)
    assert "先发顺丰" in theirs
    assert "缺货，等通知" in yours
    # Nothing of the stale submission was saved.
    order.refresh_from_db()
    assert (order.seller_memo, order.flag, order.version) == ("先发顺丰", "red", 2)
    assert order.events.filter(type="memo_changed").count() == 1

    # "Save mine anyway" resubmits my values with the version I have now seen.
    form = re.search(r'<form[^>]*id="conflict-form".*?</form>', html, re.S).group(0)
    assert 'name="version" value="2"' in form
    assert "缺货，等通知" in form
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
    )
    fields["memo"] = re.search(
        r'<textarea[^>]*name="memo"[^>]*>(.*?)</textarea>', form, re.S
    ).group(1)
    confirmed = second.post(f"{url}memo/", fields)
    assert confirmed.status_code == 302
    order.refresh_from_db()
    assert (order.seller_memo, order.flag, order.version) == ("缺货，等通知", "", 3)


@pytest.mark.parametrize(
    ("action", "status", "field", "mine", "theirs", "column"),
    [
        ("edit_address", "AWAITING_SHIPMENT", "street", "文三路 1 号", "文二路 9 号",
         "address_street"),
        ("adjust_price", "UNPAID", "total", "70.00", "80.00", "total"),
    ],
)  # fmt: skip
def test_every_order_page_edit_form_refuses_a_stale_version(
    two_clients, action, status, field, mine, theirs, column
):
    first, second = two_clients
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, status)
    signed_in(first, shop)
    signed_in(second, shop)
    page = second.get(f"/orders/{order.pk}/").content.decode()
    assert form_version(page, f"{action.replace('_', '-')}-form") == "1"
    assert (
        first.post(
            f"/orders/{order.pk}/{action}/", {field: theirs, "version": "1"}
        ).status_code
        == 302
    )
    before = Order.objects.get(pk=order.pk)

    stale = second.post(f"/orders/{order.pk}/{action}/", {field: mine, "version": "1"})

    assert stale.status_code == 409
    html = stale.content.decode()
    assert theirs in html
    assert mine in html
    after = Order.objects.get(pk=order.pk)
    assert (after.version, str(getattr(after, column))) == (
        before.version,
        str(getattr(before, column)),
    )
    mine_anyway = second.post(
        f"/orders/{order.pk}/{action}/", {field: mine, "version": str(before.version)}
    )
    assert mine_anyway.status_code == 302
    assert str(getattr(Order.objects.get(pk=order.pk), column)) == mine


def test_an_unchanged_version_saves_at_once(client):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    signed_in(client, shop)
    response = client.post(f"/orders/{order.pk}/memo/", {"memo": "ok", "version": "1"})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).seller_memo == "ok"


# --- the service the pages and the API share ---------------------------------------


def test_the_service_refuses_a_stale_version_and_changes_nothing():
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    actor = Actor.member(MembershipFactory(organisation=shop.organisation))
    actions.perform(order.pk, "memo", actor, expected_version=1, memo="first")
    with pytest.raises(VersionConflict) as refused:
        actions.perform(order.pk, "memo", actor, expected_version=1, memo="second")
    assert refused.value.code == "version_conflict"
    assert refused.value.details == {"current_version": 2, "your_version": 1}
    order.refresh_from_db()
    assert (order.seller_memo, order.version) == ("first", 2)
    assert order.events.filter(type="memo_changed").count() == 1


def test_the_api_answers_a_stale_memo_with_the_same_conflict(client):
    from integrations.models import ApiKey

    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    _, key = ApiKey.issue(
        organisation=shop.organisation,
        name="erp",
        scopes=["orders:read", "orders:write"],
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    url = f"/api/v1/orders/{order.pk}/memo/"
    first = client.post(
        url, {"memo": "a"}, content_type="application/json", HTTP_IF_MATCH="1", **auth
    )
    assert first.status_code == 200
    stale = client.post(
        url, {"memo": "b"}, content_type="application/json", HTTP_IF_MATCH="1", **auth
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_conflict"
    assert Order.objects.get(pk=order.pk).seller_memo == "a"


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_memo_edits_from_one_version_at_once_exactly_one_is_saved():
    shop = ShopFactory(platform="taobao")
    actor = Actor.member(MembershipFactory(organisation=shop.organisation))
    for _ in range(10):
        order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
        results = race(
            lambda o=order: actions.perform(o.pk, "memo", actor, expected_version=1, memo="A"),
            lambda o=order: actions.perform(o.pk, "memo", actor, expected_version=1, memo="B"),
        )  # fmt: skip
        winners = [r for r in results if isinstance(r, Order)]
        assert len(winners) == 1, results
        assert isinstance(next(r for r in results if r not in winners), VersionConflict)
        order.refresh_from_db()
        assert order.version == 2
        assert order.seller_memo == winners[0].seller_memo


def test_a_stale_cancel_shows_the_status_it_has_now(two_clients):
    first, second = two_clients
    shop = ShopFactory(platform="tiktok")
    order = make_order(shop, "AWAITING_SHIPMENT")
    signed_in(first, shop)
    signed_in(second, shop)
    assert (
        first.post(f"/orders/{order.pk}/hold/", {"reason": "盘点"}).status_code == 302
    )
    reason = "seller_cancel_reason_out_of_stock"
    stale = second.post(
        f"/orders/{order.pk}/cancel/", {"reason": reason, "version": "1"}
    )
    assert stale.status_code == 409
    assert reason in stale.content.decode()
    assert Order.objects.get(pk=order.pk).native_status == "AWAITING_SHIPMENT"
    fields = dict(
        re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)"', stale.content.decode()
        )
    )
    assert (fields["version"], fields["reason"]) == ("2", reason)


def test_the_same_text_saved_meanwhile_is_no_conflict(two_clients):
    first, second = two_clients
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    signed_in(first, shop)
    signed_in(second, shop)
    first.post(
        f"/orders/{order.pk}/memo/", {"memo": "同一句", "flag": "", "version": "1"}
    )
    again = second.post(
        f"/orders/{order.pk}/memo/", {"memo": "同一句", "flag": "", "version": "1"}
    )
    assert again.status_code == 302
    assert Order.objects.get(pk=order.pk).version == 2
