"""Vocabulary of after-sales cases (PRODUCT.md A1–A5).

The words the platforms' case tables use (kinds, outcomes, seller tasks) live in
``orders.choices``, where platform packages may import them; they are re-exported here.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from orders.choices import REFUND_KINDS, CaseKind, Outcome, SellerTask

__all__ = [
    "REFUND_KINDS",
    "CaseKind",
    "CaseState",
    "MessageDirection",
    "NoteSubject",
    "Outcome",
    "SellerTask",
]


class CaseState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class MessageDirection(models.TextChoices):
    FROM_BUYER = "buyer", _("From the buyer")
    TO_BUYER = "seller", _("To the buyer")


class NoteSubject(models.TextChoices):
    ORDER = "order", _("Order")
    BUYER = "buyer", _("Buyer")
