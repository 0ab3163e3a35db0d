"""Shipping API shapes: ship one order, ship a batch, an order's packages."""

from rest_framework import serializers

from logistics.models import (
    Package,
    PackageItem,
    RedeliveryRequest,
    TrackingCode,
    TrackingEvent,
)
from oms.core.api.fields import IdField
from orders.api.serializers import (
    AddressInput,
    BatchInput,
    ErrorBody,
    OrderDetailOutput,
)

NUMBER_MAX_LENGTH = 40


class ShipItemInput(serializers.Serializer):
    item = IdField(help_text="The order item's id (see the order's packages)")
    quantity = serializers.IntegerField(min_value=1)


class ShipInput(serializers.Serializer):
    carrier = serializers.CharField(max_length=40, help_text="The carrier's code")
    tracking_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NUMBER_MAX_LENGTH,
        help_text="Typed or scanned; leave out with allocate=true",
    )
    allocate = serializers.BooleanField(
        required=False, default=False, help_text="Take a number from a pool"
    )
    items = ShipItemInput(
        many=True,
        required=False,
        help_text="For a partial shipment; leave out to ship all that remains",
    )
    version = serializers.IntegerField(
        required=False, min_value=0, help_text="Or send If-Match"
    )

    def validate_items(self, value):
        if not value:
            raise serializers.ValidationError("Choose at least one item.")
        return value

    def validate(self, attrs):
        has_number = bool((attrs.get("tracking_number") or "").strip())
        if has_number == bool(attrs.get("allocate")):
            raise serializers.ValidationError(
                {"tracking_number": "Give a tracking number, or allocate=true."}
            )
        return attrs


class BatchShipNumberInput(serializers.Serializer):
    id = IdField(help_text="The order id")
    # Checked per order by the service: a bad number is that order's error.
    tracking_number = serializers.CharField(
        max_length=200,
        help_text=f"Letters and digits, at most {NUMBER_MAX_LENGTH}",
    )


class BatchShipInput(BatchInput):
    carrier = serializers.CharField(max_length=40, help_text="The carrier's code")
    allocate = serializers.BooleanField(
        required=False, default=False, help_text="Take one number per order from a pool"
    )
    tracking_numbers = BatchShipNumberInput(
        many=True,
        required=False,
        max_length=500,
        help_text="One per order, when not allocating",
    )

    def validate(self, attrs):
        numbers = attrs.get("tracking_numbers")
        if bool(numbers) == bool(attrs.get("allocate")):
            raise serializers.ValidationError(
                {"tracking_numbers": "Give one per order, or allocate=true."}
            )
        return attrs


class PackageItemOutput(serializers.ModelSerializer):
    item = serializers.IntegerField(source="order_item_id")
    sku = serializers.CharField(source="order_item.sku")
    title = serializers.CharField(source="order_item.title")

    class Meta:
        model = PackageItem
        fields = ["item", "sku", "title", "quantity"]


class PackageOutput(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")
    carrier_name = serializers.CharField(source="carrier.name")
    tracking_url = serializers.CharField(
        help_text="The carrier's tracking page, or empty"
    )
    items = PackageItemOutput(many=True)

    class Meta:
        model = Package
        fields = [
            "id",
            "order",
            "carrier",
            "carrier_name",
            "tracking_number",
            "tracking_url",
            "status",
            "partial",
            "items",
            "created_at",
            "handed_over_at",
            "shipped_by",
            "platform_sync_status",
            "voided_at",
            "void_reason",
            "needs_reprint",
        ]


class ShipOutput(serializers.Serializer):
    package = PackageOutput()
    order = OrderDetailOutput()


class PackageListOutput(serializers.Serializer):
    results = PackageOutput(many=True)


class BatchShipResultOutput(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    package = serializers.IntegerField(required=False, help_text="The package's id")
    tracking_number = serializers.CharField(required=False)
    error = ErrorBody(required=False)


class BatchShipOutput(serializers.Serializer):
    results = BatchShipResultOutput(many=True)
    ok = serializers.IntegerField()
    failed = serializers.IntegerField()


# --- print batches ------------------------------------------------------------------------


class PrintBatchInput(serializers.Serializer):
    order_ids = serializers.ListField(
        child=IdField(),
        min_length=1,
        max_length=500,
        help_text="The orders to print (shipped first when not yet shipped)",
    )
    carrier = serializers.CharField(max_length=40, help_text="The carrier's code")
    size = serializers.ChoiceField(
        choices=["100x180", "100x150", "76x130"],
        required=False,
        default="100x180",
        help_text="Label stock",
    )


class PrintFailureOutput(serializers.Serializer):
    order_id = serializers.IntegerField()
    reason = serializers.CharField()


class UnscannedOutput(serializers.Serializer):
    package = serializers.IntegerField(source="pk")
    order_id = serializers.IntegerField()
    platform_order_id = serializers.CharField(source="order.platform_order_id")
    tracking_number = serializers.CharField()


class PrintBatchLinksOutput(serializers.Serializer):
    labels = serializers.CharField()
    reprint = serializers.CharField()
    packing_slips = serializers.CharField()
    pick_list = serializers.CharField()
    scan = serializers.CharField()


class PrintBatchOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()
    size = serializers.CharField()
    label_count = serializers.IntegerField()
    reprinted_labels = serializers.IntegerField()
    times_printed = serializers.IntegerField()
    last_printed_at = serializers.DateTimeField(allow_null=True)
    failures = PrintFailureOutput(many=True)
    unscanned = UnscannedOutput(many=True)
    links = PrintBatchLinksOutput()


class ScanInput(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=NUMBER_MAX_LENGTH)


class ScanOutput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["ok", "already_scanned", "unknown", "wrong_batch", "voided"]
    )
    order_id = serializers.IntegerField(required=False)
    message = serializers.CharField(
        required=False,
        help_text='Why a voided label is refused: "voided: order cancelled"',
    )


# --- tracking (L6) ------------------------------------------------------------------------


class TrackingEventInput(serializers.Serializer):
    carrier = serializers.CharField(max_length=40, help_text="The carrier's code")
    tracking_number = serializers.CharField(max_length=NUMBER_MAX_LENGTH)
    occurred_at = serializers.DateTimeField(help_text="With a UTC offset")
    code = serializers.ChoiceField(choices=TrackingCode.values)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=500
    )
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)


