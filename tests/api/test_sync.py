"""Incremental sync: paging with updated_after while others change orders skips nothing."""

import random
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders.actions import perform
from orders.models import Order
from orders.services import Actor
from tests.api.conftest import key_client
from tests.conftest import requires_postgres
from tests.factories import ShopFactory, make_order


def test_sync_pages_oldest_change_first_and_resumes_after_the_last_row(settings, db):
    # given three orders, changed one after another
    settings.OMS_SYNC_SETTLE_SECONDS = 0
    shop = ShopFactory(platform="taobao")
    api = key_client(shop.organisation)
    start = (timezone.now() - timedelta(seconds=1)).isoformat()
    orders = [make_order(shop, "WAIT_BUYER_PAY") for _ in range(3)]
    actor = Actor.api_client("erp", organisation_id=shop.organisation_id)
    perform(orders[0], "memo", actor, memo="changed last")

    # when an ERP syncs two at a time
    first = api.get("/api/v1/orders/", {"updated_after": start, "page_size": 2}).json()
    second = api.get(first["next"]).json()

    # then it gets every order once, oldest change first, and a place to resume from
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == [orders[1].pk, orders[2].pk, orders[0].pk]
    assert second["next"] is None
    assert api.get(second["resume"]).json()["results"] == []
    perform(orders[1], "memo", actor, memo="and again")
    assert [row["id"] for row in api.get(second["resume"]).json()["results"]] == [
        orders[1].pk
    ]


def test_changes_younger_than_the_settle_window_wait(settings, db):
    settings.OMS_SYNC_SETTLE_SECONDS = 60
    shop = ShopFactory(platform="taobao")
    make_order(shop, "WAIT_BUYER_PAY")
    api = key_client(shop.organisation)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/orders/", {"updated_after": since}).json()["results"] == []


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_syncing_while_others_change_orders_misses_no_change(settings):
    # given orders that writer threads keep changing, each change committing slowly
    settings.OMS_SYNC_SETTLE_SECONDS = 0.5
    shop = ShopFactory(platform="taobao")
    orders = [make_order(shop, "WAIT_BUYER_PAY") for _ in range(20)]
    api = key_client(shop.organisation, rate_limit_per_minute=100_000)
    actor = Actor.api_client("writer", organisation_id=shop.organisation_id)
    stop = threading.Event()

    def writer(seed):
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                with transaction.atomic():
                    perform(
                        rng.choice(orders).pk,
                        "memo",
                        actor,
                        memo=f"{seed}-{rng.random()}",
                    )
                    time.sleep(
                        rng.uniform(0, 0.2)
                    )  # updated_at is set long before the commit
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(3)]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    url = "/api/v1/orders/?" + urlencode({"updated_after": since, "page_size": 7})
    seen: dict[int, int] = {}

    def read_until_caught_up():
        nonlocal url
        while True:
            response = api.get(url)
            assert response.status_code == 200, response.content
            page = response.json()
            for row in page["results"]:
                seen[row["id"]] = max(seen.get(row["id"], 0), row["version"])
            url = page["next"] or page["resume"]
            if not page["next"]:
                return

    # when an ERP syncs incrementally all the while
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            read_until_caught_up()
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    time.sleep(settings.OMS_SYNC_SETTLE_SECONDS + 0.2)
    read_until_caught_up()

    # then it has the latest version of every order: no change was skipped
    final = dict(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "version")
    )
    assert sum(final.values()) > len(orders) + 10  # the writers really wrote
    assert seen == final
