"""API keys, idempotent requests, and webhooks in (from platforms) and out (to ERPs)."""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from orders.models import Organisation, Shop
from orders.permissions import Scope

KEY_PREFIX = "oms"


def hash_key(raw: str) -> str:
    """Keys are 32 random bytes: a fast hash is enough (as for GitHub tokens)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """A key an integration sends as ``Authorization: Bearer oms_<id>_<secret>``.

    Only the hash is stored; the key is shown once, when created.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    shops = models.ManyToManyField(
        Shop, blank=True, related_name="+", help_text=_("Leave empty for every shop.")
    )
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    created_at = models.DateTimeField(default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})"

    @classmethod
    def issue(
        cls, *, organisation: Organisation, name: str, scopes: list[str], **fields
    ) -> tuple["ApiKey", str]:
        """Create a key; returns it with the raw key, which is never stored."""
        unknown = set(scopes) - set(Scope.values)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        key_id = secrets.token_hex(6)
        raw = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(
            organisation=organisation, name=name, key_id=key_id, key_hash=hash_key(raw),
            scopes=sorted(scopes), **fields,
        )  # fmt: skip
        return key, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``, kept 24 hours."""

    client = models.CharField(max_length=40)  # "key:<id>" or "user:<id>"
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    completed = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "key"], name="idempotent_request_unique"
            )
        ]
        # Expiry: a daily purge by created_at.
        indexes = [models.Index(fields=["created_at"], name="idempotent_created_idx")]

    def __str__(self) -> str:
        return f"{self.client} {self.key}"


class InboundEvent(models.Model):
    """A platform's pushed notification: stored first, processed by a job, once."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="inbound_events"
    )
    event_key = models.CharField(max_length=128)  # the platform's notification id
    topic = models.CharField(max_length=60, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=now)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # De-duplication by the platform's notification id.
            models.UniqueConstraint(
                fields=["shop", "event_key"], name="inbound_event_unique"
            ),
        ]
        indexes = [
            # The processing job picks up what is not processed yet.
            models.Index(
                fields=["received_at"],
                name="inbound_pending_idx",
                condition=Q(status="received"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}:{self.event_key}"


class WebhookSubscription(models.Model):
    """An ERP's endpoint for outbound events, signed with its own secret."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=64, default=secrets.token_hex)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["organisation", "url"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or being retried) to one subscription: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Gave up")

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=now)
    # The log keeps status and timing only, never the receiver's answer.
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A redelivery repeats an event on purpose (same event id); the original is unique.
    is_redelivery = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The outbox relay creates each event's delivery once per subscription.
            models.UniqueConstraint(
                fields=["subscription", "event_id"],
                condition=Q(is_redelivery=False),
                name="delivery_once_per_event",
            ),
        ]
        indexes = [
            # The retry sweep: pending deliveries whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(status="pending"),
            ),
            # A subscription's delivery log, newest first.
            models.Index(
                fields=["subscription", "-created_at"], name="delivery_log_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
