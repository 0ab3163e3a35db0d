"""The after-sales panel on the order page (filled in by the dashboard work)."""

from django import template

register = template.Library()


@register.inclusion_tag("aftersales/_order_panel.html", takes_context=True)
def aftersales_panel(context, order):
    return {"order": order, "request": context.get("request")}
