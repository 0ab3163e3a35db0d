"""After-sales API: cases (list, detail with timeline), the seller's actions, batches,
and the ingest of requests arriving from platforms.

Views parse input, call ``aftersales.services`` (or ``aftersales.ingest``) and render;
errors are the services' own, in the one API error shape: a refused action is 409
``invalid_transition`` with the allowed actions, a stale ``expected_version`` 412, another
organisation's case 404 as for a missing one. Reading needs ``orders:read``; every
change ``aftersales:write``; the ingest of platform requests ``orders:ingest`` (members:
owners only), as the platform's voice.
"""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from aftersales import services
from aftersales.api import serializers as s
from aftersales.choices import CaseKind, CaseState, SellerTask
from aftersales.ingest import ingest_case
from aftersales.models import Case, CaseEvent, CaseItem
from aftersales.platforms import case_specs
from oms.core.api.base import OmsApiView
from oms.core.api.batch import run_item
from oms.core.api.pagination import paginate, paginate_with_resume
from oms.core.errors import NotFound, OmsError, ValidationFailed
from oms.core.input import clean_text, whole_number
from oms.core.timeutils import parse_iso
from orders import permissions as p
from orders import platforms as installed
from orders.api.serializers import BatchOutput
from orders.api.views import ACTION_ERRORS, ERRORS, IDEMPOTENCY, page_schema
from orders.choices import ActorKind
from orders.machine import APPROVE, REJECT
from orders.permissions import Scope
from orders.platforms import registry
from orders.selectors import sync_window

# The route is <int:case_id>: only digits reach the view.
CASE_ID = OpenApiParameter(
    "case_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH
)
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="The case version you last saw (or expected_version); 412 if it changed.",
)  # fmt: skip
# Every action a seller takes in some platform's case machine, from the tables.
SELLER_ACTIONS = sorted(
    {
        transition.action
        for spec in case_specs().values()
        for transition in spec.transitions
        if ActorKind.API_CLIENT in transition.actors
    }
)
ALL_ACTIONS = frozenset(
    transition.action
    for spec in case_specs().values()
    for transition in spec.transitions
)
# What each table names its approve and reject roles (disputes are decided one by one).
BATCH_ACTIONS = sorted(
    {
        spec.action_for(role)
        for spec in case_specs().values()
        if spec.kind != CaseKind.DISPUTE
        for role in (APPROVE, REJECT)
    }
)
LIST_PARAMETERS = [
    OpenApiParameter("state", OpenApiTypes.STR, enum=CaseState.values),
    OpenApiParameter("kind", OpenApiTypes.STR, many=True, enum=CaseKind.values),
    OpenApiParameter(
        "platform", OpenApiTypes.STR, many=True, enum=installed.INSTALLED_CODES
    ),
    OpenApiParameter("shop", OpenApiTypes.INT, many=True),
    OpenApiParameter(
        "task",
        OpenApiTypes.STR,
        many=True,
        enum=SellerTask.values,
        description="The seller's next step on open cases",
    ),
    OpenApiParameter("reason", OpenApiTypes.STR, many=True, description="Exact"),
    OpenApiParameter("order", OpenApiTypes.INT, description="An order's cases"),
    OpenApiParameter(
        "due_before", OpenApiTypes.DATETIME, description="Deadline before this time"
    ),
    OpenApiParameter(
        "updated_after",
        OpenApiTypes.DATETIME,
        description="Incremental sync: changes after this time, oldest first, by (updated_at, id).",
    ),
    OpenApiParameter("cursor", OpenApiTypes.STR),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 200, default 50"),
]


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _values(params: Mapping, name: str, allowed=None) -> list[str]:
    values = [v for v in params.getlist(name) if v]
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise ValidationFailed(fields={name: f"unknown value(s): {', '.join(bad)}"})
    return values


def _ids(params: Mapping, name: str) -> list[int]:
    try:
        ids = [int(v) for v in params.getlist(name) if v]
    except ValueError:
        raise ValidationFailed(fields={name: "ids are whole numbers"}) from None
    if any(not 0 < i < 2**63 for i in ids):
        raise ValidationFailed(fields={name: "ids are positive"})
    return ids


def _time(params: Mapping, name: str):
    try:
        return parse_iso(params[name], field=name)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={name: exc.message}) from None


