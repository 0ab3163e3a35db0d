"""Admin for organisations, shops, members and (read-only) orders, events and deadlines.

Orders change only through ``orders.services`` (which writes the timeline), so the admin
shows them but does not edit them; the dashboard and API carry the seller's actions.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from orders.choices import Overlay
from orders.models import (
    BackgroundJob,
    JobRun,
    Membership,
    Notification,
    Order,
    OrderDeadline,
    OrderEvent,
    OrderItem,
    Organisation,
    OutboxEntry,
    Shop,
    SignInAttempt,
    Violation,
)
from orders.signin import AdminSignInForm


class ReadOnlyMixin:
    """Rows written only by services: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ShopInline(admin.TabularInline):
    model = Shop
    fields = ("name", "platform", "market", "timezone", "currency", "is_active")
    extra = 0
    show_change_link = True


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "shops")
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ShopInline, MembershipInline)


class ViolationInline(ReadOnlyMixin, admin.TabularInline):
    model = Violation
    fields = ("occurred_at", "kind", "deadline_kind", "order")
    readonly_fields = fields
    ordering = ("-occurred_at",)
    extra = 0
    max_num = 50


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    inlines = (ViolationInline,)
    list_display = (
        "name",
        "organisation",
        "platform",
        "market",
        "timezone",
        "currency",
        "is_active",
    )
    list_filter = ("platform", "market", "is_active", "organisation")
    search_fields = ("name", "platform_shop_id", "organisation__name")
    list_select_related = ("organisation",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organisation", "role", "created_at")
    list_filter = ("role", "organisation")
    search_fields = ("user__username", "user__email", "organisation__name")
    list_select_related = ("user", "organisation")
    filter_horizontal = ("shops",)
    autocomplete_fields = ("user",)


class OverlayFilter(admin.SimpleListFilter):
    title = _("overlay")
    parameter_name = "overlay"

    def lookups(self, request, model_admin):
        return Overlay.choices

    def queryset(self, request, queryset):
        if self.value() in Overlay.values:
            return queryset.filter(**{self.value(): True})
        return queryset


class OrderItemInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderItem
    fields = (
        "sku",
        "title",
        "spec",
        "quantity",
        "unit_price",
        "discount",
        "native_status",
        "refund_status",
    )
    readonly_fields = fields
    extra = 0


class OrderDeadlineInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderDeadline
    fields = (
        "kind",
        "due_at",
        "state",
        "on_expiry",
        "violation",
        "source",
        "resolved_at",
    )
    readonly_fields = fields
    extra = 0


class OrderEventInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderEvent
    fields = (
        "created_at",
        "type",
        "action",
        "from_status",
        "to_status",
        "actor_kind",
        "actor_label",
        "reason",
    )
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "platform_order_id", "shop", "native_status", "stage", "total", "currency",
        "buyer_nick", "flag", "next_deadline_at", "created_at",
    )  # fmt: skip
    list_filter = ("stage", "platform", OverlayFilter, "flag", "channel", "shop")
    search_fields = (
        "=platform_order_id",
        "=buyer_phone",
        "buyer_nick",
        "buyer_name",
        "=items__sku",
    )
    list_select_related = ("shop",)
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over every order on each page
    inlines = (OrderItemInline, OrderDeadlineInline, OrderEventInline)
    fieldsets = (
        (None, {"fields": ("organisation", "shop", "platform", "platform_order_id", "version")}),
        (_("State"), {"fields": (
            "native_status", "stage", "end_reason", "resume_status", "next_deadline_at",
            "next_deadline_kind", "shipping_blocked", "cancel_requested", "refund_open",
            "in_dispute", "frozen", "on_hold", "delivery_failed",
        )}),
        (_("Buyer"), {"fields": (
            "buyer_nick", "buyer_name", "buyer_phone", "buyer_email", "address_country",
            "address_province", "address_city", "address_district", "address_street",
            "address_postcode", "buyer_message",
        )}),
        (_("Amounts"), {"fields": (
            "currency", "items_total", "shipping_fee", "discount", "tax", "total", "paid_amount",
        )}),
        (_("Seller"), {"fields": ("seller_memo", "flag", "channel")}),
        (_("Times (UTC)"), {"fields": (
            "created_at", "paid_at", "shipped_at", "delivered_at", "completed_at", "closed_at",
            "status_changed_at", "platform_updated_at", "ingested_at", "updated_at",
            "platform_deadlines",
        )}),
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "order",
        "type",
        "action",
        "from_status",
        "to_status",
        "actor_kind",
        "actor_label",
    )
    list_filter = ("type", "actor_kind", "order__platform")
    search_fields = ("=order__platform_order_id", "action", "actor_label")
    list_select_related = ("order",)
    show_full_result_count = False


@admin.register(OrderDeadline)
class OrderDeadlineAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "order",
        "kind",
        "due_at",
        "state",
        "on_expiry",
        "violation",
        "source",
    )
    list_filter = ("state", "kind", "source", "order__platform")
    search_fields = ("=order__platform_order_id",)
    list_select_related = ("order",)
    show_full_result_count = False


@admin.register(Violation)
class ViolationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "shop", "order", "kind", "deadline_kind")
    list_filter = ("kind", "shop", "organisation")
    search_fields = ("=order__platform_order_id", "shop__name")
    list_select_related = ("shop", "order")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "organisation",
        "level",
        "kind",
        "title",
        "read_at",
        "emailed_at",
    )
    list_filter = ("level", "kind", "organisation")
    search_fields = ("title", "=order__platform_order_id")
    list_select_related = ("organisation",)
    show_full_result_count = False


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("started_at", "job", "status", "as_of", "finished_at", "counts")
    list_filter = ("job", "status")
    readonly_fields = (
        "job",
        "status",
        "started_at",
        "finished_at",
        "as_of",
        "counts",
        "errors",
    )
    show_full_result_count = False


@admin.register(BackgroundJob)
class BackgroundJobAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Batches over a filter (and later exports) run by workers; the member's page
    shows each order's result."""

    list_display = (
        "created_at", "kind", "organisation", "created_by", "status", "done", "total",
        "cancel_requested", "finished_at",
    )  # fmt: skip
    list_filter = ("kind", "status", "organisation")
    list_select_related = ("organisation", "created_by")
    readonly_fields = (
        "kind", "organisation", "membership", "created_by", "params", "status", "total",
        "done", "cursor", "summary", "error", "cancel_requested", "created_at",
        "started_at", "finished_at", "heartbeat_at",
    )  # fmt: skip
    show_full_result_count = False


# The admin's sign-in goes through the same throttle as the dashboard's (orders/signin.py).
admin.site.login_form = AdminSignInForm


@admin.register(SignInAttempt)
class SignInAttemptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "username", "address", "outcome", "path")
    list_filter = ("outcome",)
    search_fields = ("=username", "=address")
    date_hierarchy = "at"


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Effects not relayed yet: normally empty; rows with attempts are failing."""

    list_display = ("id", "topic", "created_at", "available_at", "attempts")
    list_filter = ("topic",)
    readonly_fields = (
        "topic",
        "data",
        "created_at",
        "available_at",
        "attempts",
        "last_error",
    )
    show_full_result_count = False
