"""Template filters for the dashboard: shop-local times, masked phones, money."""

from datetime import datetime, timedelta

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from oms.core.money import Money
from oms.core.timeutils import format_local
from orders.privacy import mask_phone as _mask_phone
from orders.privacy import phone_for as _phone_for

register = template.Library()

# The batch menu's words for the dashboard's batch actions (orders.actions.BATCH_ACTIONS).
BATCH_ACTION_LABELS = {
    "memo": gettext_noop("Memo"),
    "flag": gettext_noop("Flag"),
    "hold": gettext_noop("Hold"),
    "release": gettext_noop("Release"),
    "cancel": gettext_noop("Cancel"),
}


@register.filter
def batch_action(name: str) -> str:
    """A batch action's name in the reader's language ("hold" -> "Hold" / "挂起")."""
    label = BATCH_ACTION_LABELS.get(name)
    return _(label) if label else name


@register.filter
def shop_time(value: datetime | None, tz: str) -> str:
    """A UTC time shown in the shop's own time zone."""
    return (format_local(value, tz) or "")[:16] if value else ""


@register.filter
def masked(phone: str) -> str:
    return _mask_phone(phone)


@register.filter
def phone_for(phone: str, role: str) -> str:
    """A record page's phone: in full, or masked for the warehouse (orders/privacy.py)."""
    return _phone_for(phone, role or "")


@register.filter
def money(amount, currency: str) -> str:
    return str(Money(amount, currency)) if amount is not None else ""


@register.simple_tag
def countdown(due: datetime | None, label: str = ""):
    """A live countdown (static/js/oms.js ticks it); red when under 6 hours."""
    if due is None:
        return ""
    return format_html(
        '<span class="countdown" data-due="{}" title="{}">{}</span>',
        due.isoformat(),
        label,
        due.strftime("%Y-%m-%d %H:%M UTC"),
    )


@register.filter
def duration_text(value: timedelta | None) -> str:
    """A duration as days and hours ("3 d 4 h"), for paused deadlines."""
    if value is None:
        return ""
    hours = int(value.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    return (
        _("%(d)s d %(h)s h") % {"d": days, "h": hours}
        if days
        else _("%(h)s h") % {"h": hours}
    )
