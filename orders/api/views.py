"""Orders API: shops, orders (list, detail, timeline), seller actions, batches.

Views parse input, call a selector or one service, and render. Every action is the
service the dashboard uses; errors are the services' own, in the one API error shape.
"""

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response

from oms.core.api.base import OmsApiView
from oms.core.api.pagination import paginate, paginate_with_resume
from oms.core.errors import NotFound, OmsError, ValidationFailed
from oms.core.input import clean_text, whole_number
from orders import actions
from orders import permissions as p
from orders import platforms as installed
from orders.api import serializers as s
from orders.deadlines import running_deadlines
from orders.machine import allowed_actions
from orders.models import Order, OrderItem
from orders.permissions import Scope
from orders.platforms import get_spec
from orders.privacy import shows_full_phone
from orders.selectors import filter_orders, orders_of, sync_window
from orders.services import apply_event, policy_for

ERRORS = {
    400: s.ErrorOutput,
    401: s.ErrorOutput,
    403: s.ErrorOutput,
    404: s.ErrorOutput,
    429: s.ErrorOutput,
}
ACTION_ERRORS = {**ERRORS, 409: s.ErrorOutput, 412: s.ErrorOutput, 422: s.ErrorOutput}
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Send the same key to retry safely: the first response is replayed for 24 h.",
)  # fmt: skip
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="The order version you last saw; 412 if it changed since.",
)  # fmt: skip
# The route is <int:order_id>: only digits reach the view, so a negative id is no order id.
ORDER_ID = OpenApiParameter(
    "order_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH
)
LIST_PARAMETERS = [
    OpenApiParameter(
        "platform", OpenApiTypes.STR, many=True, enum=installed.INSTALLED_CODES
    ),
    OpenApiParameter("shop", OpenApiTypes.INT, many=True),
    OpenApiParameter("stage", OpenApiTypes.STR, many=True),
    OpenApiParameter(
        "native_status",
        OpenApiTypes.STR,
        many=True,
        description="The platform's own code",
    ),
    OpenApiParameter("flag", OpenApiTypes.STR, many=True),
    OpenApiParameter("overlay", OpenApiTypes.STR, many=True),
    OpenApiParameter("channel", OpenApiTypes.STR, many=True),
    *[
        OpenApiParameter(name, OpenApiTypes.DATETIME)
        for name in (
            "created_after",
            "created_before",
            "paid_after",
            "paid_before",
            "shipped_after",
            "shipped_before",
        )
    ],
    OpenApiParameter(
        "updated_after",
        OpenApiTypes.DATETIME,
        description="Incremental sync: changes after this time, oldest first, by (updated_at, id).",
    ),
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description="Order id, buyer nick/name/phone, SKU or title",
    ),
    OpenApiParameter("cursor", OpenApiTypes.STR),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 200, default 50"),
]


def _page(results: list, next_url: str | None) -> dict:
    return {"results": results, "next": next_url}


def page_schema(name: str, item, *, resume: bool = False) -> type:
    from rest_framework import serializers

    fields = {"results": item(many=True), "next": serializers.URLField(allow_null=True)}
    if resume:
        fields["resume"] = serializers.URLField(
            required=False,
            help_text="With updated_after: call this later to get only what changed since.",
        )
    return type(name, (serializers.Serializer,), fields)


class ShopListApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        summary="The organisation's shops",
        responses={200: s.ShopOutput(many=True), **ERRORS},
    )
    def get(self, request):
        shops = self.ctx.organisation.shops.all()
        if self.ctx.shop_ids is not None:
            shops = shops.filter(pk__in=self.ctx.shop_ids)
        return Response(s.ShopOutput(shops, many=True).data)


def _with_items(queryset):
    return queryset.select_related(None).prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id"))
    )


class OrderListApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="orders_list",
        summary="Orders, filtered; newest first, or oldest change first with updated_after",
        parameters=LIST_PARAMETERS,
        responses={
            200: page_schema("OrderPage", s.OrderListOutput, resume=True),
            **ERRORS,
        },
    )
    def get(self, request):
        queryset = filter_orders(
            orders_of(self.ctx.organisation, self.ctx.shop_ids), request.query_params
        )
        if request.query_params.get("updated_after") is not None:
            rows, next_url, resume = paginate_with_resume(
                request,
                sync_window(_with_items(queryset)),
                ("updated_at", "id"),
                descending=False,
            )
            page = _page(s.OrderListOutput(rows, many=True).data, next_url)
            return Response({**page, "resume": resume})
        rows, next_url = paginate(
            request, _with_items(queryset), ("created_at", "id"), descending=True
        )
        return Response(_page(s.OrderListOutput(rows, many=True).data, next_url))


