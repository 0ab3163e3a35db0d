"""Dashboard: ship an order from its page (the shipments card's form).

Same service as the API (``logistics.shipping.ship``); the member's organisation,
shops and role (``logistics.ship``) are checked on the server. A refusal is shown with
its reason and changes nothing.
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from logistics import print_batches
from logistics.errors import TrackingNumberTaken
from logistics.models import Carrier, PrintBatch
from logistics.printing import DEFAULT_SIZE, LABEL_SIZES
from logistics.shipping import MAX_BATCH, ship
from oms.core.errors import OmsError
from orders import permissions as p
from orders.selectors import orders_of
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


# --- warehouse: print batches (L4) and the hand-over scan (L5) ------------------------------


def _warehouse(request: HttpRequest):
    ws = workspace(request)
    ws.require(p.SHIP)
    return ws


def _get_batch(ws, batch_id: int) -> PrintBatch:
    batch = PrintBatch.objects.filter(pk=batch_id, organisation=ws.organisation).first()
    if batch is None:
        raise Http404(_("No such print batch."))
    return batch


@login_required
def print_page(request: HttpRequest) -> HttpResponse:
    """Choose orders (the list's selection or typed order numbers), carrier and size."""
    ws = _warehouse(request)
    source = request.POST if request.method == "POST" else request.GET
    ids = [int(v) for v in source.getlist("ids") if v.isdigit()][:MAX_BATCH]
    numbers = source.get("numbers", "")
    if request.method == "POST":
        wanted = [n for n in re.split(r"[\s,;]+", numbers) if n]
        unknown: list[str] = []
        if wanted:
            found = dict(
                orders_of(ws.organisation, ws.shop_ids)
                .filter(platform_order_id__in=wanted)
                .values_list("platform_order_id", "pk")
            )
            unknown = [n for n in wanted if n not in found]
            ids += [found[n] for n in wanted if n in found]
        if unknown:
            messages.error(
                request, _("Unknown order numbers: %s") % ", ".join(unknown[:20])
            )
        if ids:
            try:
                batch, _pdf = print_batches.print_labels(
                    organisation=ws.organisation,
                    actor=ws.actor,
                    order_ids=ids,
                    carrier_code=request.POST.get("carrier", ""),
                    size=request.POST.get("size", DEFAULT_SIZE),
                )
            except OmsError as exc:
                messages.error(request, _refusal(exc))
            else:
                return redirect("logistics:batch", batch_id=batch.pk)
        elif not unknown:
            messages.error(request, _("Select at least one order."))
    context = {
        "ws": ws,
        "ids": ids,
        "numbers": numbers,
        "carriers": Carrier.objects.filter(is_active=True),
        "sizes": [(size, size) for size in LABEL_SIZES],
        "size": DEFAULT_SIZE,
        "batches": PrintBatch.objects.filter(organisation=ws.organisation)[:20],
    }
    return render(request, "logistics/print.html", context)


@login_required
def batch_page(request: HttpRequest, batch_id: int) -> HttpResponse:
    ws = _warehouse(request)
    batch = _get_batch(ws, batch_id)
    return render(
        request,
        "logistics/batch.html",
        {"ws": ws, "batch": batch, "entries": print_batches.entries_of(batch)},
    )


PDFS = {
    "labels": print_batches.labels_pdf,
    "packing-slips": print_batches.packing_slips,
    "pick-list": print_batches.pick_list,
}


@login_required
def batch_pdf(request: HttpRequest, batch_id: int, kind: str) -> HttpResponse:
    ws = _warehouse(request)
    batch = _get_batch(ws, batch_id)
    if kind not in PDFS or not batch.label_count:
        raise Http404
    if kind == "labels" and request.method == "POST":
        content = print_batches.reprint(batch)
    else:
        content = PDFS[kind](batch)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{kind}-{batch.pk}.pdf"'
    return response


@login_required
def scan_page(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Scanners type the number and press Enter: one plain form post per parcel."""
    ws = _warehouse(request)
    batch = _get_batch(ws, batch_id)
    result = None
    if request.method == "POST":
        result = print_batches.scan(
            organisation=ws.organisation,
            actor=ws.actor,
            batch=batch,
            tracking_number=request.POST.get("tracking_number", ""),
        )
    scanned = batch.entries.filter(package__scanned_at__isnull=False).count()
    return render(
        request,
        "logistics/scan.html",
        {
            "ws": ws,
            "batch": batch,
            "result": result,
            "unscanned": print_batches.unscanned(batch),
            "scanned": scanned,
        },
    )


# --- warehouse: the "to ship" queue ---------------------------------------------------------

QUEUE_PAGE_SIZES = (20, 50, 100)


def to_ship_queryset(ws, params):
    """The member's orders awaiting shipment with no package, not held, no cancel request.

    Soonest deadline first (orders without one last), then oldest. ``params`` (a
    QueryDict): ``platform`` and ``shop`` as in the order list, and ``no_number``: only
    orders with no tracking number reserved for them yet (no carrier chosen). A bad
    filter value raises ``ValidationFailed``.
    """
    from django.db.models import Exists, F, OuterRef
    from django.http import QueryDict

    from logistics.models import NumberStatus, Package, PackageStatus, TrackingNumber
    from orders.choices import Stage
    from orders.selectors import filter_orders

    packages = Package.objects.filter(order=OuterRef("pk")).exclude(
        status=PackageStatus.CANCELLED
    )
    queryset = (
        orders_of(ws.organisation, ws.shop_ids)
        .filter(stage=Stage.AWAITING_SHIPMENT, on_hold=False, cancel_requested=False)
        .filter(~Exists(packages))
    )
    filters = QueryDict(mutable=True)
    for name in ("platform", "shop"):
        filters.setlist(name, [v for v in params.getlist(name) if v])
    queryset = filter_orders(queryset, filters)
    if params.get("no_number"):
        reserved = TrackingNumber.objects.filter(
            order=OuterRef("pk"), status=NumberStatus.RESERVED
        )
        queryset = queryset.filter(~Exists(reserved))
    return queryset.order_by(
        F("next_deadline_at").asc(nulls_last=True), "created_at", "pk"
    )


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    """Orders waiting for a label, soonest deadline first; the selection goes to print."""
    from datetime import timedelta

    from django.db.models import Prefetch
    from django.http import QueryDict
    from django.utils import timezone

    from orders.models import OrderItem
    from orders.platforms import get_spec, registry

    ws = _warehouse(request)
    params = request.GET
    try:
        size = int(params.get("size", QUEUE_PAGE_SIZES[-1]))
    except ValueError:
        size = QUEUE_PAGE_SIZES[-1]
    size = size if size in QUEUE_PAGE_SIZES else QUEUE_PAGE_SIZES[-1]
    try:
        page = max(int(params.get("page", 1)), 1)
    except ValueError:
        page = 1
    error = None
    try:
        queryset = to_ship_queryset(ws, params)
        total = queryset.count()
    except OmsError as exc:
        queryset, total = orders_of(ws.organisation, ws.shop_ids).none(), 0
        error = exc.details.get("fields") or exc.message
    rows = list(
        queryset.select_related("shop").prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.order_by("id"))
        )[(page - 1) * size : page * size + 1]
    )
    has_next = len(rows) > size
    rows = rows[:size]
    soon = timezone.now() + timedelta(hours=6)
    for order in rows:
        order.status_label = _(
            get_spec(order.platform).status(order.native_status).label
        )
        order.at_risk = (
            order.next_deadline_at is not None and order.next_deadline_at < soon
        )
    query = QueryDict(mutable=True)
    for name in ("platform", "shop", "no_number"):
        values = [v for v in params.getlist(name) if v]
        if values:
            query.setlist(name, values)
    shops = ws.organisation.shops.order_by("name")
    if ws.shop_ids:
        shops = shops.filter(pk__in=ws.shop_ids)
    context = {
        "ws": ws,
        "orders": rows,
        "total": total,
        "page": page,
        "size": size,
        "has_next": has_next,
        "page_sizes": QUEUE_PAGE_SIZES,
        "query": query.urlencode(),
        "filter_error": error,
        "platforms": [(code, spec.label) for code, spec in registry().items()],
        "shops": shops,
        "platform": params.get("platform", ""),
        "shop": params.get("shop", ""),
        "no_number": bool(params.get("no_number")),
        "max_batch": MAX_BATCH,
    }
    return render(request, "logistics/queue.html", context)
