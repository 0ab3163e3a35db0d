"""Issue 11 failure 6: a batch over a filter acts on exactly the filtered set.

"Apply to all matching" on a tab acted on 500 orders chosen by id across all tabs, and
the button showed the count of every tab. The filtered set is the tab, the search and
every filter; its count is shown on the button and on the confirmation (with the filter
in words); beyond the synchronous limit a background job goes over the same filter, with
progress, per-order results, cancel, and the shop limits of the member who started it.
"""

import html as htmllib
import re
import time

import pytest
from django.test import override_settings
from django.utils import translation

from orders import background
from orders.choices import BackgroundJobStatus, Role
from orders.models import BackgroundJob, Order
from tests.conftest import requires_postgres, requires_redis
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


def signed_in(client, shop, role=Role.OWNER, shops=()):
    membership = MembershipFactory(organisation=shop.organisation, role=role)
    membership.shops.add(*shops)
    client.force_login(membership.user)
    return membership


def form_fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return {
        name: htmllib.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)"', form
        )
    }


def matching_button(html: str) -> int:
    return int(re.search(r'data-matching="(\d+)"', html).group(1))


@pytest.fixture
def shop_with_tabs():
    """3 unpaid orders among 9 others in other tabs (and 2 in another organisation)."""
    shop = ShopFactory(platform="tiktok")
    unpaid = [make_order(shop, "UNPAID") for _ in range(3)]
    others = [make_order(shop, "AWAITING_SHIPMENT") for _ in range(6)]
    others += [make_order(shop, "IN_TRANSIT") for _ in range(3)]
    make_order(ShopFactory(platform="tiktok"), "UNPAID")
    return shop, unpaid, others


def start_from_list(client, url: str, action: str) -> str:
    """What the browser does: the list page's batch form with scope=filter."""
    page = client.get(url).content.decode()
    fields = form_fields(page, "batch-form")
    fields.update({"action": action, "scope": "filter"})
    confirm = client.post("/orders/batch/", fields)
    assert confirm.status_code == 200
    return page, confirm.content.decode()


def confirm_count(html: str) -> int:
    return int(re.search(r'id="batch-confirm"[^>]*data-count="(\d+)"', html).group(1))


def test_apply_to_all_matching_on_a_tab_acts_on_exactly_that_tab(
    client, shop_with_tabs
):
    shop, unpaid, _others = shop_with_tabs
    signed_in(client, shop)
    page, confirm = start_from_list(client, "/orders/?tab=unpaid", "flag")

    assert matching_button(page) == 3  # not the 12 of every tab
    assert confirm_count(confirm) == 3
    assert re.search(r'id="batch-filter".*?data-filter="tab"', confirm, re.S)
    fields = form_fields(confirm, "batch-confirm")
    assert "ids" not in fields  # the filter is carried, not a list of ids
    result = client.post("/orders/batch/", {**fields, "flag": "blue"})

    assert result.status_code == 200
    flagged = set(Order.objects.filter(flag="blue").values_list("pk", flat=True))
    assert flagged == {o.pk for o in unpaid}
    assert result.content.decode().count('class="ok"') == 3


def test_the_search_and_every_filter_narrow_the_batch(client, shop_with_tabs):
    shop, unpaid, others = shop_with_tabs
    Order.objects.filter(pk__in=[unpaid[0].pk, others[0].pk]).update(flag="green")
    signed_in(client, shop)
    page, confirm = start_from_list(
        client, "/orders/?tab=unpaid&flag=green&platform=tiktok", "hold"
    )
    assert matching_button(page) == 1
    assert confirm_count(confirm) == 1
    client.post("/orders/batch/", form_fields(confirm, "batch-confirm"))
    assert set(Order.objects.filter(on_hold=True).values_list("pk", flat=True)) == {
        unpaid[0].pk
    }


def test_a_set_that_changed_after_the_confirmation_is_confirmed_again(
    client, shop_with_tabs
):
    shop, _unpaid, others = shop_with_tabs
    signed_in(client, shop)
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
    assert confirm_count(confirm) == 6
    Order.objects.filter(pk=others[0].pk).update(stage="shipped")  # left the tab
    again = client.post("/orders/batch/", form_fields(confirm, "batch-confirm"))
    assert confirm_count(again.content.decode()) == 5
    assert not Order.objects.filter(on_hold=True).exists()


def test_a_shop_limited_member_batches_only_its_shops(client, shop_with_tabs):
    shop, _unpaid, _others = shop_with_tabs
    other_shop = ShopFactory(platform="tiktok", organisation=shop.organisation)
    hidden = make_order(other_shop, "UNPAID")
    signed_in(client, shop, Role.OPERATOR, shops=[shop])
    page, confirm = start_from_list(client, "/orders/?tab=unpaid", "flag")
    assert matching_button(page) == confirm_count(confirm) == 3
    client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "red"}
    )
    assert Order.objects.get(pk=hidden.pk).flag == ""
    assert Order.objects.filter(flag="red").count() == 3