def get_order(view: OmsApiView, order_id: int) -> Order:
    """The order if the caller may see it; a 404 otherwise, as for a missing one."""
    order = (
        orders_of(view.ctx.organisation, view.ctx.shop_ids)
        .select_related("shop")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("No such order.", order_id=order_id)
    return order


def detail(view: OmsApiView, order: Order) -> dict:
    spec = get_spec(order.platform)
    order.running = running_deadlines(order)
    machine_actions = allowed_actions(
        spec, order, view.ctx.actor.kind, policy_for(order.shop, spec)
    )
    order.allowed = sorted(set(machine_actions) | set(actions.available(order)))
    member = view.ctx.membership
    full = shows_full_phone(member.role if member is not None else None)
    return s.OrderDetailOutput(order, context={"full_buyer": full}).data


class OrderDetailApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        summary="One order, with deadlines and allowed actions",
        parameters=[ORDER_ID],
        responses={200: s.OrderDetailOutput, **ERRORS},
    )
    def get(self, request, order_id: int):
        return Response(detail(self, get_order(self, order_id)))


class OrderEventsApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="orders_events_list",
        summary="The order's timeline, oldest first",
        parameters=[
            ORDER_ID,
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: page_schema("EventPage", s.EventOutput), **ERRORS},
    )
    def get(self, request, order_id: int):
        order = get_order(self, order_id)
        rows, next_url = paginate(
            request, order.events.all(), ("created_at", "id"), descending=False
        )
        return Response(_page(s.EventOutput(rows, many=True).data, next_url))


def expected_version(request, data: dict) -> int | None:
    """``If-Match: <version>`` (quotes and W/ allowed) or a ``version`` field."""
    header = request.headers.get("If-Match")
    if header:
        value = whole_number(header.strip().removeprefix("W/").strip('"'))
        if value is None:
            raise ValidationFailed(
                "If-Match must be the order's version number.",
                fields={"If-Match": clean_text(header)},
            )
        return value
    return data.get("version")


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# The permission of each seller action: the one its service and its page check.
ACTION_PERMISSIONS = {
    "memo": p.MEMO,
    "adjust_price": p.ADJUST_PRICE,
    "edit_address": p.EDIT_ADDRESS,
    "hold": p.HOLD,
    "release": p.RELEASE,
    "cancel": p.CANCEL,
}


class OrderActionApi(OmsApiView):
    """One seller action on one order (memo, price, address, hold, release, cancel)."""

    scope = Scope.ORDERS_WRITE
    action: str = ""
    input_class = s.VersionedInput

    def post(self, request, order_id: int):
        data = _valid(self.input_class, request)
        version = expected_version(request, data)
        data.pop("version", None)
        get_order(self, order_id)  # 404 before anything else for others' orders
        actor = self.ctx.actor
        if self.action == "cancel":
            apply_event(
                order_id,
                "cancel",
                actor,
                reason=data["reason"],
                expected_version=version,
            )
        else:
            reason = data.pop("reason", "")
            if self.action == "adjust_price":
                data["total"] = str(data["total"])
            actions.perform(
                order_id,
                self.action,
                actor,
                expected_version=version,
                reason=reason,
                **data,
            )
        return Response(detail(self, get_order(self, order_id)))


def _action_view(name: str, action: str, input_class, summary: str, example: dict):
    view = type(
        name,
        (OrderActionApi,),
        {
            "action": action,
            "input_class": input_class,
            "permission": ACTION_PERMISSIONS[action],
        },
    )

    # A function of its own: extend_schema on the inherited OrderActionApi.post would
    # annotate the one shared function, and every action would document the last one.
    def post(self, request, order_id: int):
        return OrderActionApi.post(self, request, order_id)

    view.post = extend_schema(
        summary=summary,
        request=input_class,
        parameters=[ORDER_ID, IDEMPOTENCY, IF_MATCH],
        responses={200: s.OrderDetailOutput, **ACTION_ERRORS},
        examples=[OpenApiExample(summary, value=example, request_only=True)],
    )(post)
    return view


