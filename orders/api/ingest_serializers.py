"""The unified order shape for bulk upsert, as documentation.

These serializers describe the request and response in the OpenAPI schema only: the
orders are validated by ``orders.ingest`` (one set of rules for every way an order
arrives), and each order's errors come back in its own result.
"""

from rest_framework import serializers

from oms.core.api.fields import AmountField
from orders.api.serializers import ErrorBody
from orders.choices import Channel, DeadlineKind, Flag
from orders.ingest import MAX_ITEMS

MAX_ORDERS = 500


def _amount(help_text: str = "", **kwargs) -> serializers.DecimalField:
    return AmountField(help_text=help_text, **kwargs)


class UnifiedBuyerInput(serializers.Serializer):
    nick = serializers.CharField(required=False, allow_blank=True, max_length=128)
    name = serializers.CharField(required=False, allow_blank=True, max_length=128)
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=40,
        help_text="The number as the platform sends it; a masked one stays masked",
    )  # fmt: skip
    phone_country_code = serializers.CharField(
        required=False, allow_blank=True, max_length=8,
        help_text="The country calling code, apart from the number: +86",
    )  # fmt: skip
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)


class UnifiedAddressInput(serializers.Serializer):
    country = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="ISO 3166 alpha-2"
    )
    province = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    district = serializers.CharField(required=False, allow_blank=True, max_length=100)
    street = serializers.CharField(required=False, allow_blank=True, max_length=500)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=20)


class UnifiedItemInput(serializers.Serializer):
    line_id = serializers.CharField(
        required=False, allow_blank=True,
        help_text="The platform's line id; lines are matched by it, else by SKU",
    )  # fmt: skip
    platform_line_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False,
        help_text="Every platform id of the line's units (TikTok Shop sends one line "
        "item per unit); at most quantity ids. Default: [line_id]",
    )  # fmt: skip
    sku = serializers.CharField(required=False, allow_blank=True)
    title = serializers.CharField(max_length=500)
    spec = serializers.CharField(required=False, allow_blank=True, max_length=300)
    quantity = serializers.IntegerField(min_value=1, default=1)
    unit_price = _amount()
    discount = _amount("Line discount", required=False)
    image_url = serializers.CharField(required=False, allow_blank=True)
    native_status = serializers.CharField(required=False, allow_blank=True)
    refund_status = serializers.CharField(required=False, allow_blank=True)


class UnifiedOrderInput(serializers.Serializer):
    """One order in the unified shape (the field names of the order output)."""

    shop = serializers.IntegerField(help_text="One of your shops (GET /api/v1/shops/)")
    platform_order_id = serializers.CharField(max_length=64)
    native_status = serializers.CharField(
        help_text="The platform's own status code, e.g. WAIT_SELLER_SEND_GOODS, "
        "AWAITING_SHIPMENT (variant spellings such as TikTok CANCEL are accepted)"
    )
    platform_updated_at = serializers.DateTimeField(
        help_text="The platform's update time: an older one than stored changes nothing"
    )
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(required=False, allow_null=True)
    shipped_at = serializers.DateTimeField(required=False, allow_null=True)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)
    closed_at = serializers.DateTimeField(required=False, allow_null=True)
    buyer = UnifiedBuyerInput(required=False)
    address = UnifiedAddressInput(required=False)
    items = UnifiedItemInput(many=True, min_length=1, max_length=MAX_ITEMS)
    currency = serializers.CharField(
        min_length=3, max_length=3, help_text="ISO 4217, e.g. CNY"
    )
    shipping_fee = _amount(required=False)
    discount = _amount("Order-level discount", required=False)
    tax = _amount(required=False)
    total = _amount(
        "Omit to compute: items − line discounts + shipping − discount + tax",
        required=False,
    )
    buyer_message = serializers.CharField(required=False, allow_blank=True)
    seller_memo = serializers.CharField(required=False, allow_blank=True)
    flag = serializers.ChoiceField(
        choices=Flag.choices, required=False, allow_blank=True
    )
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    end_reason = serializers.CharField(required=False, allow_blank=True, max_length=60)
    cancel_requested = serializers.BooleanField(required=False, allow_null=True)
    deadlines = serializers.DictField(
        child=serializers.DateTimeField(),
        required=False,
        help_text="The platform's own deadlines by kind: "
        + ", ".join(DeadlineKind.values),
    )


class BulkUpsertInput(serializers.Serializer):
    format = serializers.CharField(
        required=False,
        help_text="unified (the default) or a platform code: the entries are then "
        "that platform's own payloads or whole API responses (see the description)",
    )
    shop = serializers.IntegerField(
        required=False, help_text="The shop of native entries that name none"
    )
    orders = UnifiedOrderInput(many=True, min_length=1, max_length=MAX_ORDERS)


class RefusedChange(serializers.Serializer):
    field = serializers.CharField(
        help_text="e.g. total, address.street, items[0].unit_price"
    )
    code = serializers.ChoiceField(
        choices=["amount_locked_after_payment", "address_locked_after_shipment"]
    )


class BulkUpsertResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="The order's position in the request")
    position = serializers.IntegerField(
        required=False,
        help_text="Native entries: the order's position within the entry's response",
    )
    ok = serializers.BooleanField()
    id = serializers.IntegerField(required=False, help_text="The order id, when ok")
    outcome = serializers.ChoiceField(
        choices=["created", "updated", "unchanged", "stale"],
        required=False,
        help_text="When ok. stale: older than what is stored, so nothing changed",
    )
    refused = RefusedChange(
        many=True,
        required=False,
        help_text="When ok: changes the platform may not make at the order's stage, "
        "kept as they were",
    )
    error = ErrorBody(required=False, help_text="When not ok")


class BulkUpsertOutput(serializers.Serializer):
    results = BulkUpsertResult(many=True)
    ok = serializers.IntegerField()
    failed = serializers.IntegerField()
