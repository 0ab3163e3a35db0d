"""Order output shapes (the unified shape of the ingest API) and action inputs."""

from rest_framework import serializers

from oms.core.api.fields import AmountField, IdField
from orders.choices import Flag
from orders.models import Order, OrderEvent, OrderItem, Shop
from orders.platforms import get_spec
from orders.privacy import mask_phone


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. invalid_transition"
    )
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorOutput(serializers.Serializer):
    error = ErrorBody()


class ShopOutput(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = [
            "id",
            "name",
            "platform",
            "market",
            "timezone",
            "currency",
            "platform_shop_id",
            "is_active",
        ]


class ItemOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["line_id", "platform_line_ids", "sku", "title", "spec", "quantity",
                  "unit_price", "discount", "image_url", "native_status",
                  "refund_status"]  # fmt: skip


class BuyerOutput(serializers.Serializer):
    nick = serializers.CharField(source="buyer_nick")
    name = serializers.CharField(source="buyer_name")
    phone = serializers.SerializerMethodField()
    phone_country_code = serializers.CharField(
        source="buyer_phone_country_code",
        help_text="The country calling code, apart from the number (+86)",
    )
    email = serializers.CharField(source="buyer_email")

    def get_phone(self, order: Order) -> str:
        return (
            order.buyer_phone
            if self.context.get("full_buyer")
            else mask_phone(order.buyer_phone)
        )


class AddressOutput(serializers.Serializer):
    country = serializers.CharField(source="address_country")
    province = serializers.CharField(source="address_province")
    city = serializers.CharField(source="address_city")
    district = serializers.CharField(source="address_district")
    street = serializers.CharField(source="address_street")
    postcode = serializers.CharField(source="address_postcode")


class OrderListOutput(serializers.ModelSerializer):
    shop = serializers.IntegerField(source="shop_id")
    native_status_label = serializers.SerializerMethodField()
    overlays = serializers.ListField(child=serializers.CharField())
    buyer = BuyerOutput(source="*")
    items = ItemOutput(many=True)
    memo = serializers.CharField(source="seller_memo")

    class Meta:
        model = Order
        fields = [
            "id", "shop", "platform", "platform_order_id", "native_status", "native_status_label",
            "stage", "end_reason", "overlays", "flag", "memo", "buyer", "items", "currency",
            "items_total", "shipping_fee", "discount", "tax", "total", "channel", "created_at",
            "paid_at", "shipped_at", "delivered_at", "completed_at", "closed_at",
            "platform_updated_at", "updated_at", "next_deadline_at", "next_deadline_kind", "version",
        ]  # fmt: skip

    def get_native_status_label(self, order: Order) -> str:
        return get_spec(order.platform).status(order.native_status).label


class RunningDeadlineOutput(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    due_at = serializers.DateTimeField()
    due_local = serializers.CharField(help_text="In the shop's time zone")
    time_zone = serializers.CharField()
    action = serializers.CharField(
        help_text="What the system does when due ('' for none)"
    )
    violation = serializers.CharField()
    consequence = serializers.CharField()
    source = serializers.CharField(
        help_text="platform: sent by the platform; policy: computed"
    )


class OrderDetailOutput(OrderListOutput):
    address = AddressOutput(source="*")
    buyer_message = serializers.CharField()
    paid_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    deadlines = serializers.SerializerMethodField()
    running_deadlines = RunningDeadlineOutput(many=True, source="running")
    allowed_actions = serializers.ListField(
        child=serializers.CharField(), source="allowed"
    )

    class Meta(OrderListOutput.Meta):
        fields = [*OrderListOutput.Meta.fields, "address", "buyer_message", "paid_amount",
                  "deadlines", "running_deadlines", "allowed_actions"]  # fmt: skip

    def get_deadlines(self, order: Order) -> dict[str, str]:
        return {d["kind"]: d["due_at"].isoformat() for d in order.running}


class EventOutput(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = [
            "id",
            "created_at",
            "type",
            "action",
            "from_status",
            "to_status",
            "actor",
            "reason",
            "data",
        ]

    def get_actor(self, event: OrderEvent) -> dict[str, str]:
        return {"kind": event.actor_kind, "label": event.actor_label}


class VersionedInput(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Refuse (412) if the order changed since this version",
    )


class MemoInput(VersionedInput):
    memo = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    flag = serializers.ChoiceField(
        required=False, allow_blank=True, choices=Flag.choices
    )


class PriceInput(VersionedInput):
    total = AmountField(positive=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class AddressInput(serializers.Serializer):
    country = serializers.CharField(required=False, max_length=2, min_length=2)
    province = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    district = serializers.CharField(required=False, allow_blank=True, max_length=100)
    street = serializers.CharField(required=False, max_length=500)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=20)


class AddressChangeInput(VersionedInput):
    address = AddressInput(required=False)
    name = serializers.CharField(required=False, max_length=128)
    phone = serializers.CharField(required=False, max_length=40)


class ReasonInput(VersionedInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class CancelInput(VersionedInput):
    reason = serializers.CharField(
        max_length=200, help_text="The platform's reason code"
    )


class BatchInput(serializers.Serializer):
    ids = serializers.ListField(child=IdField(), min_length=1, max_length=500)


class BatchMemoInput(BatchInput):
    memo = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    flag = serializers.ChoiceField(
        required=False, allow_blank=True, choices=Flag.choices
    )


class BatchReasonInput(BatchInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class BatchCancelInput(BatchInput):
    reason = serializers.CharField(max_length=200)


class BatchResultOutput(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    version = serializers.IntegerField(required=False)
    error = ErrorBody(required=False)


class BatchOutput(serializers.Serializer):
    results = BatchResultOutput(many=True)
    ok = serializers.IntegerField()
    failed = serializers.IntegerField()
