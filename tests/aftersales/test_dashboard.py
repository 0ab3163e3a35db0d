"""The after-sales dashboard, server side: inbox, batch decisions, case page, order panel."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.models import Case, CaseEvent
from oms.core.timeutils import format_local
from orders.choices import Role
from orders.models import Order, OrderDeadline
from orders.services import Actor, apply_event
from tests.factories import MembershipFactory, ShopFactory, make_order, order_in

pytestmark = pytest.mark.django_db


def member(shop, role=Role.CUSTOMER_SERVICE, client=None):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    if client is not None:
        client.force_login(membership.user)
    return membership


def platform(order: Order) -> Actor:
    return Actor.platform(order.platform)


def open_case(order, kind, **kwargs) -> Case:
    case, created = services.open_case(order, kind, platform(order), **kwargs)
    assert created
    return case


def tiktok_cancel(shop, **kwargs) -> Case:
    return open_case(make_order(shop, "AWAITING_SHIPMENT"), CaseKind.CANCEL, **kwargs)


def taobao_refund(shop, **kwargs) -> Case:
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    return open_case(order, CaseKind.REFUND, **kwargs)


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-case="(\d+)"', html)]


def type_counts(html: str) -> dict[str, int]:
    return {k: int(n) for k, n in re.findall(r'data-count="([a-z_]+)">(\d+)<', html)}


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- the inbox ----------------------------------------------------------------------------


def test_inbox_sorts_open_cases_of_every_platform_by_deadline(client):
    tiktok = ShopFactory(platform="tiktok")
    org = tiktok.organisation
    taobao = ShopFactory(platform="taobao", organisation=org)
    aliexpress = ShopFactory(platform="aliexpress", organisation=org)
    now = timezone.now()
    later = tiktok_cancel(tiktok, due_at=now + timedelta(hours=30))
    overdue = taobao_refund(taobao, due_at=now - timedelta(hours=2), reason="质量问题")
    dispute = open_case(
        make_order(aliexpress, "WAIT_BUYER_ACCEPT_GOODS"), CaseKind.DISPUTE
    )  # 5 days
    arbitration = open_case(order_in(tiktok, "IN_TRANSIT"), CaseKind.DISPUTE)
    assert arbitration.due_at is None
    closed = tiktok_cancel(tiktok)
    services.act(closed, "approve", Actor.member(member(tiktok)))
    member(tiktok, client=client)

    html = client.get("/aftersales/").content.decode()

    assert row_ids(html) == [overdue.pk, later.pk, dispute.pk, arbitration.pk]
    assert type_counts(html) == {
        "all": 4, "cancel": 1, "refund": 1, "return": 0, "replacement": 0, "dispute": 2,
    }  # fmt: skip
    # The order links, the task, the countdown in the shop's own time zone.
    assert f'href="/orders/{overdue.order_id}/"' in html
    assert format_local(later.due_at, "Asia/Kuala_Lumpur")[:16] in html
    assert format_local(overdue.due_at, "Asia/Shanghai")[:16] in html
    overdue_row = html.split(f'data-case="{overdue.pk}"')[1].split("</tr>")[0]
    assert 'class="as-due overdue"' in overdue_row
    assert "质量问题" in overdue_row


def test_inbox_filters(client):
    tiktok = ShopFactory(platform="tiktok")
    taobao = ShopFactory(platform="taobao", organisation=tiktok.organisation)
    cancel = tiktok_cancel(tiktok, reason="changed_mind")
    refund = taobao_refund(taobao, reason="not_as_described")
    waiting = taobao_refund(taobao, reason="not_as_described")
    services.act(
        waiting, "agree", Actor.member(member(taobao))
    )  # has no return: closes
    returned = open_case(
        make_order(taobao, "WAIT_BUYER_CONFIRM_GOODS"),
        CaseKind.RETURN,
        status="WAIT_SELLER_CONFIRM_GOODS",
    )
    member(tiktok, client=client)

    def shown(query: str) -> set[int]:
        return set(row_ids(client.get(f"/aftersales/?{query}").content.decode()))

    assert shown("") == {cancel.pk, refund.pk, returned.pk}
    assert shown("platform=taobao") == {refund.pk, returned.pk}
    assert shown(f"shop={tiktok.pk}") == {cancel.pk}
    assert shown("type=refund") == {refund.pk}
    assert shown("reason=changed_mind") == {cancel.pk}
    assert shown("task=confirm_return") == {returned.pk}
    assert shown("platform=taobao&task=respond") == {refund.pk}
    # The counts per type follow the other filters.
    counts = type_counts(client.get("/aftersales/?platform=taobao").content.decode())
    assert (counts["all"], counts["cancel"], counts["refund"], counts["return"]) == (
        2, 0, 1, 1,
    )  # fmt: skip
    bad = client.get("/aftersales/?type=nonsense").content.decode()
    assert row_ids(bad) == []
    assert "type=nonsense" in bad


def test_inbox_runs_the_same_queries_for_3_and_30_cases(client):
    tiktok = ShopFactory(platform="tiktok")
    taobao = ShopFactory(platform="taobao", organisation=tiktok.organisation)
    member(tiktok, client=client)
    counts = []
    for n in (3, 30):
        while Case.objects.count() < n:
            tiktok_cancel(tiktok)
            taobao_refund(taobao)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/aftersales/?size=100")
        assert response.status_code == 200
        assert len(row_ids(response.content.decode())) == Case.objects.count()
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_inbox_pages(client):
    shop = ShopFactory(platform="tiktok")
    cases = [tiktok_cancel(shop) for _ in range(23)]
    member(shop, client=client)
    first = row_ids(client.get("/aftersales/?size=20").content.decode())
    second = row_ids(client.get("/aftersales/?size=20&page=2").content.decode())
    assert first + second == [c.pk for c in cases]


# --- isolation and roles ----------------------------------------------------------------


def test_another_organisations_case_is_not_found(client):
    mine = ShopFactory(platform="tiktok")
    theirs = tiktok_cancel(ShopFactory(platform="tiktok"))
    member(mine, Role.OWNER, client)
    assert theirs.pk not in row_ids(client.get("/aftersales/").content.decode())
    assert client.get(f"/aftersales/cases/{theirs.pk}/").status_code == 404
    response = client.post(f"/aftersales/cases/{theirs.pk}/act/", {"action": "approve"})
    assert response.status_code == 404
    batch = client.post("/aftersales/batch/", {"action": "approve", "ids": [theirs.pk]})
    assert 'data-case="' not in batch.content.decode()
    theirs = reload(theirs)
    assert theirs.state == CaseState.OPEN
    assert theirs.version == 1


def test_a_member_limited_to_a_shop_sees_only_its_cases(client):
    shop = ShopFactory(platform="tiktok")
    other = ShopFactory(platform="taobao", organisation=shop.organisation)
    visible = tiktok_cancel(shop)
    hidden = taobao_refund(other)
    member(shop, client=client).shops.add(shop)
    html = client.get("/aftersales/").content.decode()
    assert row_ids(html) == [visible.pk]
    assert type_counts(html)["all"] == 1
    assert client.get(f"/aftersales/cases/{hidden.pk}/").status_code == 404
    assert 'id="aftersales-badge" title="' in html
    assert re.search(r'id="aftersales-badge"[^>]*>1<', html)


def test_warehouse_may_only_confirm_returned_goods(client):
    shop = ShopFactory(platform="taobao")
    cancel_like = taobao_refund(shop)
    returned = open_case(
        make_order(shop, "WAIT_BUYER_CONFIRM_GOODS"),
        CaseKind.RETURN,
        status="WAIT_SELLER_CONFIRM_GOODS",
    )
    member(shop, Role.WAREHOUSE, client)

    inbox = client.get("/aftersales/").content.decode()
    assert 'name="ids"' not in inbox  # no batch decisions
    assert (
        client.post(
            "/aftersales/batch/", {"action": "approve", "ids": [cancel_like.pk]}
        ).status_code
        == 403
    )

    page = client.get(f"/aftersales/cases/{cancel_like.pk}/").content.decode()
    assert 'data-action="agree"' in page
    assert 'class="as-decision' not in page
    refused = client.post(
        f"/aftersales/cases/{cancel_like.pk}/act/", {"action": "agree", "version": "1"}
    )
    assert refused.status_code == 403
    assert reload(cancel_like).state == CaseState.OPEN
    assert reload(cancel_like).version == 1

    page = client.get(f"/aftersales/cases/{returned.pk}/").content.decode()
    assert 'data-action="confirm_goods"' in page
    done = client.post(
        f"/aftersales/cases/{returned.pk}/act/",
        {"action": "confirm_goods", "version": "1"},
    )
    assert done.status_code == 302
    returned = reload(returned)
    assert returned.native_status == "SUCCESS"
    assert returned.refunded_amount == returned.amount


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OWNER, True),
        (Role.OPERATOR, True),
        (Role.CUSTOMER_SERVICE, True),
        (Role.WAREHOUSE, False),
    ],
)
def test_who_may_decide_a_cancel_request(client, role, allowed):
    case = tiktok_cancel(ShopFactory(platform="tiktok"))
    member(case.shop, role, client)
    response = client.post(
        f"/aftersales/cases/{case.pk}/act/",
        {"action": "reject", "reason": "Already packed", "version": "1"},
    )
    case = reload(case)
    if allowed:
        assert response.status_code == 302
        assert case.outcome == Outcome.REJECTED
        assert case.events.last().actor_kind == "member"
    else:
        assert response.status_code == 403
        assert case.state == CaseState.OPEN
        assert case.version == 1


# --- the case page ------------------------------------------------------------------------


def test_case_page_shows_the_request_deadline_and_actions(client):
    shop = ShopFactory(platform="taobao")
    case = taobao_refund(
        shop,
        reason="质量问题",
        description="衣服破了一个洞",
        evidence=["https://img.example.com/hole.jpg", "javascript:alert(1)"],
    )
    member(shop, client=client)
    html = client.get(f"/aftersales/cases/{case.pk}/").content.decode()
    assert "衣服破了一个洞" in html
    assert "质量问题" in html
    assert 'href="https://img.example.com/hole.jpg"' in html
    assert 'href="javascript' not in html
    assert "SKU-1" in html
    assert format_local(case.due_at, "Asia/Shanghai")[:16] in html
    assert 'id="case-due-doc"' in html
    for action in ("agree", "refuse"):
        assert f'class="as-decision stack" data-action="{action}"' in html
    assert 'data-action="open"' in html  # the case timeline


def test_a_refused_action_shows_the_error_and_changes_nothing(client):
    case = tiktok_cancel(ShopFactory(platform="tiktok"))
    member(case.shop, client=client)
    events = (CaseEvent.objects.count(), case.order.events.count())

    no_reason = client.post(
        f"/aftersales/cases/{case.pk}/act/", {"action": "reject", "version": "1"}
    )
    assert no_reason.status_code == 400
    html = no_reason.content.decode()
    assert 'class="as-decision stack has-error" data-action="reject"' in html
    assert "required" in html

    stale = client.post(
        f"/aftersales/cases/{case.pk}/act/",
        {"action": "approve", "version": "7"},
    )
    assert stale.status_code == 412

    case = reload(case)
    assert case.state == CaseState.OPEN
    assert case.version == 1
    assert (CaseEvent.objects.count(), case.order.events.count()) == events
    assert reload(case.order).native_status == "AWAITING_SHIPMENT"


def test_dispute_answer_with_proposal_and_evidence(client):
    shop = ShopFactory(platform="aliexpress")
    case = open_case(make_order(shop, "WAIT_BUYER_ACCEPT_GOODS"), CaseKind.DISPUTE)
    member(shop, client=client)
    page = client.get(f"/aftersales/cases/{case.pk}/").content.decode()
    assert 'name="proposal_amount"' in page
    assert 'name="evidence"' in page

    too_much = client.post(
        f"/aftersales/cases/{case.pk}/act/",
        {"action": "refuse", "reason": "Delivered", "proposal_amount": "9999",
         "proposal_note": "keep note", "version": "1"},
    )  # fmt: skip
    assert too_much.status_code == 400
    assert "keep note" in too_much.content.decode()  # the input is kept
    assert reload(case).version == 1

    client.post(
        f"/aftersales/cases/{case.pk}/act/",
        {"action": "refuse", "reason": "Tracking shows delivered",
         "proposal_amount": "5", "proposal_return": "on",
         "evidence": "https://example.com/pod.jpg\n", "version": "1"},
    )  # fmt: skip
    case = reload(case)
    assert case.native_status == "SELLER_REFUSE_REFUND"
    assert case.proposal == {"amount": "5.00", "return": True}
    assert case.seller_evidence == [
        {"name": "pod.jpg", "url": "https://example.com/pod.jpg"}
    ]


# --- batch --------------------------------------------------------------------------------


def test_batch_decides_each_case_on_its_own(client):
    tiktok = ShopFactory(platform="tiktok")
    taobao = ShopFactory(platform="taobao", organisation=tiktok.organisation)
    aliexpress = ShopFactory(platform="aliexpress", organisation=tiktok.organisation)
    cancel = tiktok_cancel(tiktok)
    refund = taobao_refund(taobao)
    dispute = open_case(
        make_order(aliexpress, "WAIT_BUYER_ACCEPT_GOODS"), CaseKind.DISPUTE
    )
    closed = tiktok_cancel(tiktok)
    services.act(closed, "reject", Actor.member(member(tiktok)), reason="x")
    member(tiktok, client=client)
    ids = [cancel.pk, refund.pk, dispute.pk, closed.pk]

    no_reason = client.post("/aftersales/batch/", {"action": "reject", "ids": ids})
    assert no_reason.status_code == 302
    assert reload(cancel).state == CaseState.OPEN

    html = client.post(
        "/aftersales/batch/",
        {"action": "reject", "ids": ids, "reason": "已发货 / already shipped"},
    ).content.decode()
    assert html.count('class="ok"') == 2
    assert html.count('class="refused"') == 2
    assert reload(cancel).outcome == Outcome.REJECTED
    assert reload(refund).native_status == "SELLER_REFUSE_BUYER"
    assert reload(refund).seller_reason == "已发货 / already shipped"
    assert reload(dispute).state == CaseState.OPEN
    assert reload(dispute).version == 1
    assert reload(closed).version == 2  # untouched by the batch


def test_batch_approve_maps_to_each_platforms_action(client):
    tiktok = ShopFactory(platform="tiktok")
    taobao = ShopFactory(platform="taobao", organisation=tiktok.organisation)
    cancel = tiktok_cancel(tiktok)
    refund = taobao_refund(taobao, amount="10")
    member(tiktok, client=client)
    html = client.post(
        "/aftersales/batch/", {"action": "approve", "ids": [cancel.pk, refund.pk]}
    ).content.decode()
    assert html.count('class="ok"') == 2
    assert reload(cancel.order).native_status == "CANCELLED"
    refund = reload(refund)
    assert refund.outcome == Outcome.REFUNDED
    assert refund.refunded_amount == Decimal("10.00")
    page = client.get(f"/aftersales/cases/{refund.pk}/").content.decode()
    assert 'data-action="agree"' in page
    assert "10.00 CNY" in page


# --- the order page panel and the nav badge -----------------------------------------------


def test_order_panel_lists_cases_open_first_with_refunded_total(client):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    one = [{"item": order.items.get().pk, "quantity": 1}]
    first = open_case(order, CaseKind.REFUND, amount="10", items=one)
    services.act(first, "agree", Actor.member(member(shop)))
    second = open_case(order, CaseKind.REFUND, amount="20", items=one)
    member(shop, client=client)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    panel = html.split('id="aftersales-panel"')[1]
    assert row_ids(panel) == [second.pk, first.pk]
    assert f'href="/aftersales/cases/{second.pk}/"' in panel
    summary = panel.split('id="refund-summary"')[1].split("</p>")[0]
    assert "10.00 CNY" in summary
    assert "107.80 CNY" in summary
    assert "20.00 CNY" in summary
    # Both decisions are on the order's timeline.
    assert html.count('data-type="aftersales"') == 3


def test_order_page_queries_do_not_grow_with_cases(client):
    shop = ShopFactory(platform="taobao")
    items = [{"sku": "SKU-6", "title": "Socks", "spec": "", "quantity": 6,
              "unit_price": "10.00", "discount": "0"}]  # fmt: skip
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS", items=items, total="68.00")
    one = [{"item": order.items.get().pk, "quantity": 1}]
    member(shop, client=client)
    counts = []
    for n in (1, 4):
        while Case.objects.count() < n:
            open_case(order, CaseKind.REFUND, amount="5", items=one)
        with CaptureQueriesContext(connection) as queries:
            html = client.get(f"/orders/{order.pk}/").content.decode()
        assert len(row_ids(html.split('id="aftersales-panel"')[1])) == n
        counts.append(len(queries))
    # One more case adds one more timeline event row, never a query.
    assert counts[0] == counts[1]


def test_fund_release_waiting_then_released(client):
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "FUND_PROCESSING")
    deadline = OrderDeadline.objects.get(order=order, kind="release_funds_by")
    member(shop, client=client)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    funds = html.split('id="fund-release"')[1].split("</div>\n")[0]
    assert 'class="as-funds waiting"' in html
    assert format_local(deadline.due_at, "Asia/Shanghai")[:16] in funds

    apply_event(order, "release_funds", Actor.platform("aliexpress"))
    event = order.events.get(action="release_funds")
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'class="as-funds released"' in html
    assert format_local(event.created_at, "Asia/Shanghai")[:16] in html


def test_no_fund_release_block_on_other_platforms(client):
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "TRADE_FINISHED")
    member(shop, client=client)
    assert (
        'id="fund-release"' not in client.get(f"/orders/{order.pk}/").content.decode()
    )


def test_nav_badge_counts_cases_waiting_for_the_seller(client):
    shop = ShopFactory(platform="taobao")
    taobao_refund(shop)
    open_case(
        make_order(shop, "WAIT_BUYER_CONFIRM_GOODS"),
        CaseKind.RETURN,
        status="WAIT_SELLER_CONFIRM_GOODS",
    )
    open_case(
        make_order(shop, "WAIT_BUYER_CONFIRM_GOODS"),
        CaseKind.RETURN,
        status="WAIT_BUYER_RETURN_GOODS",
    )  # waiting for the buyer: not counted
    tiktok_cancel(ShopFactory(platform="tiktok"))  # another organisation
    member(shop, client=client)
    html = client.get("/orders/").content.decode()
    assert re.search(r'id="aftersales-badge"[^>]*>2<', html)
    assert 'href="/aftersales/"' in html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_pages_load_in_both_languages(client, settings, language):
    shop = ShopFactory(platform="tiktok")
    case = tiktok_cancel(shop)
    member(shop, client=client)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    inbox = client.get("/aftersales/").content.decode()
    page = client.get(f"/aftersales/cases/{case.pk}/").content.decode()
    if language == "en":
        assert "After-sales inbox" in inbox
        assert "left" in inbox
        assert "Your decision" in page
    else:
        assert "售后" in inbox
        assert "剩余" in inbox
        assert "处理" in page