def filter_cases(queryset: QuerySet[Case], params: Mapping) -> QuerySet[Case]:
    """Apply the list filters; a bad value is a 400 naming the parameter."""
    if params.get("state"):
        queryset = queryset.filter(state__in=_values(params, "state", CaseState.values))
    if params.get("kind"):
        queryset = queryset.filter(kind__in=_values(params, "kind", CaseKind.values))
    if params.get("platform"):
        queryset = queryset.filter(platform__in=_values(params, "platform", registry()))
    if params.get("shop"):
        queryset = queryset.filter(shop_id__in=_ids(params, "shop"))
    if params.get("task"):
        queryset = queryset.filter(task__in=_values(params, "task", SellerTask.values))
    if params.get("reason"):
        queryset = queryset.filter(reason__in=_values(params, "reason"))
    if params.get("order"):
        queryset = queryset.filter(order_id__in=_ids(params, "order"))
    if params.get("due_before"):
        queryset = queryset.filter(due_at__lt=_time(params, "due_before"))
    if params.get("updated_after"):
        queryset = queryset.filter(updated_at__gt=_time(params, "updated_after"))
    return queryset


def _with_items(queryset: QuerySet[Case]) -> QuerySet[Case]:
    return queryset.annotate(
        platform_order_id=F("order__platform_order_id")
    ).prefetch_related(
        Prefetch(
            "items",
            queryset=CaseItem.objects.select_related("order_item").order_by("id"),
        )
    )


def _context(view: OmsApiView) -> dict:
    return {"actor_kind": view.ctx.actor.kind}


class CaseListApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="cases_list",
        summary="After-sales cases, filtered; newest first, or oldest change first with updated_after",
        parameters=LIST_PARAMETERS,
        responses={
            200: page_schema("CasePage", s.CaseListOutput, resume=True),
            **ERRORS,
        },
    )
    def get(self, request):
        params = request.query_params
        queryset = filter_cases(services.cases_for(self.ctx.actor), params)
        if params.get("updated_after") is not None:
            rows, next_url, resume = paginate_with_resume(
                request,
                sync_window(_with_items(queryset)),
                ("updated_at", "id"),
                descending=False,
            )
            results = s.CaseListOutput(rows, many=True, context=_context(self)).data
            return Response({"results": results, "next": next_url, "resume": resume})
        rows, next_url = paginate(
            request, _with_items(queryset), ("opened_at", "id"), descending=True
        )
        results = s.CaseListOutput(rows, many=True, context=_context(self)).data
        return Response({"results": results, "next": next_url})


def get_case(view: OmsApiView, case_id: int) -> Case:
    """The case, with its lines and timeline, if the caller may see it; else 404."""
    case = (
        _with_items(services.cases_for(view.ctx.actor))
        .prefetch_related(
            Prefetch("events", queryset=CaseEvent.objects.order_by("created_at", "id"))
        )
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound("No such after-sales case.", case_id=case_id)
    return case


def detail(view: OmsApiView, case_id: int) -> dict:
    return s.CaseDetailOutput(get_case(view, case_id), context=_context(view)).data


class CaseDetailApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="cases_retrieve",
        summary="One case: lines, the seller's answer, return parcel, deadline, allowed actions and timeline",
        parameters=[CASE_ID],
        responses={200: s.CaseDetailOutput, **ERRORS},
    )
    def get(self, request, case_id: int):
        return Response(detail(self, case_id))


def expected_version(request, data: dict) -> int | None:
    """``If-Match: <version>`` (quotes and W/ allowed) or ``expected_version``."""
    header = request.headers.get("If-Match")
    if header:
        value = whole_number(header.strip().removeprefix("W/").strip('"'))
        if value is None:
            raise ValidationFailed(
                "If-Match must be the case's version number.",
                fields={"If-Match": clean_text(header)},
            )
        return value
    return data.get("expected_version")


class CaseActionApi(OmsApiView):
    """One action of the case's machine, for the seller (``action`` from the route).

    The machine refuses what the seller may not do now (409 with the allowed actions)
    and what only the platform does (a buyer's withdrawal, the arbitrator's decision).
    """

    # Each action: its transitions' permission (action_permission).
    permission = p.DECIDE_AFTERSALES
    scope = Scope.AFTERSALES_WRITE
    action: str = ""

    def post(self, request, case_id: int, action: str | None = None):
        action = action or self.action
        if not services.cases_for(self.ctx.actor).filter(pk=case_id).exists():
            # 404 before anything else for others' cases, as for a missing one
            raise NotFound("No such after-sales case.", case_id=case_id)
        if action not in ALL_ACTIONS:
            raise NotFound("No such after-sales action.", action=action)
        data = _valid(s.CaseActionInput, request)
        proposal = data.get("proposal")
        if proposal and proposal.get("amount") is not None:
            proposal = {**proposal, "amount": str(proposal["amount"])}
        services.act(
            case_id,
            action,
            self.ctx.actor,
            reason=data.get("reason", ""),
            expected_version=expected_version(request, data),
            proposal=proposal,
            evidence=[dict(item) for item in data.get("evidence", [])],
        )
        return Response(detail(self, case_id))


