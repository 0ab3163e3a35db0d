"""Messages and customer-service notes on the order page."""

from django import template

register = template.Library()


@register.inclusion_tag("aftersales/_conversation.html", takes_context=True)
def conversation_panel(context, order):
    return {"order": order, "request": context.get("request")}
