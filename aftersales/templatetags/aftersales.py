"""After-sales pieces of other pages: the order page's panel, the nav link with its badge,
and the case countdowns (rendered on the server; ``static/js/aftersales.js`` ticks them).
"""

import json
from datetime import datetime, timedelta
from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from aftersales.choices import CaseState, SellerTask
from aftersales.models import Case
from aftersales.services import MONEY_KINDS, cases_for, paid_amount, spec_of
from oms.core.timeutils import format_local
from orders import permissions as p
from orders.choices import DeadlineKind
from orders.models import OrderDeadline, OrderEvent
from orders.platforms import get_platform

register = template.Library()

SOON = timedelta(hours=6)
# Open cases the seller must act on: the nav badge counts them.
NEEDS_SELLER = (SellerTask.RESPOND, SellerTask.CONFIRM_RETURN)


# --- countdowns ------------------------------------------------------------------------


def _duration(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(days)dd %(hours)dh") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)dh %(minutes)dm") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)dm") % {"minutes": minutes}


def countdown_state(due: datetime | None, now: datetime) -> str:
    """``overdue``, ``soon`` (under 6 hours) or ``""``."""
    if due is None:
        return ""
    if due <= now:
        return "overdue"
    return "soon" if due - now < SOON else ""


def countdown_text(due: datetime, now: datetime) -> str:
    left = due - now
    if left.total_seconds() <= 0:
        return _("overdue by %(time)s") % {"time": _duration(left)}
    return _("%(time)s left") % {"time": _duration(left)}


@register.simple_tag
def case_due(due: datetime | None, tz: str, now: datetime | None = None):
    """The countdown to a case's deadline and the deadline in the shop's time zone."""
    if due is None:
        return format_html('<span class="muted">{}</span>', _("No deadline"))
    now = now or timezone.now()
    state = countdown_state(due, now)
    return format_html(
        '<span class="as-due {}" data-due="{}">{}</span>'
        '<div class="muted small">{} ({})</div>',
        state,
        due.isoformat(),
        countdown_text(due, now),
        (format_local(due, tz) or "")[:16],
        tz,
    )


@register.simple_tag
def countdown_formats():
    """The countdown wordings for the ticking script, in the reader's language."""
    formats = {
        "dh": _("%(days)dd %(hours)dh"),
        "hm": _("%(hours)dh %(minutes)dm"),
        "m": _("%(minutes)dm"),
        "left": _("%(time)s left"),
        "overdue": _("overdue by %(time)s"),
    }
    for name, token in (("days", "{d}"), ("hours", "{h}"), ("minutes", "{m}")):
        formats = {k: v.replace(f"%({name})d", token) for k, v in formats.items()}
    formats = {k: v.replace("%(time)s", "{t}") for k, v in formats.items()}
    return format_html(
        '<span hidden id="as-countdown-formats" data-formats="{}"></span>',
        json.dumps(formats, ensure_ascii=False),
    )


def status_label(case: Case) -> str:
    return _(spec_of(case).status(case.native_status).label)


# --- the nav link -----------------------------------------------------------------------


def needing_seller(ws):
    """Open cases waiting for the seller (the partial index ``case_inbox_idx``)."""
    return cases_for(ws.actor).filter(state=CaseState.OPEN, task__in=NEEDS_SELLER)


@register.simple_tag(takes_context=True)
def aftersales_nav(context):
    """The nav link to the inbox with the number of cases waiting for the seller."""
    ws = context.get("ws")
    if ws is None or not ws.can(p.VIEW_ORDERS):
        return ""
    url = reverse("aftersales:inbox")
    request = context.get("request")
    active = bool(request and request.path.startswith(url))
    count = needing_seller(ws).count()
    badge = (
        format_html(
            ' <span class="nav-badge" id="aftersales-badge" title="{}">{}</span>',
            _("Cases waiting for you"),
            count,
        )
        if count
        else ""
    )
    return format_html(
        '<a href="{}" class="{}" id="nav-aftersales">{}{}</a>',
        url,
        "active" if active else "",
        _("After-sales"),
        badge,
    )


# --- the order page's panel ---------------------------------------------------------------


@register.inclusion_tag("aftersales/_order_panel.html", takes_context=True)
def aftersales_panel(context, order):
    """The order's cases (open first), refunded against paid, and the release of funds
    (platforms declaring ``fund_release``). A constant number of queries whatever the number of cases."""
    now = timezone.now()
    cases = list(Case.objects.filter(order=order).order_by("-opened_at", "-id"))
    far = now + timedelta(days=36500)
    cases.sort(key=lambda c: (not c.is_open, (c.due_at or far) if c.is_open else far))
    for case in cases:
        case.status_label = status_label(case)
    paid = paid_amount(order)
    refunded = sum((c.refunded_amount for c in cases), Decimal(0))
    requested = sum(
        (c.amount for c in cases if c.is_open and c.kind in MONEY_KINDS), Decimal(0)
    )
    funds = None
    release = get_platform(order.platform).fund_release
    if release is not None and order.native_status == release.waiting_status:
        deadline = OrderDeadline.objects.filter(
            order=order, kind=DeadlineKind.RELEASE_FUNDS_BY
        ).first()
        funds = {"waiting": True, "due_at": deadline.due_at if deadline else None}
    elif release is not None and order.native_status == release.released_status:
        event = (
            OrderEvent.objects.filter(order=order, action=release.action)
            .order_by("-created_at", "-id")
            .first()
        )
        if event is not None:
            funds = {"waiting": False, "released_at": event.created_at}
    return {
        "order": order,
        "cases": cases,
        "paid": paid,
        "refunded": refunded,
        "requested": requested,
        "funds": funds,
        "now": now,
        "request": context.get("request"),
    }
