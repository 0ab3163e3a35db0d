"""The pages added by issue 11 render in Chinese without leftover English: the sign-in
lock-out, a background job, the batch-over-a-filter confirmation, the stale-edit
conflict, voided parcels on the order page and on the hand-over scan page."""

import re

import polib
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from logistics.models import Carrier, Package
from orders import background
from orders.choices import Role
from orders.models import BackgroundJob, Order
from orders.services import Actor, apply_event
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.logistics.test_shipping import make_pool
from tests.logistics.test_voiding import SELLER_REASON, awaiting_collection
from tests.orders.test_batch_filter import form_fields, start_from_list
from tests.orders.test_dashboard import english_msgids, visible_text

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def english_fragments() -> set[str]:
    """english_msgids, plus every translated sentence of the catalogue cut at its
    placeholders: the pieces of two words or more that a page would show as is."""
    catalog = polib.pofile(
        settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    )
    found = set(english_msgids())
    for e in catalog:
        translated = e.msgstr or (e.msgstr_plural or {}).get(0)
        if not translated or translated == e.msgid:
            continue
        for msgid in filter(None, (e.msgid, e.msgid_plural)):
            for piece in PLACEHOLDER.split(msgid):
                piece = piece.strip(" ()“”:,.;·")
                if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2 and len(piece) >= 10:
                    found.add(piece)
    return found


def chinese(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def a_shop(platform, **fields):
    # The organisation's name is shown in the header: a Chinese seller's (the factory's
    # "Seller n" would read as the untranslated msgid "Seller").
    return ShopFactory(platform=platform, organisation__name="义乌小商品", **fields)


def signed_in(shop, role=Role.OWNER):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    client = chinese(Client())
    client.force_login(membership.user)
    return client, membership


def locked_out() -> tuple[str, str]:
    MembershipFactory(user__username="wang")  # password "pw"
    client = chinese(Client(REMOTE_ADDR="203.0.113.5"))
    for _ in range(5):
        client.post("/login/", {"username": "wang", "password": "wrong"})
    page = client.post("/login/", {"username": "wang", "password": "pw"})
    return page.content.decode(), "登录失败次数过多"


def batch_confirm() -> tuple[str, str]:
    shop = a_shop("tiktok")
    for _ in range(3):
        make_order(shop, "AWAITING_SHIPMENT")
    client, _ = signed_in(shop)
    with override_settings(OMS_BATCH_SYNC_LIMIT=2):
        _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
    assert 'data-background="yes"' in confirm
    return confirm, "符合此筛选条件的全部订单"


def _job(run: bool) -> tuple[Client, BackgroundJob]:
    shop = a_shop("tiktok")
    orders = [make_order(shop, "AWAITING_SHIPMENT") for _ in range(3)]
    Order.objects.filter(pk=orders[0].pk).update(on_hold=True)  # will be refused
    client, _ = signed_in(shop)
    with override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=2):
        _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
        client.post(
            "/orders/batch/",
            {**form_fields(confirm, "batch-confirm"), "reason": "stock"},
        )
        job = BackgroundJob.objects.get()
        if run:
            background.run(job.pk)
    return client, job


def job_waiting() -> tuple[str, str]:
    client, job = _job(run=False)
    page = client.get(f"/orders/jobs/{job.pk}/").content.decode()
    assert "取消任务" in visible_text(page)
    return page, "按筛选条件批量“挂起”"


def job_cancelling() -> tuple[str, str]:
    client, job = _job(run=False)
    page = client.post(f"/orders/jobs/{job.pk}/cancel/", follow=True)
    return page.content.decode(), "正在取消"


def job_finished() -> tuple[str, str]:
    client, job = _job(run=True)
    return client.get(f"/orders/jobs/{job.pk}/").content.decode(), "被拒 1 个"


def list_with_a_running_job() -> tuple[str, str]:
    client, _ = _job(run=False)
    return client.get("/orders/").content.decode(), "批量“挂起”进行中"


def conflict() -> tuple[str, str]:
    shop = a_shop("taobao")
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    first, _ = signed_in(shop)
    second, _ = signed_in(shop, Role.OPERATOR)
    url = f"/orders/{order.pk}/memo/"
    first.post(url, {"memo": "先发顺丰", "flag": "red", "version": "1"})
    page = second.post(url, {"memo": "缺货，等通知", "flag": "", "version": "1"})
    assert page.status_code == 409
    return page.content.decode(), "此订单已被他人修改"


def _voided():
    shop = a_shop("tiktok", market="MY")
    carrier, _ = Carrier.objects.get_or_create(
        code="YUNDA",
        defaults={"name": "韵达快递", "platform_codes": {"taobao": "YUNDA"}},
    )
    make_pool(shop.organisation, carrier, count=10)
    owner = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    (order, _kept), batch = awaiting_collection(shop, carrier, owner, 2)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    client = chinese(Client())
    client.force_login(owner.user)
    return client, order, batch


def order_page_voided() -> tuple[str, str]:
    client, order, _batch = _voided()
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-state="voided"' in page
    return page, "已作废：订单已取消"


def scan_page_voided() -> tuple[str, str]:
    client, order, batch = _voided()
    package = Package.objects.get(order=order)
    page = client.post(
        f"/warehouse/batches/{batch.pk}/scan/",
        {"tracking_number": package.tracking_number},
    )
    html = page.content.decode()
    assert 'data-outcome="voided"' in html
    assert 'data-voided="1"' in html
    return html, "请勿交接"


PAGES = [
    locked_out,
    batch_confirm,
    job_waiting,
    job_cancelling,
    job_finished,
    list_with_a_running_job,
    conflict,
    order_page_voided,
    scan_page_voided,
]


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("page", PAGES, ids=[p.__name__ for p in PAGES])
def test_the_new_pages_show_no_english_in_chinese(page):
    html, expected = page()
    text = visible_text(html)
    left = sorted(
        m
        for m in english_fragments()
        if re.search(rf"(?<![\w]){re.escape(m)}(?![\w])", text)
    )
    assert left == []
    assert expected in text