# --- beyond the synchronous limit: a background job over the same filter ----------


@override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=2)
def test_beyond_the_limit_a_job_goes_over_the_filter_with_progress_and_results(
    client, shop_with_tabs
):
    shop, _unpaid, others = shop_with_tabs
    in_tab = [*others[:6]]  # awaiting shipment
    Order.objects.filter(pk=in_tab[0].pk).update(on_hold=True)  # will be refused
    membership = signed_in(client, shop)
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
    assert confirm_count(confirm) == 6
    assert 'data-background="yes"' in confirm
    started = client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "reason": "stock"}
    )

    job = BackgroundJob.objects.get()
    assert started.status_code == 302
    assert started["Location"] == f"/orders/jobs/{job.pk}/"
    assert not Order.objects.filter(on_hold=True).exclude(pk=in_tab[0].pk).exists()
    assert (job.kind, job.status, job.total, job.done) == (
        "batch_action",
        "pending",
        6,
        0,
    )
    assert job.membership == membership
    assert job.created_by == membership.user
    assert job.params["action"] == "hold"
    assert job.params["filter"] == "tab=awaiting_shipment"
    assert "ids" not in job.params

    listed = client.get("/orders/").content.decode()
    assert f'href="/orders/jobs/{job.pk}/" data-job="{job.pk}"' in listed

    background.run(job.pk, chunks=1)  # one chunk of two, as a worker would
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("running", 2, 6)
    progress = client.get(f"/orders/jobs/{job.pk}/").content.decode()
    assert 'data-done="2"' in progress
    assert 'data-total="6"' in progress

    background.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done) == (BackgroundJobStatus.SUCCEEDED, 6)
    assert job.summary == {"ok": 5, "refused": 1, "no_longer_matching": 0}
    held = set(Order.objects.filter(on_hold=True).values_list("pk", flat=True))
    assert held == {o.pk for o in in_tab}
    refused = job.results.get(ok=False)
    assert (refused.order_id, refused.code) == (in_tab[0].pk, "invalid_transition")
    assert "already_on_hold" in refused.reason
    assert job.results.filter(ok=True).count() == 5
    page = client.get(f"/orders/jobs/{job.pk}/").content.decode()
    assert page.count('class="ok"') == 5
    assert page.count('class="refused"') == 1
    assert Order.objects.filter(flag="", on_hold=False, stage="unpaid").count() == 4


@override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=2)
def test_a_job_can_be_cancelled_between_chunks(client, shop_with_tabs):
    shop, _unpaid, _others = shop_with_tabs
    signed_in(client, shop)
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "flag")
    client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "red"}
    )
    job = BackgroundJob.objects.get()
    background.run(job.pk, chunks=1)
    page = client.get(f"/orders/jobs/{job.pk}/").content.decode()
    assert (
        client.post(
            f"/orders/jobs/{job.pk}/cancel/", form_fields(page, "job-cancel")
        ).status_code
        == 302
    )
    background.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("cancelled", 2, 6)
    assert Order.objects.filter(flag="red").count() == 2
    assert job.finished_at is not None


@override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=2)
def test_the_job_rechecks_the_members_role_and_shops(client, shop_with_tabs):
    shop, _unpaid, _others = shop_with_tabs
    second = ShopFactory(platform="tiktok", organisation=shop.organisation)
    elsewhere = [make_order(second, "AWAITING_SHIPMENT") for _ in range(2)]
    membership = signed_in(client, shop, Role.OPERATOR)
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "flag")
    assert confirm_count(confirm) == 8
    client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "red"}
    )
    job = BackgroundJob.objects.get()

    # The member is limited to the first shop after starting the job: the job follows.
    membership.shops.add(shop)
    background.run(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert not Order.objects.filter(
        pk__in=[o.pk for o in elsewhere], flag="red"
    ).exists()
    assert Order.objects.filter(flag="red").count() == 6
    assert job.summary["no_longer_matching"] == 2

    # A member whose role lost the permission: the job refuses to start.
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "flag")
    client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "blue"}
    )
    second_job = BackgroundJob.objects.latest("pk")
    membership.role = Role.WAREHOUSE
    membership.save()
    membership.shops.clear()
    membership.shops.add(second)
    with translation.override("en"):  # the worker writes the error in its language
        background.run(second_job.pk)
    second_job.refresh_from_db()
    assert second_job.status == "failed"
    assert second_job.done == 0
    assert "may no longer" in second_job.error
    assert not Order.objects.filter(flag="blue").exists()


