"""Carriers, tracking-number pools, shipments and tracking (PRODUCT.md L1–L6): issue 6.

Part 1 holds carriers (L1) and tracking-number pools (L2). Only ``logistics.services``
changes a tracking number's status. Indexes say in a comment which query each one serves.
"""

from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from orders.models import MONEY, Order, Organisation


class LabelSize(models.TextChoices):
    """Label stock (platforms.md Part 1, "Carriers")."""

    TWO_PART = "100x180", _("100×180 mm (two-part e-waybill)")
    ONE_PART = "76x130", _("76×130 mm (one-part e-waybill)")
    INTERNATIONAL = "100x150", _("100×150 mm (4×6 in, international)")
    A6 = "A6", _("A6 (TikTok Shop platform label)")


class NumberStatus(models.TextChoices):
    AVAILABLE = "available", _("available")
    RESERVED = "reserved", _("reserved")
    USED = "used", _("used")
    VOID = "void", _("void")
    EXPIRED = "expired", _("expired")


class Carrier(models.Model):
    """A carrier, with each platform's own code for it (PRODUCT.md L1).

    ``platform_codes`` maps a platform (or code system) to that platform's code:
    ``{"taobao": "YUNDA", "aliexpress": "CAINIAO_STANDARD", "kdniao": "YD"}``. TikTok
    Shop's ``shipping_provider_id`` is an opaque id that each shop reads from Get
    Shipping Providers; it is not a carrier code, so the seeded rows leave it out.
    """

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    tracking_url_template = models.CharField(
        _("tracking URL"), max_length=300, blank=True,
        help_text=_("A URL with {number} where the tracking number goes."),
    )  # fmt: skip
    default_label_size = models.CharField(
        _("default label size"), max_length=10,
        choices=LabelSize.choices, default=LabelSize.TWO_PART,
    )  # fmt: skip
    platform_codes = models.JSONField(
        _("platform codes"), default=dict, blank=True,
        help_text=_('Each platform\'s code, e.g. {"taobao": "YUNDA", "aliexpress": "CAINIAO_STANDARD"}'),
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        if self.tracking_url_template and "{number}" not in self.tracking_url_template:
            raise ValidationError(
                {"tracking_url_template": _("The URL must contain {number}.")}
            )
        codes = self.platform_codes
        if not isinstance(codes, dict) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in codes.items()
        ):
            raise ValidationError(
                {"platform_codes": _("A mapping of platform to code (both text).")}
            )

    def tracking_url(self, number: str) -> str:
        """The page that tracks ``number``, or "" when the carrier has no template."""
        if not self.tracking_url_template:
            return ""
        return self.tracking_url_template.replace("{number}", quote(number, safe=""))

    def code_for(self, platform: str) -> str | None:
        """This carrier's code on ``platform``, or None when it has none there."""
        return (self.platform_codes or {}).get(platform) or None