ACTION_DOCS = {
    "approve": ("Approve the request (cancel, refund, return, replacement)", {}),
    "reject": (
        "Reject the request, with a reason",
        {"reason": "The parcel was already handed to the carrier"},
    ),
    "agree": ("Agree to the refund (Taobao)", {}),
    "refuse": (
        "Refuse the refund or dispute, with a reason and a counter-proposal",
        {
            "reason": "The item was delivered as described",
            "proposal": {"amount": "10.00", "return": False, "note": "Partial refund"},
            "evidence": [
                {"name": "photo.jpg", "url": "https://files.example/photo.jpg"}
            ],
        },
    ),
    "accept": ("Accept the buyer's dispute proposal (AliExpress)", {}),
    "escalate": ("Ask the platform to arbitrate (AliExpress)", {}),
    "respond": (
        "Answer the arbitration, with a statement and evidence (TikTok Shop)",
        {
            "reason": "Tracking shows delivery to the buyer's address",
            "evidence": [{"url": "https://files.example/pod.pdf"}],
        },
    ),
    "confirm_goods": ("Confirm the returned goods: refunded", {}),
    "refuse_goods": (
        "Refuse the returned goods, with a reason (Taobao)",
        {"reason": "Returned item is damaged"},
    ),
    "confirm_receipt": ("Confirm the returned parcel: refunded (TikTok Shop)", {}),
    "reject_receipt": (
        "Reject the returned parcel, with a reason (TikTok Shop)",
        {"reason": "The parcel was empty"},
    ),
    "extend_confirm": ("Take 8 more days to inspect the returned parcel, once", {}),
    "refund_instead": ("Refund instead of replacing: no stock (TikTok Shop)", {}),
}


def action_permission(action: str) -> str:
    """The one permission every platform's transitions named ``action`` need."""
    found = {
        transition.permission
        for spec in case_specs().values()
        for transition in spec.transitions
        if transition.action == action and transition.permission
    }
    if len(found) != 1:
        raise ImproperlyConfigured(
            f"Case action {action!r} needs one permission on every platform: {found}"
        )
    return found.pop()


def _action_view(action: str):
    summary, example = ACTION_DOCS.get(action, (f"Apply '{action}'", {}))
    view = type(
        f"Case{action.title().replace('_', '')}Api",
        (CaseActionApi,),
        {"action": action, "permission": action_permission(action)},
    )

    # A function of its own: extend_schema on the inherited post would annotate the
    # one shared function, and every action would document the last one.
    def post(self, request, case_id: int):
        return CaseActionApi.post(self, request, case_id)

    view.post = extend_schema(
        operation_id=f"cases_{action}",
        summary=summary,
        request=s.CaseActionInput,
        parameters=[CASE_ID, IDEMPOTENCY, IF_MATCH],
        responses={200: s.CaseDetailOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(summary, value={**example, "expected_version": 1},
                           request_only=True)
        ],
    )(post)  # fmt: skip
    return view


ACTION_VIEWS = {action: _action_view(action) for action in SELLER_ACTIONS}


class CaseOtherActionApi(CaseActionApi):
    """Any other action name: the platform's own (``withdraw``, ``buyer_return`` …) are
    refused by the machine (409, "done by the platform"), unknown ones are 404."""

    @extend_schema(exclude=True)
    def post(self, request, case_id: int, action: str | None = None):
        return super().post(request, case_id, action)


class CaseBatchApi(OmsApiView):
    """One decision on up to 200 cases: one result per case, each in its own
    transaction, so a refused case does not stop the others."""

    permission = p.DECIDE_AFTERSALES  # every action of BATCH_ACTIONS (a test says so)
    scope = Scope.AFTERSALES_WRITE

    @extend_schema(
        operation_id="cases_batch",
        summary="Approve, reject, agree or refuse many cases",
        parameters=[
            OpenApiParameter(
                "action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=BATCH_ACTIONS
            ),
            IDEMPOTENCY,
        ],
        request=s.CaseBatchInput,
        responses={200: BatchOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Reject three cancel requests",
                value={"ids": [1, 2, 3], "reason": "Already shipped"},
                request_only=True,
            )
        ],
    )
    def post(self, request, action: str):
        if action not in BATCH_ACTIONS:
            raise NotFound("No such batch action.", action=action)
        data = _valid(s.CaseBatchInput, request)
        ids = list(dict.fromkeys(data["ids"]))
        actor = self.ctx.actor
        visible = set(
            services.cases_for(actor).filter(pk__in=ids).values_list("pk", flat=True)
        )
        results = []
        for case_id in ids:
            if case_id not in visible:
                case = NotFound("No such after-sales case.", case_id=case_id)
            else:
                case = run_item(
                    lambda case_id=case_id: services.act(
                        case_id, action, actor, reason=data.get("reason", "")
                    )
                )
            if isinstance(case, OmsError):
                results.append({"id": case_id, "ok": False, "error": case.as_dict()})
            else:
                results.append({"id": case_id, "ok": True, "version": case.version})
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})


