"""Outbound webhooks API: subscriptions, their delivery log, and redelivery.

Scope ``webhooks``; a signed-in person needs the owner's "manage organisation" right.
Subscriptions are organisation-wide (they receive every shop's events, and the delivery
log carries every shop's orders), so a key or member limited to some shops is refused
the whole API (403), not shown a filtered log. Another organisation's subscriptions
and deliveries are a 404, as for missing ones. The secret is returned once, in the
create response. The log keeps status and timing, never the receiver's answer.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from integrations import webhooks
from integrations.models import Scope, WebhookDelivery, WebhookSubscription
from oms.core.api.base import OmsApiView
from oms.core.api.pagination import paginate
from oms.core.errors import NotFound, PermissionDenied
from orders.api import serializers as s
from orders.api.views import IDEMPOTENCY, page_schema
from orders.permissions import MANAGE_ORGANISATION

ERRORS = {
    400: s.ErrorOutput,
    401: s.ErrorOutput,
    403: s.ErrorOutput,
    404: s.ErrorOutput,
    429: s.ErrorOutput,
}
# Operations taking an Idempotency-Key: the same key still running (409) or sent with
# another body (422).
IDEMPOTENCY_ERRORS = {409: s.ErrorOutput, 422: s.ErrorOutput}
TAGS = ["webhooks"]

# --- shapes -------------------------------------------------------------------------


class SubscriptionInput(serializers.Serializer):
    url = serializers.URLField(
        max_length=500,
        help_text="https, to a public internet address (private, loopback, link-local "
        "and metadata addresses are refused here and again at every delivery)",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(webhooks.EVENT_TYPES)),
        min_length=1,
        help_text="Event types to receive",
    )
    is_active = serializers.BooleanField(required=False, default=True)


class SubscriptionPatchInput(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(webhooks.EVENT_TYPES)),
        min_length=1,
        required=False,
    )
    is_active = serializers.BooleanField(required=False)


class SubscriptionOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "is_active", "created_at"]


class SubscriptionCreatedOutput(SubscriptionOutput):
    secret = serializers.CharField(
        help_text="The signing secret. Shown only in this response: store it now."
    )

    class Meta(SubscriptionOutput.Meta):
        fields = [*SubscriptionOutput.Meta.fields, "secret"]


class DeliveryOutput(serializers.ModelSerializer):
    subscription = serializers.IntegerField(source="subscription_id")
    payload = serializers.JSONField(help_text="The body sent (as JSON)")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "subscription", "event_id", "event_type", "status", "attempts",
            "next_attempt_at", "last_status_code", "last_error", "last_attempt_at",
            "last_duration_ms", "created_at", "delivered_at", "payload",
        ]  # fmt: skip


SUBSCRIPTION_EXAMPLE = {
    "id": 7,
    "url": "https://erp.example.com/oms/webhooks",
    "events": ["order.created", "order.shipped"],
    "is_active": True,
    "created_at": "2026-11-20T08:00:00Z",
}
DELIVERY_EXAMPLE = {
    "id": 1201,
    "subscription": 7,
    "event_id": "8d3c2f4e-9a4b-5c61-8e0f-2b7d6a1c9e33",
    "event_type": "order.shipped",
    "status": "failed",
    "attempts": 7,
    "next_attempt_at": "2026-11-21T07:40:00Z",
    "last_status_code": 500,
    "last_error": "HTTP 500",
    "last_attempt_at": "2026-11-21T07:39:58Z",
    "last_duration_ms": 212,
    "created_at": "2026-11-20T08:00:00Z",
    "delivered_at": None,
    "payload": {
        "id": "8d3c2f4e-9a4b-5c61-8e0f-2b7d6a1c9e33",
        "type": "order.shipped",
        "created": "2026-11-20T08:00:00+00:00",
        "data": {"order": {"id": 42, "native_status": "WAIT_BUYER_CONFIRM_GOODS"}},
    },
}

# --- views --------------------------------------------------------------------------


class WebhookApiView(OmsApiView):
    permission = MANAGE_ORGANISATION
    scope = Scope.WEBHOOKS

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # the role needs MANAGE_ORGANISATION
        if self.ctx.shop_ids is not None:
            raise PermissionDenied(
                "Webhooks receive every shop's events: a key or member limited to "
                "some shops may not manage them or read their delivery log."
            )

    def get_subscription(self, subscription_id: int) -> WebhookSubscription:
        subscription = WebhookSubscription.objects.filter(
            pk=subscription_id, organisation=self.ctx.organisation
        ).first()
        if subscription is None:
            raise NotFound(
                "No such webhook subscription.", subscription_id=subscription_id
            )
        return subscription


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class WebhookListApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="The organisation's webhook subscriptions",
        tags=TAGS,
        responses={200: SubscriptionOutput(many=True), **ERRORS},
        examples=[
            OpenApiExample(
                "Subscriptions", value=[SUBSCRIPTION_EXAMPLE], response_only=True
            )
        ],
    )
    def get(self, request):
        rows = WebhookSubscription.objects.filter(
            organisation=self.ctx.organisation
        ).order_by("id")
        return Response(SubscriptionOutput(rows, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe an endpoint; the response shows the signing secret once",
        description=(
            "Each delivery is a POST of the event as JSON with `X-OMS-Event`, "
            "`X-OMS-Event-Id`, `X-OMS-Delivery` and `X-OMS-Signature: t=<unix>,v1=<hex>`, "
            'where v1 is HMAC-SHA256(secret, "<t>.<body>"). Reject old timestamps to '
            "refuse replays and de-duplicate by event id. Non-2xx answers are retried "
            "after 1 m, 5 m, 30 m, 2 h, 6 h and 15 h."
        ),
        tags=TAGS,
        request=SubscriptionInput,
        parameters=[IDEMPOTENCY],
        responses={
            201: SubscriptionCreatedOutput,
            **ERRORS,
            **IDEMPOTENCY_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Subscribe",
                value={
                    "url": "https://erp.example.com/oms/webhooks",
                    "events": ["order.created", "order.shipped"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**SUBSCRIPTION_EXAMPLE, "secret": "3f9a…c2"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        data = _valid(SubscriptionInput, request)
        subscription = webhooks.create_subscription(
            organisation=self.ctx.organisation, **data
        )
        return Response(SubscriptionCreatedOutput(subscription).data, status=201)


class WebhookDetailApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One webhook subscription",
        tags=TAGS,
        responses={200: SubscriptionOutput, **ERRORS},
        examples=[
            OpenApiExample(
                "Subscription", value=SUBSCRIPTION_EXAMPLE, response_only=True
            )
        ],
    )
    def get(self, request, subscription_id: int):
        return Response(SubscriptionOutput(self.get_subscription(subscription_id)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        summary="Change a subscription's URL, events, or pause it",
        tags=TAGS,
        request=SubscriptionPatchInput,
        responses={200: SubscriptionOutput, **ERRORS},
        examples=[
            OpenApiExample("Pause", value={"is_active": False}, request_only=True),
            OpenApiExample(
                "Paused",
                value={**SUBSCRIPTION_EXAMPLE, "is_active": False},
                response_only=True,
            ),
        ],
    )
    def patch(self, request, subscription_id: int):
        subscription = self.get_subscription(subscription_id)
        data = _valid(SubscriptionPatchInput, request)
        webhooks.update_subscription(subscription, **data)
        return Response(SubscriptionOutput(subscription).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a subscription and its delivery log",
        tags=TAGS,
        responses={204: None, **ERRORS},
    )
    def delete(self, request, subscription_id: int):
        self.get_subscription(subscription_id).delete()
        return Response(status=204)


class WebhookDeliveriesApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="A subscription's delivery log, newest first",
        tags=TAGS,
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="1 to 200, default 50"
            ),
        ],
        responses={200: page_schema("DeliveryPage", DeliveryOutput), **ERRORS},
        examples=[
            OpenApiExample(
                "Delivery log",
                value={"results": [DELIVERY_EXAMPLE], "next": None},
                response_only=True,
            )
        ],
    )
    def get(self, request, subscription_id: int):
        subscription = self.get_subscription(subscription_id)
        rows, next_url = paginate(
            request,
            WebhookDelivery.objects.filter(subscription=subscription),
            ("created_at", "id"),
            descending=True,
        )
        return Response(
            {"results": DeliveryOutput(rows, many=True).data, "next": next_url}
        )


class WebhookRedeliverApi(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        summary="Send a delivery's event again (a new delivery, same event id)",
        tags=TAGS,
        request=None,
        parameters=[IDEMPOTENCY],
        responses={201: DeliveryOutput, **ERRORS, **IDEMPOTENCY_ERRORS},
        examples=[
            OpenApiExample(
                "Redelivery queued",
                value={
                    **DELIVERY_EXAMPLE,
                    "id": 1350,
                    "status": "pending",
                    "attempts": 0,
                    "last_status_code": None,
                    "last_error": "",
                },
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    def post(self, request, delivery_id: int):
        delivery = (
            WebhookDelivery.objects.select_related("subscription")
            .filter(pk=delivery_id, subscription__organisation=self.ctx.organisation)
            .first()
        )
        if delivery is None:
            raise NotFound("No such webhook delivery.", delivery_id=delivery_id)
        copy = webhooks.redeliver(delivery)
        return Response(DeliveryOutput(copy).data, status=201)
