"""Organisations, shops, members, and the unified order with its items, events and deadlines.

Only ``orders.services`` changes an order's status, stage, overlays or deadlines; every
change appends an ``OrderEvent``. Indexes say in a comment which query each one serves.
"""

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from orders.choices import (
    ActorKind,
    BackgroundJobKind,
    BackgroundJobStatus,
    Channel,
    DeadlineKind,
    DeadlineState,
    EventType,
    Flag,
    JobStatus,
    NotificationLevel,
    Overlay,
    Role,
    Stage,
)
from orders.platforms import get_spec, platform_choices

MONEY = {"max_digits": 14, "decimal_places": 2, "default": 0}


class Organisation(models.Model):
    """A seller's business. Everything else belongs to exactly one organisation."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    email_ship_warnings = models.BooleanField(
        _("email ship-deadline warnings to owners"), default=True
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Shop(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="shops"
    )
    platform = models.CharField(_("platform"), max_length=20, choices=platform_choices)
    market = models.CharField(
        _("market"), max_length=2, blank=True,
        help_text=_("TikTok Shop region (GB, MY, TH, SG, VN, PH, ID, US)"),
    )  # fmt: skip
    name = models.CharField(_("name"), max_length=200)
    platform_shop_id = models.CharField(
        _("platform shop id"), max_length=64, blank=True
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    # Platform app credentials, to verify the platform's signed pushes (webhooks).
    app_key = models.CharField(_("app key"), max_length=128, blank=True)
    app_secret = models.CharField(_("app secret"), max_length=128, blank=True)
    policy_overrides = models.JSONField(
        _("policy overrides"), default=dict, blank=True,
        help_text=_('Durations by policy key, e.g. {"ship_window": "36h"}'),
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "platform", "platform_shop_id"],
                condition=~Q(platform_shop_id=""),
                name="shop_platform_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"

    def clean(self) -> None:
        spec = get_spec(self.platform)
        if spec.markets and self.market not in spec.markets:
            raise ValidationError(
                {"market": _("Choose one of: ") + ", ".join(spec.markets)}
            )
        if not spec.markets and self.market:
            raise ValidationError({"market": _("This platform has no markets.")})
        if self.timezone not in available_timezones():
            raise ValidationError({"timezone": _("Unknown time zone.")})
        try:
            spec.resolve_policy(overrides=[self.policy_overrides or {}])
        except Exception as exc:
            raise ValidationError({"policy_overrides": str(exc)}) from exc
        unknown = set(self.policy_overrides or {}) - set(spec.policy)
        if unknown:
            raise ValidationError(
                {
                    "policy_overrides": _("Unknown policy keys: ")
                    + ", ".join(sorted(unknown))
                }
            )


class Membership(models.Model):
    """A person's role in an organisation, optionally limited to some shops."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    shops = models.ManyToManyField(
        Shop, blank=True, related_name="+", help_text=_("Leave empty for every shop.")
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.organisation} · {self.get_role_display()}"

    def allowed_shop_ids(self) -> set[int] | None:
        """The shops this member is limited to, or None for all of the organisation's."""
        ids = {shop.pk for shop in self.shops.all()}
        return ids or None


