"""The order page is composed of panels that other apps register.

``orders`` knows nothing of shipping or after-sales: ``logistics`` and ``aftersales``
register their cards in ``AppConfig.ready`` and the order page renders whatever is
registered, by ``order``::

    register_order_panel(
        "shipments", order=10, title=_("Shipments"),
        template="logistics/_shipments.html", context=shipments_context,
    )

``context(request, ws, order)`` returns the panel's own context (a dict); the template
also sees the order page's context (``order``, ``ws``, ``can``, ``machine_actions``, …). A panel with a ``permission`` is shown only
to members whose role holds it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class OrderPanel:
    name: str
    order: int
    title: str
    template: str
    context: Callable[..., dict]
    permission: str | None = None


@dataclass(frozen=True)
class RenderedPanel:
    name: str
    title: str
    html: SafeString


_PANELS: dict[str, OrderPanel] = {}


def register_order_panel(
    name: str,
    *,
    order: int,
    title: str,
    template: str,
    context: Callable[..., dict],
    permission: str | None = None,
) -> OrderPanel:
    """Add (or replace, by name) a panel of the order page."""
    panel = OrderPanel(name, order, title, template, context, permission)
    _PANELS[name] = panel
    return panel


def unregister_order_panel(name: str) -> None:
    _PANELS.pop(name, None)


def order_panels() -> list[OrderPanel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.name))


def render_order_panels(request, ws, order, page: dict) -> list[RenderedPanel]:
    """The panels this member may see, rendered in order over the page's context."""
    rendered = []
    for panel in order_panels():
        if panel.permission is not None and not ws.can(panel.permission):
            continue
        context = {**page, "order": order, "ws": ws, "request": request}
        context.update(panel.context(request, ws, order))
        html = render_to_string(panel.template, context, request=request)
        rendered.append(RenderedPanel(panel.name, str(panel.title), html))
    return rendered
