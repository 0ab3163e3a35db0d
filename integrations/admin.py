"""Admin for API keys (created here, shown once), webhooks and the logs."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from integrations import webhooks
from integrations.models import (
    ApiKey,
    IdempotentRequest,
    InboundEvent,
    Scope,
    WebhookDelivery,
    WebhookSubscription,
)
from oms.core.errors import OmsError


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["organisation", "name", "scopes", "shops", "rate_limit_per_minute"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = (
        "name",
        "organisation",
        "key_id",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("organisation",)
    search_fields = ("name", "key_id")
    readonly_fields = ("key_id", "created_at", "last_used_at", "revoked_at")
    filter_horizontal = ("shops",)
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = ApiKey.issue(
            organisation=form.cleaned_data["organisation"],
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scopes"]),
            rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            created_by=request.user,
        )
        obj.pk = key.pk
        obj.key_id, obj.key_hash, obj.created_at = (
            key.key_id,
            key.key_hash,
            key.created_at,
        )
        messages.warning(request, f"The new API key (shown once, store it now): {raw}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        messages.success(request, f"{count} key(s) revoked.")


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(admin.ModelAdmin):
    list_display = ("created_at", "client", "key", "method", "path", "response_status")
    search_fields = ("key", "client")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "shop",
        "event_key",
        "topic",
        "status",
        "processed_at",
    )
    list_filter = ("status", "topic")
    search_fields = ("event_key",)
    list_select_related = ("shop",)


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[
            (t, f"{t} — {webhooks.EVENT_DESCRIPTIONS[t]}") for t in webhooks.EVENT_TYPES
        ],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["organisation", "url", "events", "is_active"]

    def clean_url(self):
        try:
            return webhooks.validate_url(self.cleaned_data["url"])
        except OmsError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("url", "organisation", "event_list", "is_active", "created_at")
    list_filter = ("is_active", "organisation")
    search_fields = ("url",)
    readonly_fields = ("secret_hint", "created_at")
    list_select_related = ("organisation",)
    actions = ["pause", "resume"]

    @admin.display(description="events")
    def event_list(self, obj) -> str:
        return ", ".join(obj.events)

    @admin.display(description="secret")
    def secret_hint(self, obj) -> str:
        return f"…{obj.secret[-4:]}" if obj and obj.secret else ""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(
                request,
                f"The signing secret (shown once, store it now): {obj.secret}",
            )

    @admin.action(description="Pause the selected subscriptions")
    def pause(self, request, queryset):
        count = queryset.update(is_active=False)
        messages.success(request, f"{count} subscription(s) paused.")

    @admin.action(description="Resume the selected subscriptions")
    def resume(self, request, queryset):
        count = queryset.update(is_active=True)
        messages.success(request, f"{count} subscription(s) resumed.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "subscription",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = (
        "status",
        "event_type",
        "subscription__organisation",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=event_id", "subscription__url")
    list_select_related = ("subscription",)
    readonly_fields = (
        "subscription",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "last_attempt_at",
        "last_duration_ms",
        "created_at",
        "delivered_at",
        "is_redelivery",
    )
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    def has_add_permission(self, request) -> bool:
        return False  # deliveries come from events (or redelivery), never by hand

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Redeliver the selected events (new deliveries)")
    def redeliver(self, request, queryset):
        sent, refused = 0, 0
        for delivery in queryset.select_related("subscription")[:500]:
            try:
                webhooks.redeliver(delivery)
                sent += 1
            except OmsError:
                refused += 1
        messages.success(request, f"{sent} delivery(ies) queued again.")
        if refused:
            messages.warning(
                request, f"{refused} skipped: their subscription is disabled."
            )