def test_another_member_may_not_see_or_cancel_a_job(client, shop_with_tabs):
    from django.test import Client

    shop, _unpaid, _others = shop_with_tabs
    with override_settings(OMS_BATCH_SYNC_LIMIT=1):
        signed_in(client, shop)
        _, confirm = start_from_list(client, "/orders/?tab=unpaid", "flag")
        client.post(
            "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "red"}
        )
    job = BackgroundJob.objects.get()
    stranger = Client()
    signed_in(stranger, ShopFactory(platform="tiktok"))
    assert stranger.get(f"/orders/jobs/{job.pk}/").status_code == 404
    assert stranger.post(f"/orders/jobs/{job.pk}/cancel/").status_code == 404
    limited = Client()
    signed_in(limited, shop, Role.OPERATOR, shops=[shop])
    assert limited.get(f"/orders/jobs/{job.pk}/").status_code == 404
    job.refresh_from_db()
    assert not job.cancel_requested


def test_a_stalled_job_is_enqueued_again(shop_with_tabs, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from orders.jobs import JOBS, run_job

    shop, _unpaid, _others = shop_with_tabs
    membership = MembershipFactory(organisation=shop.organisation)
    now = timezone.now()
    params = {"action": "hold", "filter": "tab=awaiting_shipment", "max_pk": 10**9}
    params["as_of"] = now.isoformat()
    stalled = background.start("batch_action", membership, params, total=6)
    fresh = background.start("batch_action", membership, params, total=6)
    done = background.start("batch_action", membership, params, total=6)
    BackgroundJob.objects.filter(pk__in=[stalled.pk, done.pk]).update(
        created_at=now - timedelta(minutes=6)
    )
    BackgroundJob.objects.filter(pk=done.pk).update(status="succeeded")
    sent = []
    monkeypatch.setattr(background, "_enqueue", sent.append)
    assert JOBS["background_jobs"] is background.resume_stalled
    run = run_job("background_jobs", now=now)
    assert run.counts == {"resumed": 1}
    assert sent == [stalled.pk]
    assert fresh.pk not in sent


@requires_postgres
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_job_to_the_end(client, shop_with_tabs):
    from celery.contrib.testing.worker import start_worker

    from oms.celery import app

    shop, _unpaid, others = shop_with_tabs
    signed_in(client, shop)
    app.control.purge()
    with (
        override_settings(OMS_BATCH_SYNC_LIMIT=2, OMS_BACKGROUND_JOB_CHUNK=4),
        start_worker(app, perform_ping_check=False, shutdown_timeout=10),
    ):
        _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
        client.post("/orders/batch/", form_fields(confirm, "batch-confirm"))
        job = BackgroundJob.objects.get()
        for _ in range(200):
            job.refresh_from_db()
            if job.finished:
                break
            time.sleep(0.1)  # waiting for the worker, at most 20 s
    assert (job.status, job.done, job.total) == ("succeeded", 6, 6)
    assert job.summary == {"ok": 6, "refused": 0, "no_longer_matching": 0}
    assert set(Order.objects.filter(on_hold=True).values_list("pk", flat=True)) == {
        o.pk for o in others[:6]
    }


@override_settings(OMS_BATCH_SYNC_LIMIT=1)
def test_the_attention_tab_is_taken_as_of_the_confirmation(client):
    from datetime import UTC, datetime, timedelta

    import time_machine

    confirmed_at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    shop = ShopFactory(platform="taobao")
    soon = [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]
    later = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    Order.objects.filter(pk__in=[o.pk for o in soon]).update(
        next_deadline_at=confirmed_at + timedelta(hours=5)
    )
    Order.objects.filter(pk=later.pk).update(
        next_deadline_at=confirmed_at + timedelta(hours=7)
    )
    signed_in(client, shop)
    with time_machine.travel(confirmed_at, tick=False):
        page, confirm = start_from_list(client, "/orders/?tab=attention", "flag")
        assert matching_button(page) == confirm_count(confirm) == 2
        client.post(
            "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "flag": "red"}
        )
    job = BackgroundJob.objects.get()
    # Two hours on, the third order is within six hours of its deadline too; the job
    # still goes over the set that was counted.
    with time_machine.travel(confirmed_at + timedelta(hours=2), tick=False):
        background.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 2, 2)
    assert set(Order.objects.filter(flag="red").values_list("pk", flat=True)) == {
        o.pk for o in soon
    }


@override_settings(OMS_BATCH_SYNC_LIMIT=2)
def test_the_job_page_names_the_action_as_the_list_does(client, shop_with_tabs):
    """The job page's title said Batch “hold” (the code) on a Chinese page: it names the
    action with the word the list's action menu uses (挂起)."""
    shop, _unpaid, _others = shop_with_tabs
    signed_in(client, shop)
    _, confirm = start_from_list(client, "/orders/?tab=awaiting_shipment", "hold")
    client.post(
        "/orders/batch/", {**form_fields(confirm, "batch-confirm"), "reason": "stock"}
    )
    job = BackgroundJob.objects.get()
    title = re.search(
        r"<h1>(.*?)</h1>", client.get(f"/orders/jobs/{job.pk}/").content.decode(), re.S
    ).group(1)
    assert "挂起" in title
    assert "hold" not in title
