"""Vocabularies shared by the order domain: stages, overlays, actors, deadlines, roles."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    """The unified stage every native status maps to (PRODUCT.md O2)."""

    UNPAID = "unpaid", _("Unpaid")  # 待付款
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")  # 待发货
    SHIPPED = "shipped", _("Shipped")  # 已发货
    DELIVERED = "delivered", _("Delivered")  # 已签收
    COMPLETED = "completed", _("Completed")  # 交易成功
    CLOSED = "closed", _("Closed")  # 交易关闭


class Overlay(models.TextChoices):
    """Badges and filters laid over the stage. Each is a boolean column on Order."""

    SHIPPING_BLOCKED = "shipping_blocked", _("Not yet shippable")
    CANCEL_REQUESTED = "cancel_requested", _("Cancel requested")
    REFUND_OPEN = "refund_open", _("Refund open")
    IN_DISPUTE = "in_dispute", _("In dispute")
    FROZEN = "frozen", _("Frozen")
    ON_HOLD = "on_hold", _("On hold")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")


class ActorKind(models.TextChoices):
    MEMBER = "member", _("Member")
    API_CLIENT = "api_client", _("API client")
    PLATFORM = "platform", _("Platform")
    SYSTEM = "system", _("System job")


class EventType(models.TextChoices):
    CREATED = "created", _("Order created")
    STATUS_CHANGED = "status_changed", _("Status changed")
    STATUS_CORRECTED = "status_corrected", _("Status corrected by the platform")
    STATUS_CONFLICT = "status_conflict", _("Platform status conflicts with the order")
    SYNCED = "synced", _("Updated from the platform")
    MEMO_CHANGED = "memo_changed", _("Memo or flag changed")
    PRICE_ADJUSTED = "price_adjusted", _("Price adjusted")
    ADDRESS_CHANGED = "address_changed", _("Address changed")
    HELD = "held", _("Put on hold")
    RELEASED = "released", _("Released from hold")
    DEADLINE_NOTICE = "deadline_notice", _("Deadline reminder or warning")
    DEADLINE_MISSED = "deadline_missed", _("Deadline missed")
    AFTERSALES = "aftersales", _("After-sales")
    MERGED = "merged", _("Merged into one parcel")
    SPLIT = "split", _("Split into parcels")
    MESSAGE = "message", _("Message")
    PACKAGE_VOIDED = "package_voided", _("Package voided")


class DeadlineKind(models.TextChoices):
    PAY_BY = "pay_by", _("Payment due")
    PAY_REMINDER_FIRST = "pay_reminder_first", _("First payment reminder")
    PAY_REMINDER_SECOND = "pay_reminder_second", _("Second payment reminder")
    HOLD_UNTIL = "hold_until", _("Hold ends")
    SHIP_BY = "ship_by", _("Ship by")
    SHIP_WARNING_EARLY = "ship_warning_early", _("Ship deadline warning (early)")
    SHIP_WARNING_LATE = "ship_warning_late", _("Ship deadline warning (late)")
    CANCEL_RESPONSE_BY = "cancel_response_by", _("Answer the cancel request by")
    CONFIRM_BY = "confirm_by", _("Receipt auto-confirmed at")
    COMPLETE_BY = "complete_by", _("Order completes at")
    RELEASE_FUNDS_BY = "release_funds_by", _("Funds released at")


class DeadlineState(models.TextChoices):
    PENDING = "pending", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    EXPIRED = "expired", _("Expired")


class Flag(models.TextChoices):
    """Seller flag colours (Taobao ``seller_flag`` 1–5)."""

    RED = "red", _("Red")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")
    BLUE = "blue", _("Blue")
    PURPLE = "purple", _("Purple")


class Channel(models.TextChoices):
    ORGANIC_SEARCH = "organic_search", _("Organic search")
    PAID_ADS = "paid_ads", _("Paid ads")
    AFFILIATE = "affiliate", _("Affiliate")
    LIVE_VIDEO = "live_video", _("Live / video")
    OTHER = "other", _("Other")


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    OPERATOR = "operator", _("Operator")
    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    WAREHOUSE = "warehouse", _("Warehouse")


class NotificationLevel(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class JobStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (some items)")
    ABANDONED = "abandoned", _("Abandoned (the worker stopped)")


class BackgroundJobKind(models.TextChoices):
    BATCH_ACTION = "batch_action", _("Batch action over a filter")


class BackgroundJobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")


# --- after-sales cases (PRODUCT.md A1–A5): the vocabulary of the case tables ----------


class CaseKind(models.TextChoices):
    CANCEL = "cancel", _("Cancel request")
    REFUND = "refund", _("Refund only")
    RETURN = "return", _("Return and refund")
    REPLACEMENT = "replacement", _("Replacement")
    DISPUTE = "dispute", _("Dispute")


# Kinds that hold money back from the buyer: they raise the order's refund_open overlay.
REFUND_KINDS = frozenset({CaseKind.REFUND, CaseKind.RETURN, CaseKind.REPLACEMENT})


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
