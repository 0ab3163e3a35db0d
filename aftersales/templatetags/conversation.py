"""Messages and customer-service notes on the order page (PRODUCT.md A4)."""

from django import template

from aftersales import messaging
from aftersales.choices import NoteSubject
from aftersales.conversation_views import draft_key

register = template.Library()


@register.inclusion_tag("aftersales/_conversation.html", takes_context=True)
def conversation_panel(context, order):
    """The thread, the send form with the platform's rule, order and buyer notes.

    Two queries (messages, notes). Actions follow the member's role: messages need
    ``aftersales.decide``, notes the memo or the after-sales permission.
    """
    request = context.get("request")
    ws = context.get("ws")
    actor = ws.actor if ws is not None else None
    notes = list(messaging.notes_for(order))
    session = getattr(request, "session", None)
    draft = session.pop(draft_key(order.pk), "") if session is not None else ""
    rule = messaging.rule_for(order.platform)
    return {
        "order": order,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "thread": list(messaging.thread(order)),
        "rule": rule,
        "rule_text": rule.describe(),
        "platform_label": messaging.platform_label(order.platform),
        "order_notes": [n for n in notes if n.subject == NoteSubject.ORDER],
        "buyer_notes": [n for n in notes if n.subject == NoteSubject.BUYER],
        "buyer_key": messaging.Buyer.of(order).key,
        "can_message": actor is not None and messaging.can_message(actor),
        "can_note": actor is not None and messaging.can_note(actor),
        "draft": draft,
    }
