"""Cancel requests, refunds, returns, replacements, disputes, messages and notes
(PRODUCT.md A1–A5).

A ``Case`` is one after-sales request on one order, in its platform's own status codes
(``aftersales/platforms/``). Its running deadline is on the row (``due_at``,
``due_action``): the inbox sorts by it and the ``aftersales`` job sweeps it through a
partial index. Every change is written twice: on the case's own timeline
(``CaseEvent``) and on the order's (``OrderEvent`` of type ``aftersales``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from aftersales.choices import (
    CaseKind,
    CaseState,
    MessageDirection,
    NoteSubject,
    Outcome,
    SellerTask,
)
from orders.choices import ActorKind
from orders.models import MONEY, Order, OrderItem, Organisation, Shop
from orders.platforms import platform_choices


class Case(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="cases"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="cases")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="cases")
    platform = models.CharField(max_length=20, choices=platform_choices)
    kind = models.CharField(_("type"), max_length=20, choices=CaseKind.choices)
    platform_case_id = models.CharField(
        _("platform case id"), max_length=64, blank=True
    )
    native_status = models.CharField(_("platform status"), max_length=60)
    state = models.CharField(
        _("state"), max_length=10, choices=CaseState.choices, default=CaseState.OPEN
    )
    task = models.CharField(
        _("seller's next step"), max_length=20, choices=SellerTask.choices, blank=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, blank=True
    )
    version = models.PositiveIntegerField(default=1)

    # The request.
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    description = models.TextField(_("buyer's description"), blank=True)
    evidence = models.JSONField(_("buyer's evidence"), default=list, blank=True)
    has_return = models.BooleanField(_("goods are returned"), default=False)
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.DecimalField(_("requested amount"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded"), **MONEY)

    # The seller's side: answer, proposal (disputes) and evidence.
    seller_reason = models.CharField(_("seller's reason"), max_length=500, blank=True)
    proposal = models.JSONField(_("seller's proposal"), default=dict, blank=True)
    seller_evidence = models.JSONField(_("seller's evidence"), default=list, blank=True)

    # The return parcel.
    return_carrier = models.CharField(_("return carrier"), max_length=60, blank=True)
    return_tracking_number = models.CharField(
        _("return tracking number"), max_length=64, blank=True
    )

    # The running deadline: when it passes, the job applies due_action.
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    due_action = models.CharField(max_length=40, blank=True)
    due_source = models.CharField(max_length=10, blank=True)  # policy | platform
    due_extended = models.BooleanField(default=False)

    opened_at = models.DateTimeField(_("opened at"), default=now)
    status_changed_at = models.DateTimeField(default=now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # Platform pushes upsert by it (unique within a shop and kind).
            models.UniqueConstraint(
                fields=["shop", "kind", "platform_case_id"], name="case_platform_id_unique",
                condition=~Q(platform_case_id=""),
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(amount__gte=0),
                name="case_amounts_not_negative",
            ),
        ]  # fmt: skip
        indexes = [
            # The inbox: open cases, soonest deadline first.
            models.Index(
                fields=["organisation", "due_at", "id"], name="case_inbox_idx",
                condition=Q(state=CaseState.OPEN),
            ),
            # The sweep: only running deadlines.
            models.Index(
                fields=["due_at"], name="case_due_idx",
                condition=Q(state=CaseState.OPEN) & Q(due_at__isnull=False),
            ),
            # All cases of an organisation, newest first (history, API list).
            models.Index(fields=["organisation", "-opened_at", "-id"], name="case_org_idx"),
            models.Index(fields=["organisation", "updated_at", "id"], name="case_updated_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state == CaseState.OPEN


class CaseItem(models.Model):
    """A line of the order and how many of it the case is about."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey(
        OrderItem, on_delete=models.CASCADE, related_name="case_items"
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "order_item"], name="caseitem_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_item_id} × {self.quantity}"


class CaseEvent(models.Model):
    """One entry of a case's timeline. Append-only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=now)
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=60, blank=True)
    to_status = models.CharField(max_length=60, blank=True)
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status} → {self.to_status}"


class Message(models.Model):
    """A message between the buyer and the seller about one order (A4)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="messages"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=MessageDirection.choices)
    body = models.TextField(_("message"))
    platform_message_id = models.CharField(max_length=64, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["order", "created_at"], name="message_order_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "platform_message_id"],
                name="message_platform_id_unique",
                condition=~Q(platform_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return self.body[:60]


class Note(models.Model):
    """A customer-service note on an order, or on a buyer (all their orders) (A4)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="cs_notes"
    )
    subject = models.CharField(max_length=10, choices=NoteSubject.choices)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="cs_notes"
    )
    # For buyer notes: the buyer as the platform knows them ("<platform>:<nick>").
    buyer_key = models.CharField(max_length=160, blank=True)
    body = models.TextField(_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organisation", "buyer_key", "-created_at"],
                name="note_buyer_idx",
                condition=~Q(buyer_key=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(subject=NoteSubject.ORDER) & Q(order__isnull=False))
                | (Q(subject=NoteSubject.BUYER) & ~Q(buyer_key="")),
                name="note_has_subject",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:60]
