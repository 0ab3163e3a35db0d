"""After-sales ingest: native parsers (pure), opening and following platform reports,
idempotency, late and unmatched reports, isolation, and the ingest API."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales import ingest
from aftersales.choices import CaseKind, CaseState, Outcome
from aftersales.ingest import ingest_case, platform_path
from aftersales.models import Case, CaseEvent
from aftersales.platforms import get_case_spec
from integrations.models import Scope
from oms.core.errors import NotFound, ValidationFailed
from orders.choices import ActorKind, Stage
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import ShopFactory, make_order

pytestmark = pytest.mark.django_db

DEADLINE = 1_794_000_000  # 2026-11-06T…Z, Unix seconds as TikTok sends them
ONE_LINE = [
    {
        "line_id": "L1",
        "sku": "SKU-1",
        "title": "T-shirt",
        "quantity": 2,
        "unit_price": "49.90",
        "discount": "0",
    }
]


def erp(shop, **fields) -> Actor:
    return Actor.api_client("erp", organisation_id=shop.organisation_id, **fields)


def tiktok_return(order, status="RETURN_OR_REFUND_REQUEST_PENDING", **fields) -> dict:
    return {
        "return_id": "RET-1",
        "order_id": order.platform_order_id,
        "return_type": "RETURN_AND_REFUND",
        "return_status": status,
        "return_reason_text": "Wrong size",
        "refund_amount": {"currency": "MYR", "refund_total": "49.90"},
        "return_line_items": [{"order_line_item_id": "L1", "seller_sku": "SKU-1"}],
        **fields,
    }


def tiktok_cancellation(order, status="CANCELLATION_REQUEST_PENDING", **fields):
    return {
        "cancel_id": "CAN-1",
        "order_id": order.platform_order_id,
        "cancel_type": "BUYER_CANCEL",
        "cancel_status": status,
        "cancel_reason_text": "Changed my mind",
        "seller_next_action_response": [
            {"action": "SELLER_RESPOND_CANCEL", "deadline": DEADLINE}
        ],
        **fields,
    }


@pytest.fixture
def tiktok(db):
    return ShopFactory(platform="tiktok")


# --- parsers (pure) ---------------------------------------------------------------------


def test_a_tiktok_cancellation_becomes_the_unified_shape():
    payload = {
        "cancel_id": "4035",
        "order_id": "5764",
        "cancel_type": "BUYER_CANCEL",
        "cancel_status": "CANCELLATION_REQUEST_PENDING",
        "cancel_reason": "seller_cancel_reason_out_of_stock",
        "cancel_reason_text": "Changed my mind",
        "refund_amount": {"currency": "MYR", "refund_total": "12.00"},
        "cancel_line_items": [{"order_line_item_id": "577", "seller_sku": "A"}],
        "seller_next_action_response": [
            {"action": "SELLER_RESPOND_CANCEL", "deadline": DEADLINE}
        ],
        "create_time": DEADLINE - 3600,
        "update_time": DEADLINE - 60,
    }

    unified = ingest.to_unified(payload)

    assert unified["format"] == "tiktok_cancellation"
    assert (unified["platform"], unified["kind"]) == ("tiktok", CaseKind.CANCEL)
    assert unified["platform_order_id"] == "5764"
    assert unified["platform_case_id"] == "4035"
    assert unified["status"] == "CANCELLATION_REQUEST_PENDING"
    assert unified["reason"] == "Changed my mind"
    assert unified["amount"] == "12.00"
    assert unified["lines"] == [{"line_id": "577", "sku": "A", "quantity": 1}]
    assert unified["due_at"] == datetime.fromtimestamp(DEADLINE, tz=UTC)
    assert unified["opened_at"] == datetime.fromtimestamp(DEADLINE - 3600, tz=UTC)
    assert unified["updated_at"] == datetime.fromtimestamp(DEADLINE - 60, tz=UTC)


@pytest.mark.parametrize(
    ("return_type", "kind", "has_return"),
    [
        ("REFUND", CaseKind.REFUND, False),
        ("RETURN_AND_REFUND", CaseKind.RETURN, True),
        ("REPLACEMENT", CaseKind.REPLACEMENT, False),
    ],
)
def test_tiktok_return_types_map_to_case_kinds(return_type, kind, has_return):
    unified = ingest.to_unified(
        {
            "return_id": "9",
            "order_id": "1",
            "return_type": return_type,
            "return_status": "AWAITING_BUYER_SHIP",
            "return_tracking_number": "RT123",
            "return_provider_name": "J&T",
        }
    )
    assert (unified["kind"], unified["has_return"]) == (kind, has_return)
    assert unified["return_tracking_number"] == "RT123"
    assert unified["return_carrier"] == "J&T"


def test_a_taobao_refund_reads_beijing_times_and_string_booleans():
    unified = ingest.to_unified(
        {
            "refund_id": "1587",
            "tid": "4012",
            "oid": "4013",
            "status": "WAIT_BUYER_RETURN_GOODS",
            "refund_fee": "49.90",
            "has_good_return": "true",
            "reason": "尺码不合适",
            "desc": "偏小",
            "sid": "YT0001",
            "company_name": "圆通",
            "created": "2026-11-11 10:00:00",
            "modified": "2026-11-11 12:30:00",
        }
    )
    assert unified["format"] == "taobao_refund"
    assert (unified["kind"], unified["has_return"]) == (CaseKind.RETURN, True)
    assert unified["lines"] == [{"line_id": "4013", "quantity": None}]
    assert unified["description"] == "偏小"
    assert unified["return_tracking_number"] == "YT0001"
    assert unified["opened_at"] == datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    assert unified["updated_at"] == datetime(2026, 11, 11, 4, 30, tzinfo=UTC)


def test_an_aliexpress_issue_with_a_list_level_state_reports_no_status():
    unified = ingest.to_unified(
        {
            "id": 7001,
            "parent_order_id": 8001,
            "order_id": 8002,
            "issue_status": "processing",
            "limit_refund_amount": {"amount": "15.20", "currency_code": "USD"},
            "reason_english": "Item not as described",
        }
    )
    assert unified["format"] == "aliexpress_issue"
    assert unified["kind"] == CaseKind.DISPUTE
    assert unified["status"] == ""
    assert (unified["platform_case_id"], unified["platform_order_id"]) == (
        "7001",
        "8001",
    )
    assert unified["amount"] == "15.20"
    assert unified["reason"] == "Item not as described"


def test_a_seller_or_system_cancellation_is_not_an_after_sales_case():
    with pytest.raises(ValidationFailed) as caught:
        ingest.to_unified({"cancel_id": "1", "order_id": "2", "cancel_type": "CANCEL"})
    assert caught.value.details["fields"] == {"cancel_type": "CANCEL"}


def test_a_unified_payload_passes_as_it_is():
    payload = {"order_id": 5, "kind": "refund"}
    assert ingest.to_unified(payload) == payload


def test_platform_paths_are_the_shortest_platform_chain_and_pure(
    django_assert_num_queries,
):
    spec = get_case_spec("tiktok", CaseKind.RETURN)
    with django_assert_num_queries(0):
        refund_only = platform_path(
            spec,
            "RETURN_OR_REFUND_REQUEST_PENDING",
            "RETURN_OR_REFUND_REQUEST_COMPLETE",
            has_return=False,
        )
        with_goods = platform_path(
            spec,
            "RETURN_OR_REFUND_REQUEST_PENDING",
            "RETURN_OR_REFUND_REQUEST_SUCCESS",
            has_return=True,
        )
        backwards = platform_path(
            spec,
            "AWAITING_BUYER_SHIP",
            "RETURN_OR_REFUND_REQUEST_PENDING",
            has_return=True,
        )
    assert [t.action for t in refund_only] == ["approve", "complete"]
    assert [t.action for t in with_goods] == [
        "approve",
        "buyer_ship",
        "confirm_receipt",
    ]
    assert backwards is None


# --- opening and following --------------------------------------------------------------


def test_a_new_request_opens_a_case_and_the_same_push_again_changes_nothing(tiktok):
    # given an order in transit
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    payload = tiktok_return(
        order,
        seller_next_action_response={"deadline": DEADLINE},
        return_line_items=[
            {"order_line_item_id": "L1", "seller_sku": "SKU-1"},
            {"order_line_item_id": "L2", "seller_sku": "SKU-1"},  # the second unit
        ],
    )

    # when the platform reports the return twice
    first = ingest_case(tiktok.organisation, payload, erp(tiktok))
    again = ingest_case(tiktok.organisation, payload, erp(tiktok))

    # then one case, opened once, with both units of the line
    assert (first.outcome, again.outcome) == ("created", "unchanged")
    assert again.case.pk == first.case.pk
    case = Case.objects.get()
    assert (case.kind, case.native_status) == (
        CaseKind.RETURN,
        "RETURN_OR_REFUND_REQUEST_PENDING",
    )
    assert case.platform_case_id == "RET-1"
    assert case.has_return is True
    assert case.amount == Decimal("49.90")
    assert case.due_at == datetime.fromtimestamp(DEADLINE, tz=UTC)
    assert case.due_source == "platform"
    assert [(i.order_item.line_id, i.quantity) for i in case.items.all()] == [("L1", 2)]
    assert list(case.events.values_list("action", "actor_kind", "actor_label")) == [
        ("open", ActorKind.PLATFORM, "tiktok via erp")
    ]
    order.refresh_from_db()
    assert order.refund_open is True


def test_reports_move_the_case_with_the_platforms_own_transitions(tiktok):
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    ingest_case(tiktok.organisation, tiktok_return(order), erp(tiktok))

    approved = ingest_case(
        tiktok.organisation, tiktok_return(order, "AWAITING_BUYER_SHIP"), erp(tiktok)
    )
    shipped = ingest_case(
        tiktok.organisation,
        tiktok_return(
            order,
            "BUYER_SHIPPED_ITEM",
            return_tracking_number="JT0001",
            return_provider_name="J&T",
        ),
        erp(tiktok),
    )

    assert (approved.outcome, shipped.outcome) == ("updated", "updated")
    case = Case.objects.get()
    assert case.native_status == "BUYER_SHIPPED_ITEM"
    assert (case.return_tracking_number, case.return_carrier) == ("JT0001", "J&T")
    assert case.due_action == "confirm_receipt"
    events = list(case.events.values_list("action", "to_status", "actor_kind"))
    assert events[1:] == [
        ("approve", "AWAITING_BUYER_SHIP", ActorKind.PLATFORM),
        ("buyer_ship", "BUYER_SHIPPED_ITEM", ActorKind.PLATFORM),
    ]
    # the seller answered nothing: the platform's report is not the seller's reason
    assert case.seller_reason == ""


def test_a_late_older_report_changes_nothing(tiktok):
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    ingest_case(tiktok.organisation, tiktok_return(order), erp(tiktok))
    ingest_case(
        tiktok.organisation, tiktok_return(order, "AWAITING_BUYER_SHIP"), erp(tiktok)
    )
    case = Case.objects.get()
    before = (case.native_status, case.version, case.events.count())

    # an old report (no time given) of a status the case was in
    late = ingest_case(tiktok.organisation, tiktok_return(order), erp(tiktok))
    # a report whose platform time is older than the case's last change
    older = ingest_case(
        tiktok.organisation,
        tiktok_return(
            order,
            "RETURN_OR_REFUND_REQUEST_CANCEL",
            update_time=int((case.status_changed_at - timedelta(hours=1)).timestamp()),
        ),
        erp(tiktok),
    )

    assert (late.outcome, older.outcome) == ("unchanged", "unchanged")
    assert late.note.startswith("stale")
    assert older.note.startswith("stale")
    case.refresh_from_db()
    assert (case.native_status, case.version, case.events.count()) == before


def test_skipped_reports_follow_the_shortest_platform_path(tiktok):
    # given a refund-only request for everything paid
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    payload = tiktok_return(
        order, return_type="REFUND", refund_amount={"refund_total": "107.80"}
    )
    ingest_case(tiktok.organisation, payload, erp(tiktok))

    # when the next report is already the end
    result = ingest_case(
        tiktok.organisation,
        {**payload, "return_status": "RETURN_OR_REFUND_REQUEST_COMPLETE"},
        erp(tiktok),
    )

    # then the case went through the approval (its refund) and completion
    assert result.outcome == "updated"
    case = Case.objects.get()
    assert (case.state, case.outcome) == (CaseState.CLOSED, Outcome.REFUNDED)
    assert case.refunded_amount == Decimal("107.80")
    assert list(case.events.values_list("action", flat=True)) == [
        "open",
        "approve",
        "complete",
    ]
    order.refresh_from_db()
    assert order.stage == Stage.CLOSED  # everything paid was refunded


def test_a_status_with_no_way_there_is_recorded_once_and_nothing_moves(tiktok):
    order = make_order(tiktok, "AWAITING_SHIPMENT")
    ingest_case(tiktok.organisation, tiktok_cancellation(order), erp(tiktok))
    ingest_case(
        tiktok.organisation,
        tiktok_cancellation(order, "CANCELLATION_REQUEST_CANCEL"),
        erp(tiktok),
    )
    case = Case.objects.get()
    version = case.version

    first = ingest_case(
        tiktok.organisation,
        tiktok_cancellation(order, "CANCELLATION_REQUEST_COMPLETE"),
        erp(tiktok),
    )
    second = ingest_case(
        tiktok.organisation,
        tiktok_cancellation(order, "CANCELLATION_REQUEST_COMPLETE"),
        erp(tiktok),
    )

    assert (first.outcome, second.outcome) == ("unchanged", "unchanged")
    assert "no transition" in first.note
    case.refresh_from_db()
    assert (case.native_status, case.version) == (
        "CANCELLATION_REQUEST_CANCEL",
        version,
    )
    (noted,) = CaseEvent.objects.filter(case=case, action="platform_status")
    assert noted.data["reported"] == "CANCELLATION_REQUEST_COMPLETE"
    assert order.events.filter(action="cancel.platform_status").count() == 1


def test_a_cancellation_approved_on_the_platform_cancels_the_order(tiktok):
    order = make_order(tiktok, "AWAITING_SHIPMENT")
    opened = ingest_case(tiktok.organisation, tiktok_cancellation(order), erp(tiktok))
    order.refresh_from_db()
    assert order.cancel_requested is True
    assert opened.case.due_at == datetime.fromtimestamp(DEADLINE, tz=UTC)

    ingest_case(
        tiktok.organisation,
        tiktok_cancellation(order, "CANCELLATION_REQUEST_SUCCESS"),
        erp(tiktok),
    )

    case = Case.objects.get()
    assert (case.state, case.outcome) == (CaseState.CLOSED, Outcome.APPROVED)
    order.refresh_from_db()
    assert order.native_status == "CANCELLED"
    assert order.cancel_requested is False


def test_a_taobao_refund_first_seen_refunded_is_opened_then_refunded():
    shop = ShopFactory(platform="taobao")
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS", items=ONE_LINE)
    payload = {
        "refund_id": "1587",
        "tid": order.platform_order_id,
        "oid": "L1",
        "num": 1,
        "status": "SUCCESS",
        "refund_fee": "49.90",
        "has_good_return": False,
        "reason": "不想要了",
    }

    result = ingest_case(shop.organisation, payload, erp(shop))

    assert result.outcome == "created"
    case = result.case
    assert (case.kind, case.state, case.outcome) == (
        CaseKind.REFUND,
        CaseState.CLOSED,
        Outcome.REFUNDED,
    )
    assert case.refunded_amount == Decimal("49.90")
    assert list(case.events.values_list("action", flat=True)) == ["open", "agree"]
    order.refresh_from_db()
    assert order.stage == Stage.SHIPPED  # a partial refund keeps the order
    assert order.refund_open is False


def test_an_aliexpress_issue_opens_a_dispute_and_its_withdrawal_resumes_the_order():
    shop = ShopFactory(platform="aliexpress")
    order = make_order(shop, "WAIT_BUYER_ACCEPT_GOODS")
    issue = {
        "id": 7001,
        "parent_order_id": order.platform_order_id,
        "issue_status": "WAIT_SELLER_CONFIRM_REFUND",
        "limit_refund_amount": "20.00",
        "reason_english": "Item not as described",
    }

    created = ingest_case(shop.organisation, issue, erp(shop))
    order.refresh_from_db()
    assert created.case.kind == CaseKind.DISPUTE
    assert order.native_status == "IN_ISSUE"

    ingest_case(
        shop.organisation, {**issue, "issue_status": "canceled_issue"}, erp(shop)
    )
    case = Case.objects.get()
    assert (case.state, case.outcome) == (CaseState.CLOSED, Outcome.WITHDRAWN)
    order.refresh_from_db()
    assert order.native_status == "WAIT_BUYER_ACCEPT_GOODS"


def test_the_case_opened_from_the_orders_cancel_flag_takes_the_platforms_id(tiktok):
    # given an order whose status push said the buyer asked to cancel
    order = make_order(tiktok, "AWAITING_SHIPMENT", cancel_requested=True)
    (opened,) = Case.objects.filter(order=order)
    assert opened.platform_case_id == ""

    # when the cancellation object arrives
    result = ingest_case(tiktok.organisation, tiktok_cancellation(order), erp(tiktok))

    # then it is that case, now with the platform's id
    assert (result.outcome, result.case.pk) == ("updated", opened.pk)
    assert Case.objects.get().platform_case_id == "CAN-1"


def test_another_organisations_order_is_not_found_and_nothing_is_written(tiktok):
    order = make_order(tiktok, "IN_TRANSIT")
    other = ShopFactory(platform="tiktok")
    for payload in (
        tiktok_return(order),
        {"order_id": order.pk, "kind": "refund", "platform_case_id": "X"},
        {**tiktok_return(order), "shop": tiktok.pk},
    ):
        with pytest.raises(NotFound):
            ingest_case(other.organisation, payload, erp(other))
    assert Case.objects.count() == 0


def test_a_shop_limited_actor_reaches_only_its_shops(tiktok):
    second = ShopFactory(platform="tiktok", organisation=tiktok.organisation)
    order = make_order(second, "IN_TRANSIT")
    limited = erp(tiktok, shop_ids=frozenset({tiktok.pk}))
    with pytest.raises(NotFound):
        ingest_case(tiktok.organisation, tiktok_return(order), limited)
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "exchange"}, "kind"),
        ({"status": "NOT_A_STATUS"}, "status"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1e400"}, "amount"),
        ({"items": [{"item": "x"}]}, "items[0]"),
        ({"due_at": "2026-11-11 10:00"}, "due_at"),
        ({"order_id": None}, "order_id"),
    ],
)
def test_bad_unified_payloads_name_the_field_and_write_nothing(tiktok, change, field):
    order = make_order(tiktok, "IN_TRANSIT")
    payload = {
        "order_id": order.pk,
        "kind": "refund",
        "platform_case_id": "R1",
        **change,
    }
    with pytest.raises(ValidationFailed) as caught:
        ingest_case(tiktok.organisation, payload, erp(tiktok))
    assert field in caught.value.details["fields"]
    assert Case.objects.count() == 0


def test_unknown_line_ids_are_refused(tiktok):
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    payload = {
        "order_id": order.pk,
        "kind": "refund",
        "platform_case_id": "R1",
        "line_ids": ["L1", "NOPE"],
    }
    with pytest.raises(ValidationFailed) as caught:
        ingest_case(tiktok.organisation, payload, erp(tiktok))
    assert caught.value.details["fields"] == {"line_ids": ["NOPE"]}
    assert Case.objects.count() == 0


# --- the API ----------------------------------------------------------------------------


def test_the_ingest_api_answers_per_payload(tiktok):
    order = make_order(tiktok, "IN_TRANSIT", items=ONE_LINE)
    api = key_client(tiktok.organisation)
    body = {
        "cases": [
            {**tiktok_return(order), "shop": tiktok.pk},
            {"order_id": order.pk, "kind": "exchange"},
            {
                "order_id": order.pk,
                "kind": "refund",
                "platform_case_id": "R2",
                "amount": "5.00",
                "items": [{"item": order.items.get().pk, "quantity": 0}],
            },
            "not an object",
        ]
    }

    response = api.post("/api/v1/cases/ingest/", body, format="json")

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["ok"], data["failed"]) == (1, 3)
    created, bad_kind, bad_items, not_object = data["results"]
    case = Case.objects.get()
    assert created == {
        "index": 0,
        "ok": True,
        "id": case.pk,
        "outcome": "created",
        "status": "RETURN_OR_REFUND_REQUEST_PENDING",
    }
    assert bad_kind["error"]["code"] == "invalid_input"
    assert "kind" in bad_kind["error"]["details"]["fields"]
    assert "items[0]" in bad_items["error"]["details"]["fields"]
    assert not_object["error"]["code"] == "invalid_input"


def test_the_ingest_api_needs_the_ingest_scope(tiktok):
    order = make_order(tiktok, "IN_TRANSIT")
    api = key_client(tiktok.organisation, scopes=[Scope.ORDERS_READ])
    response = api.post(
        "/api/v1/cases/ingest/", {"cases": [tiktok_return(order)]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"reason": "missing_scope"}
    assert Case.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"cases": []}, {"cases": {}}, []])
def test_the_ingest_api_refuses_a_body_without_cases(tiktok, body):
    response = key_client(tiktok.organisation).post(
        "/api/v1/cases/ingest/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {
        "cases": "a list of 1 to 500 payloads"
    }


def test_a_platform_deadline_in_the_past_is_kept_as_sent(tiktok):
    order = make_order(tiktok, "AWAITING_SHIPMENT")
    past = timezone.now() - timedelta(hours=1)
    result = ingest_case(
        tiktok.organisation,
        {
            "order_id": order.pk,
            "kind": "cancel",
            "platform_case_id": "C9",
            "due_at": past.isoformat(),
        },
        erp(tiktok),
    )
    assert result.case.due_at == past
    assert result.case.due_action == "approve"


def test_a_return_under_arbitration_opens_its_dispute_and_follows_the_ruling(tiktok):
    order = make_order(tiktok, "DELIVERED")
    report = tiktok_return(
        order, status="REJECT_RECEIVE_PACKAGE", arbitration_status="IN_PROGRESS"
    )
    result = ingest_case(tiktok.organisation, report, erp(tiktok))
    dispute = result.arbitration.case
    assert result.arbitration.outcome == "created"
    assert dispute.kind == CaseKind.DISPUTE
    assert dispute.platform_case_id == "RET-1:arbitration"
    assert dispute.state == CaseState.OPEN
    order.refresh_from_db()
    assert order.in_dispute is True

    ruled = tiktok_return(
        order,
        status="REJECT_RECEIVE_PACKAGE",
        arbitration_status="SUPPORT_BUYER",
        update_time=int(timezone.now().timestamp()) + 60,
    )
    again = ingest_case(tiktok.organisation, ruled, erp(tiktok))
    dispute.refresh_from_db()
    assert again.arbitration.case.pk == dispute.pk
    assert dispute.native_status == "SUPPORT_BUYER"
    assert dispute.outcome == Outcome.REFUNDED
    assert dispute.refunded_amount > 0
    order.refresh_from_db()
    assert order.in_dispute is False


def test_api_ingest_reports_the_arbitration_case(tiktok):
    order = make_order(tiktok, "DELIVERED")
    client = key_client(tiktok.organisation, scopes=[Scope.ORDERS_INGEST])
    report = tiktok_return(order, status="REJECT_RECEIVE_PACKAGE",
                           arbitration_status="IN_PROGRESS")  # fmt: skip
    response = client.post("/api/v1/cases/ingest/", {"cases": [report]}, format="json")
    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    assert row["ok"] is True
    assert row["arbitration"]["outcome"] == "created"
    assert row["arbitration"]["status"] == "IN_PROGRESS"


def test_a_unified_payload_needs_the_platforms_case_id(tiktok):
    order = make_order(tiktok, "AWAITING_SHIPMENT")
    with pytest.raises(ValidationFailed) as refused:
        ingest_case(
            tiktok.organisation, {"order_id": order.pk, "kind": "cancel"}, erp(tiktok)
        )
    assert "platform_case_id" in refused.value.details["fields"]
    assert not Case.objects.exists()
