"""Admin for carriers, tracking-number pools (with their figures) and tracking numbers.

Pools are imported and numbers change status only through ``logistics.services``, so
the admin edits a pool's name, expiry and threshold but adds no pool and no number, and
shows a number's status fields read-only.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from logistics.models import Carrier, TrackingNumber, TrackingNumberPool
from logistics.selectors import with_counts


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "name_en",
        "default_label_size",
        "platform_codes",
        "is_active",
    )
    list_filter = ("is_active", "default_label_size")
    search_fields = ("code", "name", "name_en")


def _count(status: str, label: str):
    """A list column showing the pool's ``n_<status>`` annotation (sortable)."""

    @admin.display(description=label, ordering=f"n_{status}")
    def column(model_admin, obj: TrackingNumberPool) -> int:
        return getattr(obj, f"n_{status}")

    return column


@admin.register(TrackingNumberPool)
class TrackingNumberPoolAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "organisation",
        "carrier",
        "purchased_at",
        "expires_at",
        "price_per_number",
        "currency",
        "total",
        "available",
        "reserved",
        "used",
        "void",
        "expired",
    )
    list_filter = ("carrier", "organisation")
    search_fields = ("name", "organisation__name", "carrier__code")
    list_select_related = ("organisation", "carrier")
    readonly_fields = (
        "organisation",
        "carrier",
        "purchased_at",
        "price_per_number",
        "currency",
        "last_warned_at",
        "created_at",
    )
    fields = ("name", "expires_at", "low_stock_threshold", *readonly_fields)

    total = _count("total", _("total"))
    available = _count("available", _("available"))
    reserved = _count("reserved", _("reserved"))
    used = _count("used", _("used"))
    void = _count("void", _("void"))
    expired = _count("expired", _("expired"))

    def get_queryset(self, request):
        # One grouped query for the page's counts, not one per row and status.
        return with_counts(super().get_queryset(request))

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TrackingNumber)
class TrackingNumberAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "carrier",
        "status",
        "organisation",
        "pool",
        "order",
        "reserved_at",
        "used_at",
    )
    list_filter = ("status", "carrier")
    # Exact match, served by the unique (number, carrier) index; a substring search
    # would scan every number.
    search_fields = ("=number",)
    list_select_related = ("carrier", "organisation", "pool", "order")
    readonly_fields = (
        "pool",
        "carrier",
        "organisation",
        "number",
        "status",
        "reserved_at",
        "used_at",
        "voided_at",
        "void_reason",
        "order",
        "package_ref",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