EXAMPLE_UNIFIED = {
    "order_id": 501,
    "kind": "refund",
    "platform_case_id": "RF20261111001",
    "status": "WAIT_SELLER_AGREE",
    "reason": "不想要了",
    "amount": "49.90",
    "items": [{"item": 1001, "quantity": 1}],
    "due_at": "2026-11-13T10:00:00+08:00",
}
EXAMPLE_TIKTOK_RETURN = {
    "shop": 12,
    "return_id": "4035123456789012345",
    "order_id": "576461413038785752",
    "return_type": "RETURN_AND_REFUND",
    "return_status": "AWAITING_BUYER_SHIP",
    "return_reason_text": "Wrong size",
    "refund_amount": {"currency": "MYR", "refund_total": "39.90"},
    "return_line_items": [{"order_line_item_id": "577087614418766700"}],
    "seller_next_action_response": [
        {"action": "SELLER_RESPOND_RETURN", "deadline": 1794000000}
    ],
    "update_time": 1793800000,
}
EXAMPLE_TAOBAO_REFUND = {
    "refund_id": "158729401234567",
    "tid": "4012345678901234",
    "oid": "4012345678901235",
    "status": "WAIT_SELLER_AGREE",
    "refund_fee": "49.90",
    "has_good_return": False,
    "reason": "不想要了",
    "modified": "2026-11-11 10:00:00",
}


class CaseIngestApi(OmsApiView):
    """Platform observations: owners and ``orders:ingest`` keys only."""

    permission = p.INGEST
    scope = Scope.ORDERS_INGEST

    @extend_schema(
        operation_id="cases_ingest",
        summary="Record after-sales requests from platforms (up to 500)",
        description=(
            "Each payload is the unified shape or the platform's own object: a TikTok "
            "Shop 202309 cancellation (`cancel_id` …) or return (`return_id`, "
            "`return_type` …), a Taobao refund (`refund_id`, `tid`, `oid` …) or an "
            "AliExpress issue (`id`, `parent_order_id`, `issue_status` …), with `shop` "
            "when the order id is not unique among your shops. A new platform case id "
            "opens a case (`created`); a known one follows the platform to the status "
            "it reports (`updated`), or is `unchanged` (same status, an older report, "
            "or no way there in the case's table: then `note` says so and the case's "
            "timeline records it). One result per payload; a payload that fails "
            "changes nothing and does not affect the others."
        ),
        request=s.CaseIngestInput,
        parameters=[IDEMPOTENCY],
        responses={200: s.CaseIngestOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Unified and native",
                value={
                    "cases": [
                        EXAMPLE_UNIFIED,
                        EXAMPLE_TIKTOK_RETURN,
                        EXAMPLE_TAOBAO_REFUND,
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Results",
                response_only=True,
                value={
                    "results": [
                        {"index": 0, "ok": True, "id": 71, "outcome": "created",
                         "status": "WAIT_SELLER_AGREE"},
                        {"index": 1, "ok": True, "id": 64, "outcome": "updated",
                         "status": "AWAITING_BUYER_SHIP"},
                        {"index": 2, "ok": False, "error": {
                            "code": "not_found", "message": "No such order.",
                            "details": {"platform_order_id": "4012345678901234"}}},
                    ],
                    "ok": 2,
                    "failed": 1,
                },
            ),
        ],
    )  # fmt: skip
    def post(self, request):
        data = request.data
        payloads = data.get("cases") if isinstance(data, Mapping) else None
        if not isinstance(payloads, list) or not 1 <= len(payloads) <= s.MAX_INGEST:
            raise ValidationFailed(
                f'Send {{"cases": [...]}} with 1 to {s.MAX_INGEST} payloads.',
                fields={"cases": f"a list of 1 to {s.MAX_INGEST} payloads"},
            )
        results = [self._one(index, raw) for index, raw in enumerate(payloads)]
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})

    def _one(self, index: int, raw) -> dict:
        result = run_item(
            lambda: ingest_case(self.ctx.organisation, raw, self.ctx.actor)
        )
        if isinstance(result, OmsError):
            return {"index": index, "ok": False, "error": result.as_dict()}
        row = {
            "index": index,
            "ok": True,
            "id": result.case.pk,
            "outcome": result.outcome,
            "status": result.case.native_status,
        }
        if result.note:
            row["note"] = result.note
        if result.arbitration is not None:
            row["arbitration"] = {
                "id": result.arbitration.case.pk,
                "outcome": result.arbitration.outcome,
                "status": result.arbitration.case.native_status,
            }
        return row