class TrackingEventsInput(serializers.Serializer):
    events = TrackingEventInput(many=True, min_length=1, max_length=500)


class TrackingEventResultOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's place in the request")
    outcome = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    package = serializers.IntegerField(required=False, help_text="The package's id")
    tracking_event = serializers.IntegerField(
        required=False, help_text="The stored event's id"
    )
    error = ErrorBody(required=False)


class TrackingEventsOutput(serializers.Serializer):
    results = TrackingEventResultOutput(many=True)
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    failed = serializers.IntegerField()


class TrackingEventOutput(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["occurred_at", "code", "description", "location", "source"]


class PackageTrackingOutput(serializers.ModelSerializer):
    package = serializers.IntegerField(source="pk")
    carrier = serializers.CharField(source="carrier.code")
    tracking_url = serializers.CharField(
        help_text="The carrier's tracking page, or empty"
    )
    # Plain text: the choice set is documented once, on PackageOutput.
    status = serializers.CharField(
        help_text="created, handed_over, in_transit, delivered, failed, cancelled or voided"
    )
    events = TrackingEventOutput(many=True, source="tracking_events")

    class Meta:
        model = Package
        fields = [
            "package",
            "carrier",
            "tracking_number",
            "tracking_url",
            "status",
            "stalled",
            "last_tracking_at",
            "events",
        ]


class OrderTrackingOutput(serializers.Serializer):
    results = PackageTrackingOutput(many=True)


class RedeliveryInput(serializers.Serializer):
    package = IdField(help_text="The failed package's id")
    address = AddressInput()
    name = serializers.CharField(required=False, max_length=128)
    phone = serializers.CharField(required=False, max_length=40)


class RedeliveryOutput(serializers.ModelSerializer):
    status = serializers.CharField(help_text="requested, or sent (to the platform)")

    class Meta:
        model = RedeliveryRequest
        fields = [
            "id",
            "package",
            "name",
            "phone",
            "country",
            "province",
            "city",
            "district",
            "street",
            "postcode",
            "requested_at",
            "requested_by",
            "status",
        ]


class RedeliveryResultOutput(serializers.Serializer):
    redelivery = RedeliveryOutput()
    order = OrderDetailOutput()


# --- merge and split (X5) ----------------------------------------------------------------


class MergeInput(serializers.Serializer):
    order_ids = serializers.ListField(
        child=IdField(),
        min_length=2,
        max_length=20,
        help_text="Orders of one shop, buyer and address, awaiting shipment",
    )


class MergeGroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    shop = serializers.IntegerField(source="shop_id")
    orders = serializers.ListField(
        child=serializers.IntegerField(), help_text="The orders, first (lead) first"
    )
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()


class MergeUndoOutput(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.IntegerField(), help_text="The orders that were merged"
    )


class SplitInput(serializers.Serializer):
    packages = serializers.ListField(
        child=serializers.ListField(child=ShipItemInput(), min_length=1),
        min_length=2,
        max_length=20,
        help_text="Each package's items; together exactly the order's quantities",
    )


class PlannedPackageOutput(serializers.Serializer):
    sequence = serializers.IntegerField()
    items = serializers.ListField(child=ShipItemInput())


class SplitOutput(serializers.Serializer):
    order = serializers.IntegerField()
    packages = PlannedPackageOutput(many=True)