class Order(models.Model):
    """One platform order in its unified form (PRODUCT.md O1)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="orders"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders")
    # Denormalised from the shop: lists filter and index on it without a join.
    platform = models.CharField(max_length=20, choices=platform_choices)
    platform_order_id = models.CharField(_("platform order id"), max_length=64)

    # State: the platform's own code, and what the machine derives from it.
    native_status = models.CharField(_("platform status"), max_length=40)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    end_reason = models.CharField(_("end reason"), max_length=60, blank=True)
    resume_status = models.CharField(
        max_length=40, blank=True, help_text=_("The status an interruption returns to.")
    )
    version = models.PositiveIntegerField(default=1)

    # Overlays (PRODUCT.md O2): badges and filters over the stage.
    shipping_blocked = models.BooleanField(_("not yet shippable"), default=False)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    refund_open = models.BooleanField(_("refund open"), default=False)
    in_dispute = models.BooleanField(_("in dispute"), default=False)
    frozen = models.BooleanField(_("frozen"), default=False)
    on_hold = models.BooleanField(_("on hold"), default=False)
    delivery_failed = models.BooleanField(_("delivery failed"), default=False)

    # Buyer and address.
    buyer_nick = models.CharField(_("buyer nick"), max_length=128, blank=True)
    buyer_name = models.CharField(_("buyer name"), max_length=128, blank=True)
    # The number as the platform sent it (masked values stay masked) and its country
    # calling code apart ("+86"): together the E.164 number where both are known.
    buyer_phone = models.CharField(_("buyer phone"), max_length=40, blank=True)
    buyer_phone_country_code = models.CharField(
        _("buyer phone country code"), max_length=8, blank=True
    )
    buyer_email = models.CharField(_("buyer email"), max_length=254, blank=True)
    address_country = models.CharField(_("country"), max_length=2, blank=True)
    address_province = models.CharField(
        _("province / state"), max_length=100, blank=True
    )
    address_city = models.CharField(_("city"), max_length=100, blank=True)
    address_district = models.CharField(_("district"), max_length=100, blank=True)
    address_street = models.CharField(_("street"), max_length=500, blank=True)
    address_postcode = models.CharField(_("postcode"), max_length=20, blank=True)

    # Amounts, in the order's currency.
    currency = models.CharField(_("currency"), max_length=3)
    items_total = models.DecimalField(_("items"), **MONEY)
    shipping_fee = models.DecimalField(_("shipping"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY)
    tax = models.DecimalField(_("tax"), **MONEY)
    total = models.DecimalField(_("total"), **MONEY)
    paid_amount = models.DecimalField(_("paid"), **MONEY)

    buyer_message = models.TextField(_("buyer message"), blank=True)
    seller_memo = models.TextField(_("seller memo"), blank=True)
    flag = models.CharField(_("flag"), max_length=10, choices=Flag.choices, blank=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.OTHER
    )

    # Times: the platform's, in UTC.
    created_at = models.DateTimeField(_("ordered at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"))
    platform_updated_at = models.DateTimeField(
        _("platform updated at"), null=True, blank=True
    )
    # Deadlines the platform itself sent, by kind (ISO times); they beat the policy.
    platform_deadlines = models.JSONField(default=dict, blank=True)
    # The soonest running deadline with a consequence, for list countdowns and sorting.
    next_deadline_at = models.DateTimeField(null=True, blank=True)
    next_deadline_kind = models.CharField(
        max_length=30, blank=True, choices=DeadlineKind.choices
    )

    # Ours: when the row was made and last changed (incremental sync reads updated_at).
    ingested_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Ingest upserts by it; the platform's id is unique only within a shop.
            models.UniqueConstraint(fields=["shop", "platform_order_id"], name="order_shop_platform_id_unique"),
        ]  # fmt: skip
        indexes = [
            # Order list, a stage tab, all shops of the organisation, newest first (keyset).
            models.Index(fields=["organisation", "stage", "-created_at", "-id"], name="order_org_stage_idx"),
            # Order list, "all" tab, all shops.
            models.Index(fields=["organisation", "-created_at", "-id"], name="order_org_all_idx"),
            # The same two for one shop (members limited to shops; the shop filter).
            models.Index(fields=["shop", "stage", "-created_at", "-id"], name="order_shop_stage_idx"),
            models.Index(fields=["shop", "-created_at", "-id"], name="order_shop_all_idx"),
            # Filter by native status (per platform) in a tab.
            models.Index(fields=["organisation", "native_status", "-created_at"], name="order_org_native_idx"),
            # Incremental sync for ERPs: updated_after, stable order by (updated_at, id).
            models.Index(fields=["organisation", "updated_at", "id"], name="order_org_updated_idx"),
            # Date-range filters and analytics windows.
            models.Index(fields=["organisation", "paid_at"], name="order_org_paid_idx"),
            models.Index(fields=["organisation", "shipped_at"], name="order_org_shipped_idx"),
            # "Needs attention": running deadlines soonest first.
            models.Index(
                fields=["organisation", "next_deadline_at"], name="order_org_deadline_idx",
                condition=Q(next_deadline_at__isnull=False),
            ),
            # Search by buyer (exact phone and nick) and by order id prefix.
            models.Index(fields=["organisation", "buyer_phone"], name="order_org_phone_idx"),
            models.Index(fields=["organisation", "buyer_nick"], name="order_org_nick_idx"),
            models.Index(fields=["platform_order_id"], name="order_platform_id_idx"),
            # Overlay filters: each a small partial index.
            *[
                models.Index(
                    fields=["organisation", "-created_at"], name=f"order_ov_{overlay[:10]}_idx",
                    condition=Q(**{overlay: True}),
                )
                for overlay in Overlay.values
            ],
            # Flag filter (most orders carry none).
            models.Index(
                fields=["organisation", "flag"], name="order_org_flag_idx", condition=~Q(flag=""),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.platform}:{self.platform_order_id}"

    @property
    def buyer_phone_e164(self) -> str:
        """``+8613812345678``; '' when masked or without a country code."""
        from oms.core.phones import e164

        return e164(self.buyer_phone_country_code, self.buyer_phone)

    @property
    def overlays(self) -> list[str]:
        return [overlay for overlay in Overlay.values if getattr(self, overlay)]

    @property
    def overlay_labels(self) -> list[tuple[str, str]]:
        return [(overlay, Overlay(overlay).label) for overlay in self.overlays]


class OrderItem(models.Model):
    """A line of the order, with its own platform status and refund status."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    line_id = models.CharField(_("platform line id"), max_length=64, blank=True)
    # Every platform id this line stands for: TikTok reports one line item per unit, so
    # a line of 3 units keeps 3 ids (returns and refunds name them).
    platform_line_ids = models.JSONField(
        _("platform line ids"), default=list, blank=True
    )
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=500)
    spec = models.CharField(_("variation"), max_length=300, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY)
    image_url = models.URLField(_("image"), max_length=500, blank=True)
    native_status = models.CharField(_("platform status"), max_length=40, blank=True)
    refund_status = models.CharField(_("refund status"), max_length=40, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # Search by SKU within an organisation joins through order; SKU lookups first.
            models.Index(fields=["sku"], name="orderitem_sku_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku or self.title} × {self.quantity}"


class OrderEvent(models.Model):
    """One entry of an order's timeline. Append-only: never edited or deleted."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=now)
    type = models.CharField(max_length=30, choices=EventType.choices)
    action = models.CharField(max_length=40, blank=True)
    from_status = models.CharField(max_length=40, blank=True)
    to_status = models.CharField(max_length=40, blank=True)
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)  # before/after and details

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The timeline of one order, in order.
            models.Index(
                fields=["order", "created_at", "id"], name="orderevent_timeline_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type} {self.from_status}→{self.to_status}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("order events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("order events are append-only")


class OrderDeadline(models.Model):
    """A deadline an order's status started: what falls due when, and what happens then.

    One row per (order, kind): re-entering a status re-opens the row. Jobs sweep pending
    rows by ``due_at``; a row leaves ``pending`` when its status is left (met) or when it
    fell due (expired). An overlay can pause it (``paused``, keeping the time left in
    ``remaining``): auto-confirm of receipt stops while a refund is open and resumes with
    the time it had left.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=30, choices=DeadlineKind.choices)
    due_at = models.DateTimeField()
    on_expiry = models.CharField(
        max_length=40, blank=True, help_text=_("Action applied when due")
    )
    violation = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=10, default="policy")  # "platform" or "policy"
    state = models.CharField(
        max_length=10, choices=DeadlineState.choices, default=DeadlineState.PENDING
    )
    started_at = models.DateTimeField(default=now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # While paused (state "paused"): the time that was left, given back on resuming.
    remaining = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind"], name="orderdeadline_unique"
            ),
        ]
        indexes = [
            # The deadline sweep: pending rows due by now, soonest first (SKIP LOCKED).
            models.Index(
                fields=["due_at"], name="orderdeadline_sweep_idx",
                condition=Q(state=DeadlineState.PENDING),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.due_at:%Y-%m-%d %H:%M} {self.state}"


class Violation(models.Model):
    """A platform rule a shop broke (late shipment, sold but not shipped, …)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="violations")
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="violations"
    )
    kind = models.CharField(_("violation"), max_length=40)
    deadline_kind = models.CharField(max_length=30, choices=DeadlineKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # A deadline is missed once: a rerun of the sweep records nothing more.
            models.UniqueConstraint(fields=["order", "kind"], name="violation_unique"),
        ]
        indexes = [
            # A shop's violations, newest first.
            models.Index(fields=["shop", "-occurred_at"], name="violation_shop_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.shop} {self.kind} {self.order}"


class Notification(models.Model):
    """An in-app notification for an organisation, or for one member of it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="notifications"
    )
    membership = models.ForeignKey(
        Membership,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    level = models.CharField(max_length=10, choices=NotificationLevel.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The notification centre: an organisation's newest, and its unread ones.
            models.Index(fields=["organisation", "-created_at"], name="notification_org_idx"),
            models.Index(
                fields=["organisation", "-created_at"], name="notification_unread_idx",
                condition=Q(read_at__isnull=True),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title


class JobRun(models.Model):
    """One run of a periodic job: when, what it did, what went wrong."""

    job = models.CharField(max_length=60)
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.RUNNING
    )
    # What "now" the run used (differs from started_at when an operator passed --now).
    as_of = models.DateTimeField()
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    # host:pid of the process running it: a run whose process is gone died with it.
    worker = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["job", "-started_at"], name="jobrun_job_idx"),
            # Every run first looks for runs that died: the few still running.
            models.Index(
                fields=["started_at"],
                name="jobrun_running_idx",
                condition=Q(status="running"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"


class BackgroundJob(models.Model):
    """Work over many orders that does not fit in one request (``orders.background``).

    It records what to go over (``params``: the filter as the list page spelled it, never
    a frozen list of ids), who started it (re-checked on every chunk), its progress
    (``done`` of ``total``), a summary, and per-order results (``BackgroundJobResult``).
    Kinds: a batch action over a filter; exports reuse it in a later issue.
    """

    kind = models.CharField(max_length=30, choices=BackgroundJobKind.choices)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="background_jobs"
    )
    # The member whose role and shops the job acts with (None: membership removed,
    # and then the job stops).
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    params = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10,
        choices=BackgroundJobStatus.choices,
        default=BackgroundJobStatus.PENDING,
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # The last order id handled: a task that died resumes after it.
    cursor = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set on every chunk; a job pending or running without a heartbeat is stalled.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the organisation's jobs, newest first (job pages, admin)
            models.Index(fields=["organisation", "-created_at"], name="bgjob_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (
            BackgroundJobStatus.SUCCEEDED,
            BackgroundJobStatus.CANCELLED,
            BackgroundJobStatus.FAILED,
        )

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)


class BackgroundJobResult(models.Model):
    """One order's outcome in a background job: done, or refused with the reason."""

    job = models.ForeignKey(
        BackgroundJob, on_delete=models.CASCADE, related_name="results"
    )
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    platform_order_id = models.CharField(max_length=64)
    ok = models.BooleanField()
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name = _("background job result")
        verbose_name_plural = _("background job results")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.platform_order_id} {'ok' if self.ok else self.code}"


