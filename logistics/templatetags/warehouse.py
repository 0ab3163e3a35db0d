"""Template helpers for the logistics screens."""

from django import template

from orders import permissions as p

register = template.Library()


@register.filter
def can_merge_split(ws) -> bool:
    """Whether the member's role may merge and split orders (``orders.merge_split``)."""
    return bool(ws) and ws.can(p.MERGE_SPLIT)
