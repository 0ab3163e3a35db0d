"""Messages, customer-service notes and a buyer's history of one order (PRODUCT.md A4).

Reads need the orders read scope, writes ``aftersales:write``; a signed-in member also
needs the role (messages: ``aftersales.decide``; notes: memo or ``aftersales.decide``).
An order outside the caller's organisation or shops is a 404, as for a missing one.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from aftersales import messaging
from aftersales.choices import CaseKind, CaseState, MessageDirection, NoteSubject
from aftersales.models import Case, Message, Note
from oms.core.api.base import OmsApiView
from oms.core.api.pagination import paginate
from orders import permissions as p
from orders.api.serializers import ErrorOutput
from orders.api.views import ERRORS, IDEMPOTENCY, ORDER_ID, get_order
from orders.choices import Stage
from orders.models import Order
from orders.permissions import Scope
from orders.privacy import mask_phone

WRITE_ERRORS = {**ERRORS, 409: ErrorOutput, 422: ErrorOutput}
PAGING = [
    OpenApiParameter("cursor", OpenApiTypes.STR),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 200, default 50"),
]

# --- shapes ------------------------------------------------------------------------------


class MessageRuleOutput(serializers.Serializer):
    platform = serializers.CharField()
    max_length = serializers.IntegerField(
        help_text="Characters (Unicode code points), after \\r\\n → \\n and trimming"
    )
    english_only = serializers.BooleanField(
        help_text="Printable ASCII, line breaks, tabs and ‘ ’ “ ” – — … only"
    )
    source = serializers.ChoiceField(
        choices=[messaging.PLATFORM_RULE, messaging.PRODUCT_DEFAULT],
        help_text="platform: the platform's rule; product_default: ours, the platform "
        "states none",
    )
    description = serializers.CharField()


class MessageOutput(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    direction = serializers.ChoiceField(choices=MessageDirection.choices)
    author = serializers.CharField(
        source="author_label", help_text="Member, API key or the buyer's nick"
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "order",
            "direction",
            "body",
            "platform_message_id",
            "author",
            "created_at",
        ]


class MessagePage(serializers.Serializer):
    results = MessageOutput(many=True)
    next = serializers.URLField(allow_null=True)
    rule = MessageRuleOutput(help_text="What a seller's message to this buyer may be")


class MessageInput(serializers.Serializer):
    body = serializers.CharField(
        trim_whitespace=False,
        help_text="Checked against the platform's rule (see `rule` of the list): "
        "AliExpress English only, at most 1,500 characters. A refusal is 400 "
        "`invalid_input` with `details.reason` (`empty`, `too_long`, `not_english`, "
        "`control_character`) and, for a character, its 1-based `position`.",
    )


class NoteOutput(serializers.ModelSerializer):
    subject = serializers.ChoiceField(choices=NoteSubject.choices)
    order = serializers.IntegerField(source="order_id", allow_null=True)
    author = serializers.CharField(source="author_label")

    class Meta:
        model = Note
        fields = ["id", "subject", "order", "buyer_key", "body", "author", "created_at"]


class NotePage(serializers.Serializer):
    results = NoteOutput(many=True)
    next = serializers.URLField(allow_null=True)


class NoteInput(serializers.Serializer):
    body = serializers.CharField(trim_whitespace=False, max_length=4000)
    subject = serializers.ChoiceField(
        choices=NoteSubject.choices,
        default=NoteSubject.ORDER,
        help_text="order: on this order; buyer: on its buyer (every order of theirs "
        "on this platform shows it)",
    )


class HistoryBuyerOutput(serializers.Serializer):
    platform = serializers.CharField()
    nick = serializers.CharField()
    phone = serializers.SerializerMethodField(help_text="Masked")
    key = serializers.CharField(help_text="<platform>:<buyer nick>, '' without a nick")

    def get_phone(self, buyer: messaging.Buyer) -> str:
        return mask_phone(buyer.phone)


class CurrencyTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    orders = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2)


class HistoryOrderOutput(serializers.ModelSerializer):
    shop = serializers.IntegerField(source="shop_id")
    shop_name = serializers.CharField(source="shop.name")
    stage = serializers.ChoiceField(choices=Stage.choices)

    class Meta:
        model = Order
        fields = ["id", "shop", "shop_name", "platform", "platform_order_id",
                  "native_status", "stage", "currency", "total", "created_at"]  # fmt: skip


class HistoryCaseOutput(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    kind = serializers.ChoiceField(choices=CaseKind.choices)
    state = serializers.ChoiceField(choices=CaseState.choices)

    class Meta:
        model = Case
        fields = ["id", "order", "kind", "native_status", "state", "task", "currency",
                  "amount", "due_at", "opened_at"]  # fmt: skip


class BuyerHistoryOutput(serializers.Serializer):
    buyer = HistoryBuyerOutput()
    order_count = serializers.IntegerField(help_text="All matching orders")
    totals = CurrencyTotalOutput(
        many=True, help_text="Per currency, never summed across"
    )
    orders = HistoryOrderOutput(many=True, help_text="Newest first, at most 50")
    has_more = serializers.BooleanField()
    open_cases = HistoryCaseOutput(many=True)
    notes = NoteOutput(many=True)
    buyer_keys = serializers.ListField(
        child=serializers.CharField(),
        help_text="The buyer's nicks found on the matching orders",
    )


def rule_data(order: Order) -> dict:
    rule = messaging.rule_for(order.platform)
    return {
        "platform": order.platform,
        "max_length": rule.max_length,
        "english_only": rule.english_only,
        "source": rule.source,
        "description": rule.describe(),
    }


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- views -------------------------------------------------------------------------------


class OrderMessagesApi(OmsApiView):
    scopes = {"GET": Scope.ORDERS_READ, "POST": Scope.AFTERSALES_WRITE}
    permissions = {"GET": p.VIEW_ORDERS, "POST": p.DECIDE_AFTERSALES}

    @extend_schema(
        operation_id="orders_messages_list",
        summary="The order's buyer–seller messages, oldest first, and the platform's rule",
        parameters=[ORDER_ID, *PAGING],
        responses={200: MessagePage, **ERRORS},
    )
    def get(self, request, order_id: int):
        order = get_order(self, order_id)
        rows, next_url = paginate(
            request, messaging.thread(order), ("created_at", "id"), descending=False
        )
        return Response(
            {
                "results": MessageOutput(rows, many=True).data,
                "next": next_url,
                "rule": rule_data(order),
            }
        )

    @extend_schema(
        operation_id="orders_messages_create",
        summary="Send a message to the order's buyer",
        description="Refused with 400 when the platform's rule does not allow it "
        "(nothing is stored); the order's timeline gets `aftersales` `message.sent`.",
        request=MessageInput,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={201: MessageOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "A message",
                value={"body": "Hello, your parcel leaves our warehouse today."},
                request_only=True,
            )
        ],
    )
    def post(self, request, order_id: int):
        data = _valid(MessageInput, request)
        order = get_order(self, order_id)
        message = messaging.send_message(order, data["body"], self.ctx.actor)
        return Response(MessageOutput(message).data, status=201)


class OrderNotesApi(OmsApiView):
    scopes = {"GET": Scope.ORDERS_READ, "POST": Scope.AFTERSALES_WRITE}
    # Notes take memo or aftersales.decide (aftersales.messaging.can_note): every role
    # with one has memo too, so memo is the one to declare.
    permissions = {"GET": p.VIEW_ORDERS, "POST": p.MEMO}

    @extend_schema(
        operation_id="orders_notes_list",
        summary="Customer-service notes on the order and on its buyer, newest first",
        parameters=[ORDER_ID, *PAGING],
        responses={200: NotePage, **ERRORS},
    )
    def get(self, request, order_id: int):
        order = get_order(self, order_id)
        rows, next_url = paginate(
            request, messaging.notes_for(order), ("created_at", "id"), descending=True
        )
        return Response({"results": NoteOutput(rows, many=True).data, "next": next_url})

    @extend_schema(
        operation_id="orders_notes_create",
        summary="Add a customer-service note on the order or on its buyer",
        request=NoteInput,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={201: NoteOutput, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "A buyer note",
                value={"body": "Prefers SF Express", "subject": "buyer"},
                request_only=True,
            )
        ],
    )
    def post(self, request, order_id: int):
        data = _valid(NoteInput, request)
        order = get_order(self, order_id)
        note = messaging.add_note(
            order,
            data["body"],
            self.ctx.actor,
            on_buyer=data["subject"] == NoteSubject.BUYER,
        )
        return Response(NoteOutput(note).data, status=201)


class OrderBuyerHistoryApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="orders_buyer_history",
        summary="The buyer's orders across the organisation's shops, cases and notes",
        description="Orders on the same platform with the same buyer nick, or with the "
        "same (unmasked) phone, in the shops the caller may see; counts and totals "
        "per currency.",
        parameters=[ORDER_ID],
        responses={200: BuyerHistoryOutput, **ERRORS},
    )
    def get(self, request, order_id: int):
        order = get_order(self, order_id)
        history = messaging.buyer_history(order, self.ctx.actor)
        return Response(BuyerHistoryOutput(history).data)
