"""Dashboard: send a message to the buyer, add notes, the buyer's page (PRODUCT.md A4).

The order page shows the thread and the forms (``templatetags/conversation.py``); these
views take the forms' posts and serve the buyer's page. Every one loads the order
through the member's organisation and shops (404 otherwise) and changes things only
through ``aftersales.messaging``, which checks the role and the platform's rules.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from aftersales import messaging
from aftersales.choices import NoteSubject
from oms.core.errors import OmsError
from orders.models import Order
from orders.selectors import orders_of
from orders.workspace import Workspace, workspace

# A refused message is kept for the form (session, per order), so nothing typed is lost.
DRAFT_KEY = "conversation_draft_{}"
MAX_DRAFT = 10_000


def draft_key(order_id: int) -> str:
    return DRAFT_KEY.format(order_id)


def _order(ws: Workspace, order_id: int) -> Order:
    order = (
        orders_of(ws.organisation, ws.shop_ids)
        .select_related("shop")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order


def _refused(request: HttpRequest, exc: OmsError) -> None:
    messages.error(request, f"{_('Refused')}: {exc.message}")


def _back(order: Order, to: str) -> HttpResponse:
    if to == "buyer":
        return redirect(reverse("conversation:buyer", args=[order.pk]) + "#notes")
    return redirect(reverse("orders:detail", args=[order.pk]) + "#conversation")


@login_required
@require_POST
def send_message(request: HttpRequest, order_id: int) -> HttpResponse:
    ws = workspace(request)
    order = _order(ws, order_id)
    body = request.POST.get("body", "")
    try:
        messaging.send_message(order, body, ws.actor)
    except OmsError as exc:
        request.session[draft_key(order.pk)] = body[:MAX_DRAFT]
        _refused(request, exc)
    else:
        request.session.pop(draft_key(order.pk), None)
        messages.success(request, _("Message sent."))
    return _back(order, "order")


@login_required
@require_POST
def add_note(request: HttpRequest, order_id: int) -> HttpResponse:
    ws = workspace(request)
    order = _order(ws, order_id)
    on_buyer = request.POST.get("subject") == NoteSubject.BUYER
    try:
        messaging.add_note(
            order, request.POST.get("body", ""), ws.actor, on_buyer=on_buyer
        )
    except OmsError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Note added."))
    return _back(order, request.POST.get("return_to", "order"))


@login_required
@require_GET
def buyer(request: HttpRequest, order_id: int) -> HttpResponse:
    """The buyer of an order: their orders across shops, open cases and notes.

    Addressed by the order, so no buyer nick or phone ever appears in a URL.
    """
    ws = workspace(request)
    order = _order(ws, order_id)
    history = messaging.buyer_history(order, ws.actor)
    return render(
        request,
        "aftersales/buyer.html",
        {
            "ws": ws,
            "order": order,
            "history": history,
            "buyer_notes": [n for n in history.notes if n.subject == NoteSubject.BUYER],
            "order_notes": [n for n in history.notes if n.subject == NoteSubject.ORDER],
            "can_note": messaging.can_note(ws.actor),
        },
    )
