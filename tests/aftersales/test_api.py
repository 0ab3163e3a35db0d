"""The after-sales API: list and filters, detail, the seller's actions and their errors,
batches, scopes, idempotency, and the aftersales.* webhooks reaching a subscriber."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from aftersales import services
from aftersales.choices import CaseKind, CaseState, Outcome
from integrations import webhooks
from integrations.models import ApiKey, Scope, WebhookDelivery
from integrations.tasks import deliver_webhook_task
from orders.choices import Role
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.integrations.test_webhooks import Endpoint

pytestmark = pytest.mark.django_db


def open_cancel(order, **fields):
    case, _ = services.open_case(
        order, CaseKind.CANCEL, Actor.platform(order.platform), **fields
    )
    return case


def open_return(order, kind=CaseKind.RETURN, **fields):
    case, _ = services.open_case(order, kind, Actor.platform(order.platform), **fields)
    return case


def reload(obj):
    obj.refresh_from_db()
    return obj


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


@pytest.fixture
def shop(db):
    return ShopFactory(platform="tiktok")


@pytest.fixture
def api(shop):
    return key_client(shop.organisation)


# --- reading ----------------------------------------------------------------------------


def test_the_list_filters_by_state_kind_task_order_and_due(shop, api):
    # given a pending cancel request, a return awaiting the buyer, and a closed one
    cancel = open_cancel(make_order(shop, "AWAITING_SHIPMENT"), reason="changed_mind")
    back = open_return(make_order(shop, "IN_TRANSIT"), reason="wrong_size")
    services.act(back, "approve", Actor.platform("tiktok"))
    closed = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    services.act(closed, "reject", Actor.platform("tiktok"), reason="no")
    other = open_cancel(make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT"))

    def ids(**params):
        response = api.get("/api/v1/cases/", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    # then each filter narrows the organisation's cases, newest first
    assert ids() == [closed.pk, back.pk, cancel.pk]
    assert other.pk not in ids()
    assert ids(state="open") == [back.pk, cancel.pk]
    assert ids(state="closed") == [closed.pk]
    assert ids(kind="return") == [back.pk]
    assert ids(task="respond") == [cancel.pk]
    assert ids(task="wait_buyer") == [back.pk]
    assert ids(order=cancel.order_id) == [cancel.pk]
    assert ids(reason="wrong_size") == [back.pk]
    assert ids(platform="taobao") == []
    assert ids(shop=shop.pk, kind="cancel") == [closed.pk, cancel.pk]
    soon = (cancel.due_at + timedelta(seconds=1)).isoformat()
    assert ids(due_before=soon, state="open") == [cancel.pk]
    assert ids(due_before=cancel.due_at.isoformat()) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "pending"}, "state"),
        ({"kind": "exchange"}, "kind"),
        ({"task": "sleep"}, "task"),
        ({"shop": "abc"}, "shop"),
        ({"order": "-1"}, "order"),
        ({"due_before": "tomorrow"}, "due_before"),
        ({"updated_after": "2026-01-01"}, "updated_after"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api, params, field):
    response = api.get("/api/v1/cases/", params)
    assert response.status_code == 400
    assert field in error(response)["details"]["fields"]


def test_pages_follow_the_cursor_with_a_constant_number_of_queries(shop, api):
    orders = [make_order(shop, "IN_TRANSIT") for _ in range(5)]
    cases = [open_return(order) for order in orders]

    def count_queries(size: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/cases/", {"page_size": size})
        assert len(response.json()["results"]) == size
        return len(queries)

    api.get("/api/v1/cases/")  # the key's first use records last_used_at
    assert count_queries(1) == count_queries(5)
    first = api.get("/api/v1/cases/", {"page_size": 3}).json()
    second = api.get(first["next"]).json()
    assert second["next"] is None
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert seen == [case.pk for case in reversed(cases)]


def test_sync_by_updated_after_pages_oldest_change_first_and_resumes(
    settings, shop, api
):
    settings.OMS_SYNC_SETTLE_SECONDS = 0
    start = (timezone.now() - timedelta(seconds=1)).isoformat()
    cases = [open_cancel(make_order(shop, "AWAITING_SHIPMENT")) for _ in range(3)]
    services.act(cases[0], "reject", Actor.platform("tiktok"), reason="packed")

    first = api.get("/api/v1/cases/", {"updated_after": start, "page_size": 2}).json()
    second = api.get(first["next"]).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == [cases[1].pk, cases[2].pk, cases[0].pk]
    assert api.get(second["resume"]).json()["results"] == []
    services.act(cases[1], "approve", Actor.platform("tiktok"))
    assert [row["id"] for row in api.get(second["resume"]).json()["results"]] == [
        cases[1].pk
    ]


def test_the_detail_shows_lines_answer_deadline_actions_and_timeline(shop, api):
    # given a TikTok arbitration the seller answered
    order = make_order(shop, "IN_TRANSIT")
    case = open_return(order, kind=CaseKind.DISPUTE, reason="not_received")
    response = api.post(
        f"/api/v1/cases/{case.pk}/respond/",
        {
            "reason": "Delivered to the door",
            "proposal": {"amount": "10.00", "return": False, "note": "Half"},
            "evidence": [{"url": "https://files.example/pod.pdf"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content

    body = api.get(f"/api/v1/cases/{case.pk}/").json()

    line = order.items.get()
    assert body["id"] == case.pk
    assert (body["order"], body["platform_order_id"]) == (
        order.pk,
        order.platform_order_id,
    )
    assert (body["kind"], body["status"], body["state"]) == (
        "dispute",
        "IN_PROGRESS",
        "open",
    )
    assert body["status_label"] == "Arbitration in progress"
    assert body["items"] == [
        {
            "id": case.items.get().pk,
            "item": line.pk,
            "line_id": line.line_id,
            "sku": line.sku,
            "title": line.title,
            "quantity": line.quantity,
            "amount": "99.80",
        }
    ]
    assert body["seller_reason"] == "Delivered to the door"
    assert body["proposal"] == {"amount": "10.00", "return": False, "note": "Half"}
    assert body["seller_evidence"] == [
        {"name": "pod.pdf", "url": "https://files.example/pod.pdf"}
    ]
    assert body["allowed_actions"] == ["respond"]
    assert body["version"] == 2
    assert [(e["action"], e["actor"]["kind"]) for e in body["events"]] == [
        ("open", "platform"),
        ("respond", "api_client"),
    ]
    assert body["events"][1]["reason"] == "Delivered to the door"


def test_reading_needs_the_orders_read_scope(shop):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    writer = key_client(shop.organisation, scopes=[Scope.AFTERSALES_WRITE])
    for path in ("/api/v1/cases/", f"/api/v1/cases/{case.pk}/"):
        response = writer.get(path)
        assert response.status_code == 403
        assert error(response)["details"] == {"reason": "missing_scope"}


# --- acting -----------------------------------------------------------------------------


def test_approving_a_cancel_request_cancels_the_order(shop, api):
    order = make_order(shop, "AWAITING_SHIPMENT")
    case = open_cancel(order)

    response = api.post(
        f"/api/v1/cases/{case.pk}/approve/", {"expected_version": 1}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["outcome"]) == ("closed", "approved")
    assert body["allowed_actions"] == []
    assert body["refunded_amount"] == "107.80"
    assert reload(order).native_status == "CANCELLED"


def test_rejecting_needs_a_reason_and_changes_nothing_without_one(shop, api):
    order = make_order(shop, "AWAITING_SHIPMENT")
    case = open_cancel(order)

    response = api.post(f"/api/v1/cases/{case.pk}/reject/", {}, format="json")

    assert response.status_code == 400
    assert error(response)["details"]["fields"] == {"reason": "required"}
    assert reload(case).version == 1
    assert case.events.count() == 1
    assert reload(order).cancel_requested is True


def test_an_action_the_status_does_not_allow_is_409_with_the_allowed_ones(shop, api):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))

    response = api.post(f"/api/v1/cases/{case.pk}/confirm_receipt/", {}, format="json")

    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "invalid_transition"
    assert body["details"]["allowed"] == ["approve", "reject"]
    assert reload(case).version == 1


def test_a_stale_version_is_412_by_body_or_if_match(shop, api):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    by_body = api.post(
        f"/api/v1/cases/{case.pk}/approve/", {"expected_version": 7}, format="json"
    )
    by_header = api.post(
        f"/api/v1/cases/{case.pk}/approve/", {}, format="json", HTTP_IF_MATCH='"7"'
    )
    for response in (by_body, by_header):
        assert response.status_code == 412
        assert error(response)["details"] == {
            "current_version": 1,
            "your_version": 7,
        }
    assert reload(case).state == CaseState.OPEN


def test_the_platforms_own_actions_are_refused_and_unknown_ones_not_found(shop, api):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))

    withdraw = api.post(f"/api/v1/cases/{case.pk}/withdraw/", {}, format="json")
    unknown = api.post(f"/api/v1/cases/{case.pk}/teleport/", {}, format="json")

    assert withdraw.status_code == 409
    assert error(withdraw)["code"] == "invalid_transition"
    assert "platform" in error(withdraw)["message"]
    assert unknown.status_code == 404
    assert reload(case).version == 1


def test_another_organisations_case_is_not_found_for_any_action(shop):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    stranger = key_client(ShopFactory(platform="tiktok").organisation)
    for action in ("approve", "withdraw", "teleport"):
        response = stranger.post(
            f"/api/v1/cases/{case.pk}/{action}/", {"reason": "x"}, format="json"
        )
        assert response.status_code == 404, action
        assert error(response)["code"] == "not_found"
    assert reload(case).version == 1


def test_a_key_limited_to_other_shops_does_not_see_the_case(shop):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    second = ShopFactory(platform="tiktok", organisation=shop.organisation)
    client = key_client(shop.organisation)
    limited = key_client(shop.organisation)
    ApiKey.objects.order_by("-pk").first().shops.set([second])
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 200
    assert limited.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert limited.get("/api/v1/cases/").json()["results"] == []


def test_changes_need_the_aftersales_write_scope(shop):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    reader = key_client(shop.organisation, scopes=[Scope.ORDERS_READ])
    response = reader.post(f"/api/v1/cases/{case.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert error(response)["details"] == {"reason": "missing_scope"}
    assert reload(case).state == CaseState.OPEN


def test_a_member_whose_role_may_not_decide_gets_403(shop):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    member = MembershipFactory(organisation=shop.organisation, role=Role.WAREHOUSE)
    client = APIClient()
    client.force_login(member.user)

    response = client.post(f"/api/v1/cases/{case.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    assert error(response)["code"] == "permission_denied"
    assert reload(case).state == CaseState.OPEN


def test_a_dispute_refusal_carries_the_proposal_and_evidence():
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_BUYER_ACCEPT_GOODS")
    case = open_return(order, kind=CaseKind.DISPUTE, amount="20.00")
    api = key_client(shop.organisation)

    too_much = api.post(
        f"/api/v1/cases/{case.pk}/refuse/",
        {"reason": "As described", "proposal": {"amount": "25.00"}},
        format="json",
    )
    bad_url = api.post(
        f"/api/v1/cases/{case.pk}/refuse/",
        {"reason": "As described", "evidence": [{"url": "ftp://x/y.jpg"}]},
        format="json",
    )
    assert (too_much.status_code, bad_url.status_code) == (400, 400)
    assert reload(case).version == 1

    response = api.post(
        f"/api/v1/cases/{case.pk}/refuse/",
        {
            "reason": "As described",
            "proposal": {"amount": "5.00", "return": True},
            "evidence": [{"name": "a.jpg", "url": "https://files.example/a.jpg"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "SELLER_REFUSE_REFUND"
    assert body["proposal"] == {"amount": "5.00", "return": True}
    assert body["allowed_actions"] == ["escalate"]


def test_a_retried_action_with_an_idempotency_key_is_applied_once(shop, api):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    path = f"/api/v1/cases/{case.pk}/reject/"
    first = api.post(
        path, {"reason": "packed"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = api.post(
        path, {"reason": "packed"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == first.json()
    assert list(case.events.values_list("action", flat=True)) == ["open", "reject"]


# --- batches ----------------------------------------------------------------------------


def test_a_batch_answers_per_case_and_a_refused_one_stops_nothing(shop, api):
    pending = [open_cancel(make_order(shop, "AWAITING_SHIPMENT")) for _ in range(2)]
    done = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    services.act(done, "approve", Actor.platform("tiktok"))
    foreign = open_cancel(
        make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    )
    ids = [pending[0].pk, done.pk, foreign.pk, pending[1].pk, pending[0].pk]

    response = api.post(
        "/api/v1/cases/batch/reject/", {"ids": ids, "reason": "packed"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ok"], body["failed"]) == (2, 2)
    results = {row["id"]: row for row in body["results"]}
    assert [row["id"] for row in body["results"]] == ids[:4]  # duplicates once
    assert results[pending[0].pk] == {"id": pending[0].pk, "ok": True, "version": 2}
    assert results[done.pk]["error"]["code"] == "invalid_transition"
    assert results[foreign.pk]["error"]["code"] == "not_found"
    for case in pending:
        assert (reload(case).outcome, case.seller_reason) == (
            Outcome.REJECTED,
            "packed",
        )
    assert reload(foreign).state == CaseState.OPEN


def test_a_batch_of_an_unknown_action_is_404(shop, api):
    case = open_cancel(make_order(shop, "AWAITING_SHIPMENT"))
    response = api.post(
        "/api/v1/cases/batch/withdraw/", {"ids": [case.pk]}, format="json"
    )
    assert response.status_code == 404
    assert reload(case).state == CaseState.OPEN


# --- webhooks ---------------------------------------------------------------------------


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


def test_a_subscriber_gets_aftersales_opened_and_resolved(
    shop, api, endpoint, monkeypatch, django_capture_on_commit_callbacks
):
    # given a subscription to after-sales events only
    enqueued: list[int] = []
    monkeypatch.setattr(deliver_webhook_task, "delay", enqueued.append)
    subscription = webhooks.create_subscription(
        organisation=shop.organisation,
        url=endpoint.url,
        events=[webhooks.AFTERSALES_OPENED, webhooks.AFTERSALES_RESOLVED],
    )
    webhooks.create_subscription(  # another organisation's subscriber hears nothing
        organisation=ShopFactory(platform="tiktok").organisation,
        url=endpoint.url,
        events=[webhooks.AFTERSALES_OPENED, webhooks.AFTERSALES_RESOLVED],
    )
    order = make_order(shop, "AWAITING_SHIPMENT")

    # when a cancel request arrives and the seller approves it
    with django_capture_on_commit_callbacks(execute=True):
        ingested = api.post(
            "/api/v1/cases/ingest/",
            {
                "cases": [
                    {
                        "order_id": order.pk,
                        "kind": "cancel",
                        "platform_case_id": "C1",
                    }
                ]
            },
            format="json",
        )
    case_id = ingested.json()["results"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/cases/{case_id}/approve/", {}, format="json")

    # then one delivery each, to this organisation's subscriber, received signed
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.event_type for d in deliveries] == [
        "aftersales.opened",
        "aftersales.resolved",
    ]
    assert {d.subscription_id for d in deliveries} == {subscription.pk}
    assert enqueued == [d.pk for d in deliveries]
    for delivery in deliveries:
        webhooks.deliver(delivery.pk)
    opened, resolved = (json.loads(r["body"]) for r in endpoint.requests)
    assert opened["type"] == "aftersales.opened"
    assert opened["data"]["case"]["id"] == case_id
    assert opened["data"]["case"]["status"] == "CANCELLATION_REQUEST_PENDING"
    assert resolved["data"]["case"]["outcome"] == "approved"
    assert Decimal(resolved["data"]["case"]["refunded_amount"]) == Decimal("107.80")
    assert endpoint.requests[1]["headers"]["X-OMS-Event"] == "aftersales.resolved"