class SignInAttempt(models.Model):
    """One sign-in attempt (dashboard or admin): who, when, from where, what came of it.

    Written by ``orders.signin``; the user name is what was typed (cleaned of NULs), so
    attempts on names that do not exist are kept too. Read-only in the admin.
    """

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", _("Signed in")
        FAILED = "failed", _("Wrong user name or password")
        LOCKED_OUT = "locked_out", _("Refused: too many failed attempts")

    at = models.DateTimeField(_("at"), default=now)
    username = models.CharField(_("user name"), max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    path = models.CharField(_("page"), max_length=200, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("sign-in attempt")
        verbose_name_plural = _("sign-in attempts")
        ordering = ["-at", "-id"]
        indexes = [
            # The admin's list filtered by a user name or an address, newest first.
            models.Index(fields=["username", "-at"], name="signin_username_idx"),
            models.Index(fields=["address", "-at"], name="signin_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.address} {self.outcome}"


class OutboxEntry(models.Model):
    """Effects of a change, written in the change's own transaction (the outbox).

    ``orders.effects`` writes one row per transaction (e.g. the ids of the order events
    it created) and the relay hands it to the registered handlers, then deletes it in
    the handlers' transaction: a worker killed after the commit loses nothing, and a
    row is handled once.
    """

    topic = models.CharField(max_length=40)
    data = models.JSONField()
    created_at = models.DateTimeField(default=now)
    # Not before: pushed back after a handler failed.
    available_at = models.DateTimeField(default=now)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("outbox entry")
        verbose_name_plural = _("outbox entries")
        indexes = [
            models.Index(fields=["available_at", "id"], name="outbox_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