class TrackingNumberPool(models.Model):
    """A batch of tracking numbers bought from a carrier (a range or a list)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="tracking_pools"
    )
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(_("name"), max_length=200)
    purchased_at = models.DateTimeField(_("purchased at"), default=now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    price_per_number = models.DecimalField(_("price per number"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    low_stock_threshold = models.PositiveIntegerField(
        _("low-stock threshold"), default=50
    )
    # The warning job's last notice for this pool: at most one a day.
    last_warned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["organisation", "purchased_at", "id"]
        indexes = [
            # Allocation walks an organisation's pools for a carrier, oldest first.
            models.Index(fields=["organisation", "carrier", "purchased_at", "id"], name="pool_alloc_order_idx"),
            # The expiry sweep: expiry is a property of the purchase, so it is indexed on
            # the (few) pools, not on the (many) numbers. The sweep finds pools expired by
            # now here, then flips their available numbers through the allocation index
            # on the numbers (pool, id) WHERE status='available'.
            models.Index(
                fields=["expires_at"], name="pool_expiry_idx",
                condition=Q(expires_at__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name

    def is_expired(self, at) -> bool:
        return self.expires_at is not None and self.expires_at <= at


class TrackingNumber(models.Model):
    """One tracking number: available → reserved → used, or void / expired.

    A number is unique per carrier for ever, across organisations: the carrier issued it
    once, and carrier tracking pushes (L6) are matched by (carrier, number), so two rows
    for one number could never both be right. Per organisation would let two sellers
    print the same waybill. The cost is that an import can be refused because of another
    organisation's number; the refusal then names no order of the other organisation.
    """

    # Null for a number typed or scanned at shipping time (``register_manual``).
    # db_index=False: the (pool, status) index below serves every look-up by pool.
    pool = models.ForeignKey(
        TrackingNumberPool, null=True, blank=True, db_index=False,
        on_delete=models.PROTECT, related_name="numbers",
    )  # fmt: skip
    # Denormalised from the pool: the uniqueness constraint and look-ups need them
    # without a join, and manual numbers have no pool.
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("tracking number"), max_length=40)
    status = models.CharField(
        _("status"), max_length=10,
        choices=NumberStatus.choices, default=NumberStatus.AVAILABLE,
    )  # fmt: skip
    reserved_at = models.DateTimeField(_("reserved at"), null=True, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=300, blank=True)
    # The order the number was reserved for or used on. A deleted order leaves the
    # number used: it is never handed out again.
    # db_index=False: the partial index on order below serves it.
    order = models.ForeignKey(
        Order, null=True, blank=True, db_index=False,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    # The package it is printed on; a foreign key once packages exist (L3).
    package_ref = models.CharField(_("package"), max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Re-use is refused for ever (PRODUCT.md L2); also the import's last guard
            # against a concurrent import of the same numbers. Unique on (carrier, number);
            # number leads so the same index serves the import's look-ups (carrier and
            # number) and a search by number alone (admin, support, scans).
            models.UniqueConstraint(fields=["number", "carrier"], name="trackingnumber_carrier_number_unique"),
        ]  # fmt: skip
        indexes = [
            # Allocation: a pool's available numbers in id order (SKIP LOCKED), and the
            # expiry sweep's update of an expired pool's available numbers.
            models.Index(
                fields=["pool", "id"], name="trackingnumber_alloc_idx",
                condition=Q(status=NumberStatus.AVAILABLE),
            ),
            # Pool statistics count a pool's numbers by status.
            models.Index(fields=["pool", "status"], name="trackingnumber_pool_status_idx"),
            # The numbers reserved for or used on an order.
            models.Index(
                fields=["order"], name="trackingnumber_order_idx",
                condition=Q(order__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.carrier_id}:{self.number} ({self.status})"


class PackageStatus(models.TextChoices):
    CREATED = "created", _("created")
    HANDED_OVER = "handed_over", _("handed over")
    IN_TRANSIT = "in_transit", _("in transit")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("delivery failed")
    CANCELLED = "cancelled", _("cancelled")
    # Its order was closed before the parcel left (L3): the label must never be used.
    VOIDED = "voided", _("voided")


# A package in one of these holds nothing any more: its items count as not shipped, it
# is not printed, reprinted or handed over.
DEAD_PACKAGE_STATUSES = (PackageStatus.CANCELLED, PackageStatus.VOIDED)


class SyncStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SYNCED = "synced", _("synced")
    FAILED = "failed", _("failed")


class Package(models.Model):
    """One parcel of an order, with its carrier and tracking number (PRODUCT.md L3).

    Made only by ``logistics.shipping``. An order may have several (partial shipments,
    several parcels); a tracking number is on one package for ever.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="packages"
    )
    # db_index=False: the (order, id) index below serves every look-up by order.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="packages", db_index=False
    )
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="+")
    tracking_number = models.CharField(_("tracking number"), max_length=40)
    # The pool's (or the typed number's) row; null only if it was removed by hand.
    tracking_record = models.OneToOneField(
        TrackingNumber, null=True, blank=True,
        on_delete=models.SET_NULL, related_name="package",
    )  # fmt: skip
    status = models.CharField(
        _("status"), max_length=12,
        choices=PackageStatus.choices, default=PackageStatus.CREATED,
    )  # fmt: skip
    # The shipment was partial (the platform's send_type=part) when it was made.
    partial = models.BooleanField(_("partial shipment"), default=False)
    created_at = models.DateTimeField(_("created at"), default=now)
    handed_over_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    # The hand-over scan (L5): a scan marks the package handed over.
    scanned_at = models.DateTimeField(_("scanned at"), null=True, blank=True)
    shipped_by = models.CharField(_("shipped by"), max_length=150, blank=True)
    # The shipment is recorded for sync to the platform (consign / ship API).
    platform_sync_status = models.CharField(
        _("platform sync"), max_length=10,
        choices=SyncStatus.choices, default=SyncStatus.PENDING,
    )  # fmt: skip
    platform_synced_at = models.DateTimeField(null=True, blank=True)
    platform_sync_error = models.CharField(max_length=500, blank=True)
    # Tracking (L6): the newest tracking event's time; flagged (and notified once) when
    # a package in transit has had no event for OMS_STALLED_AFTER_DAYS.
    last_tracking_at = models.DateTimeField(
        _("last tracking event"), null=True, blank=True
    )
    stalled = models.BooleanField(_("stalled"), default=False)
    # Voided (``logistics.voiding``): when and why. The number stays on the package for
    # the record; it is void in the pool.
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=300, blank=True)
    # An order of a merged parcel was cancelled and left it: the printed label lists
    # items no longer in the parcel. Cleared when the label is printed again.
    needs_reprint = models.BooleanField(_("label to reprint"), default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One package per (carrier, number) for ever. Number leads, as on
            # TrackingNumber, so the index also serves a search by number alone.
            models.UniqueConstraint(fields=["tracking_number", "carrier"], name="package_carrier_number_unique"),
        ]  # fmt: skip
        indexes = [
            # An order's packages in id order: the order page's shipments panel,
            # GET /api/v1/orders/{id}/packages/, and the shipped quantities per item.
            models.Index(fields=["order", "id"], name="package_order_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.carrier_id}:{self.tracking_number}"

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number)


class PackageItem(models.Model):
    """How many of one order line are in a package."""

    # The default FK indexes serve the look-ups: a package's items (prefetch) and the
    # quantities already shipped of an order's items (by order_item).
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey(
        "orders.OrderItem", on_delete=models.CASCADE, related_name="package_items"
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.order_item_id} × {self.quantity}"


class PrintKind(models.TextChoices):
    LABELS = "labels", _("shipping labels")
    PACKING_SLIPS = "packing_slips", _("packing slips")
    PICK_LIST = "pick_list", _("pick list")


class PrintBatch(models.Model):
    """One print run of labels for many orders, kept to reprint and to scan (L4, L5).

    ``failures`` lists the orders refused when the batch was made:
    ``[{"order_id": 5, "reason": "…"}]``.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="print_batches"
    )
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), default=now)
    size = models.CharField(
        _("label size"), max_length=10,
        choices=LabelSize.choices, default=LabelSize.TWO_PART,
    )  # fmt: skip
    kind = models.CharField(
        _("kind"), max_length=16,
        choices=PrintKind.choices, default=PrintKind.LABELS,
    )  # fmt: skip
    label_count = models.PositiveIntegerField(_("labels"), default=0)
    # Labels of packages that existed before the batch (printed again, marked so).
    reprinted_labels = models.PositiveIntegerField(_("reprinted labels"), default=0)
    times_printed = models.PositiveIntegerField(_("times printed"), default=0)
    last_printed_at = models.DateTimeField(_("last printed at"), null=True, blank=True)
    failures = models.JSONField(_("refused orders"), default=list, blank=True)
    packages = models.ManyToManyField(
        Package, through="PrintBatchPackage", related_name="print_batches"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The organisation's batches, newest first (warehouse pages).
            models.Index(fields=["organisation", "-created_at"], name="printbatch_org_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"#{self.pk} ({self.label_count})"


class PrintBatchPackage(models.Model):
    """A package printed in a batch, at its place (1-based) in the PDF."""

    # The unique (batch, package) constraint's index serves a batch's packages.
    batch = models.ForeignKey(
        PrintBatch, on_delete=models.CASCADE, related_name="entries"
    )
    # The default FK index serves "which batches printed this package" (scans).
    package = models.ForeignKey(
        Package, on_delete=models.CASCADE, related_name="batch_entries"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    # The package existed before this batch: its label is marked as a reprint.
    reprint = models.BooleanField(_("reprint"), default=False)

    class Meta:
        ordering = ["batch", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "package"], name="printbatchpackage_unique"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.sequence}"


# --- tracking (L6) ----------------------------------------------------------------------


class TrackingCode(models.TextChoices):
    ACCEPTED = "accepted", _("accepted by the carrier")
    IN_TRANSIT = "in_transit", _("in transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("out for delivery")
    DELIVERED = "delivered", _("delivered")
    DELIVERY_FAILED = "delivery_failed", _("delivery can't be completed")
    RETURNED = "returned", _("returned to the sender")
    OTHER = "other", _("other")


class TrackingSource(models.TextChoices):
    PLATFORM = "platform", _("platform")
    CARRIER = "carrier", _("carrier")
    API = "api", _("API")
    SANDBOX = "sandbox", _("sandbox")


class TrackingEvent(models.Model):
    """One tracking event of a package, from a carrier, a platform or the API (L6).

    Made only by ``logistics.tracking.ingest_tracking_events``; the same (package, time,
    code) is stored once, so a carrier's retries and overlapping pushes are harmless.
    """

    # The unique constraint's index (package first) serves a package's events.
    package = models.ForeignKey(
        Package,
        on_delete=models.CASCADE,
        related_name="tracking_events",
        db_index=False,
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    code = models.CharField(_("code"), max_length=20, choices=TrackingCode.choices)
    description = models.CharField(_("description"), max_length=500, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    source = models.CharField(
        _("source"), max_length=10,
        choices=TrackingSource.choices, default=TrackingSource.API,
    )  # fmt: skip
    raw = models.JSONField(_("raw payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=now)

    class Meta:
        ordering = ["package", "occurred_at", "id"]
        constraints = [
            # Idempotent ingest; its index also serves a package's events in time order.
            models.UniqueConstraint(fields=["package", "occurred_at", "code"], name="trackingevent_unique"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.package_id} {self.code} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class RedeliveryStatus(models.TextChoices):
    REQUESTED = "requested", _("requested")
    SENT = "sent", _("sent to the platform")


class RedeliveryRequest(models.Model):
    """A new address for a package whose delivery failed (TikTok Shop: within 7 days)."""

    # The default FK index serves a package's requests.
    package = models.ForeignKey(
        Package, on_delete=models.CASCADE, related_name="redelivery_requests"
    )
    name = models.CharField(_("name"), max_length=128, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    province = models.CharField(_("province"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    district = models.CharField(_("district"), max_length=100, blank=True)
    street = models.CharField(_("street"), max_length=500, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=now)
    requested_by = models.CharField(_("requested by"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=10,
        choices=RedeliveryStatus.choices, default=RedeliveryStatus.REQUESTED,
    )  # fmt: skip

    class Meta:
        ordering = ["package", "requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.package_id} → {self.city} {self.street}"


# --- merge and split (PRODUCT.md X5) ------------------------------------------------------


class MergeGroup(models.Model):
    """Orders of one shop, buyer and address packed as one parcel (one tracking number).

    Made and undone only by ``logistics.merging``. The first order (lowest id) leads:
    the parcel's ``Package.order`` is the lead, and its items cover every member's.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    # The default FK index is enough: groups are looked up through their members.
    shop = models.ForeignKey("orders.Shop", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=now)
    created_by = models.CharField(_("created by"), max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"merge #{self.pk}"


class MergeGroupOrder(models.Model):
    """An order in a merge group; an order is in at most one group (undo deletes it)."""

    # The default FK index serves a group's members.
    group = models.ForeignKey(
        MergeGroup, on_delete=models.CASCADE, related_name="members"
    )
    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="merge_membership"
    )

    class Meta:
        ordering = ["group", "order"]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.order_id}"


class PlannedPackage(models.Model):
    """One package of an order split before printing (X5): which items go in it.

    ``items`` is ``[{"item": <order item id>, "quantity": n}]``. Printing ships each
    planned package with its own tracking number; made and undone by
    ``logistics.merging``.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    # db_index=False: the (order, sequence) constraint's index serves an order's plan.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="planned_packages", db_index=False
    )
    sequence = models.PositiveIntegerField(_("package"))
    items = models.JSONField(_("items"), default=list)
    created_at = models.DateTimeField(_("created at"), default=now)
    created_by = models.CharField(_("created by"), max_length=200, blank=True)

    class Meta:
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="plannedpackage_order_seq_unique"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.order_id}/{self.sequence}"
