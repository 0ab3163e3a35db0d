"""Dashboard: ship an order from its page (the shipments card's form).

Same service as the API (``logistics.shipping.ship``); the member's organisation,
shops and role (``logistics.ship``) are checked on the server. A refusal is shown with
its reason and changes nothing.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from logistics.errors import TrackingNumberTaken
from logistics.shipping import ship
from oms.core.errors import OmsError
from orders import permissions as p
from orders.views import get_order, workspace


def _items(request: HttpRequest) -> list[dict] | None:
    """``qty_<item id>`` fields, when the member chose a partial shipment."""
    if request.POST.get("partial") != "on":
        return None
    items = []
    for name, value in request.POST.items():
        if name.startswith("qty_") and name[4:].isdigit():
            quantity = int(value) if value.strip().isdigit() else 0
            if quantity:
                items.append({"item": int(name[4:]), "quantity": quantity})
    return items


def _refusal(exc: OmsError) -> str:
    if isinstance(exc, TrackingNumberTaken) and exc.details.get("orders"):
        owners = ", ".join(f"#{o}" for o in exc.details["orders"].values())
        return _(
            "Refused: this tracking number is already used on order %(orders)s."
        ) % {"orders": owners}
    detail = exc.details.get("reason") or exc.details.get("fields") or ""
    return f"{_('Refused')}: {exc.message} {detail}".strip()


@login_required
@require_POST
def ship_order(request: HttpRequest, order_id: int) -> HttpResponse:
    ws = workspace(request)
    order = get_order(ws, order_id)
    ws.require(p.SHIP)
    version = request.POST.get("version", "")
    try:
        package = ship(
            order.pk,
            actor=ws.actor,
            carrier_code=request.POST.get("carrier", ""),
            tracking_number=request.POST.get("tracking_number", "").strip() or None,
            allocate=request.POST.get("allocate") == "on",
            items=_items(request),
            expected_version=int(version) if version.isdigit() else None,
        )
        messages.success(
            request,
            _("Shipped with %(carrier)s %(number)s.")
            % {"carrier": package.carrier.name, "number": package.tracking_number},
        )
    except OmsError as exc:
        messages.error(request, _refusal(exc))
    return redirect("orders:detail", order_id=order.pk)