OrderMemoApi = _action_view(
    "OrderMemoApi",
    "memo",
    s.MemoInput,
    "Set the seller memo and/or flag",
    {"memo": "Gift wrap", "flag": "red"},
)
OrderPriceApi = _action_view(
    "OrderPriceApi",
    "adjust_price",
    s.PriceInput,
    "Change the total of an unpaid order",
    {"total": "88.00", "reason": "VIP"},
)
OrderAddressApi = _action_view(
    "OrderAddressApi",
    "edit_address",
    s.AddressChangeInput,
    "Change the address before shipment",
    {"address": {"city": "杭州市", "street": "文三路 200 号"}, "version": 3},
)
OrderHoldApi = _action_view(
    "OrderHoldApi",
    "hold",
    s.ReasonInput,
    "Put on hold (not shipped)",
    {"reason": "Check stock"},
)
OrderReleaseApi = _action_view(
    "OrderReleaseApi", "release", s.ReasonInput, "Release a hold", {}
)
OrderCancelApi = _action_view("OrderCancelApi", "cancel", s.CancelInput,
                              "Cancel, with the platform's reason code",
                              {"reason": "seller_cancel_reason_out_of_stock"})  # fmt: skip


BATCH_INPUTS = {
    "memo": s.BatchMemoInput,
    "hold": s.BatchReasonInput,
    "release": s.BatchReasonInput,
    "cancel": s.BatchCancelInput,
}


class OrderBatchApi(OmsApiView):
    """One action on up to 500 orders: one result per order, nothing half-applied.

    One route and one view per action (``BATCH_VIEWS``), each with its permission."""

    scope = Scope.ORDERS_WRITE
    batch_action: str = ""

    def post(self, request, action: str | None = None):
        action = action or self.batch_action
        if action not in BATCH_INPUTS:
            raise NotFound("No such batch action.", action=action)
        data = _valid(BATCH_INPUTS[action], request)
        ids = list(dict.fromkeys(data.pop("ids")))
        reason = data.pop("reason", "")
        run = actions.run_batch(
            self.ctx.actor,
            action,
            orders_of(self.ctx.organisation, self.ctx.shop_ids).filter(pk__in=ids),
            data=data,
            reason=reason,
            invalid_input_refuses_each=False,
        )
        locked, outcomes = run.orders, run.outcomes
        by_id = dict(zip([order.pk for order in locked], outcomes, strict=True))
        results = []
        for order_id in ids:
            outcome = by_id.get(order_id, NotFound("No such order.", order_id=order_id))
            if isinstance(outcome, OmsError):
                results.append(
                    {"id": order_id, "ok": False, "error": outcome.as_dict()}
                )
            else:
                results.append({"id": order_id, "ok": True, "version": outcome.version})
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})


BATCH_DOCS = {
    "memo": ("Batch memo and/or flag", {"ids": [1, 2, 3], "flag": "red"}),
    "hold": ("Batch hold", {"ids": [1, 2, 3], "reason": "Check stock"}),
    "release": ("Batch release", {"ids": [1, 2, 3]}),
    "cancel": (
        "Batch cancel, with the platform's reason code",
        {"ids": [1, 2], "reason": "seller_cancel_reason_out_of_stock"},
    ),
}


def _batch_view(action: str):
    summary, example = BATCH_DOCS[action]
    view = type(
        f"OrderBatch{action.title()}Api",
        (OrderBatchApi,),
        {"batch_action": action, "permission": ACTION_PERMISSIONS[action]},
    )

    def post(self, request):
        return OrderBatchApi.post(self, request)

    view.post = extend_schema(
        operation_id=f"orders_batch_{action}",
        summary=summary,
        request=BATCH_INPUTS[action],
        parameters=[IDEMPOTENCY],
        responses={200: s.BatchOutput, **ACTION_ERRORS},
        examples=[OpenApiExample(summary, value=example, request_only=True)],
    )(post)
    return view


BATCH_VIEWS = {action: _batch_view(action) for action in BATCH_INPUTS}
