"""Vocabulary of after-sales cases (PRODUCT.md A1–A5)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseKind(models.TextChoices):
    CANCEL = "cancel", _("Cancel request")
    REFUND = "refund", _("Refund only")
    RETURN = "return", _("Return and refund")
    REPLACEMENT = "replacement", _("Replacement")
    DISPUTE = "dispute", _("Dispute")


# Kinds that hold money back from the buyer: they raise the order's refund_open overlay.
REFUND_KINDS = frozenset({CaseKind.REFUND, CaseKind.RETURN, CaseKind.REPLACEMENT})


class CaseState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Outcome(models.TextChoices):
    """How a closed case ended, across platforms."""

    APPROVED = (
        "approved",
        _("Approved"),
    )  # cancel approved (by the seller or on timeout)
    REJECTED = "rejected", _("Rejected by the seller")
    REFUNDED = "refunded", _("Refunded")
    REPLACED = "replaced", _("Replacement sent")
    WITHDRAWN = "withdrawn", _("Withdrawn by the buyer")
    SELLER_WON = "seller_won", _("Decided for the seller")
    EXPIRED = "expired", _("Closed: the buyer did not act in time")
    ORDER_CLOSED = "order_closed", _("Closed with the order")


class SellerTask(models.TextChoices):
    """What the seller must do next on an open case (the inbox column)."""

    RESPOND = "respond", _("Answer the request")
    CONFIRM_RETURN = "confirm_return", _("Confirm the returned goods")
    WAIT_BUYER = "wait_buyer", _("Waiting for the buyer")
    WAIT_PLATFORM = "wait_platform", _("Waiting for the platform")


class MessageDirection(models.TextChoices):
    FROM_BUYER = "buyer", _("From the buyer")
    TO_BUYER = "seller", _("To the buyer")


class NoteSubject(models.TextChoices):
    ORDER = "order", _("Order")
    BUYER = "buyer", _("Buyer")
