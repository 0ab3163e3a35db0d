"""Admin for API keys (created here, shown once), webhooks and the logs."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from integrations.models import (
    ApiKey,
    IdempotentRequest,
    InboundEvent,
    Scope,
    WebhookDelivery,
    WebhookSubscription,
)


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


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "organisation", "is_active", "created_at")
    list_filter = ("is_active", "organisation")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "subscription",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("subscription",)
