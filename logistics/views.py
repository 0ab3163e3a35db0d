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
from logistics.errors import PackageVoided, TrackingNumberTaken
from logistics.models import Carrier, PackageStatus, PrintBatch
from logistics.printing import DEFAULT_SIZE, LABEL_SIZES
from logistics.selectors import print_batch_for, print_batches_of
from logistics.shipping import MAX_BATCH, ship
from oms.core.errors import OmsError
from oms.core.input import page_number, whole_number
from orders import permissions as p
from orders.selectors import orders_of
from orders.workspace import get_order, workspace


def _items(request: HttpRequest) -> list[dict] | None:
    """``qty_<item id>`` fields, when the member chose a partial shipment."""
    if request.POST.get("partial") != "on":
        return None
    items = []
    for name, value in request.POST.items():
        item = whole_number(name[4:]) if name.startswith("qty_") else None
        if item is not None:
            quantity = whole_number(value) or 0
            if quantity:
                items.append({"item": item, "quantity": quantity})
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
            expected_version=whole_number(version),
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
    """The batch, if every order in it is within the member's shops (404 otherwise)."""
    batch = print_batch_for(ws.organisation, ws.shop_ids, batch_id)
    if batch is None:
        raise Http404(_("No such print batch."))
    return batch


@login_required
def print_page(request: HttpRequest) -> HttpResponse:
    """Choose orders (the list's selection or typed order numbers), carrier and size."""
    ws = _warehouse(request)
    source = request.POST if request.method == "POST" else request.GET
    ids = [n for v in source.getlist("ids") if (n := whole_number(v))][:MAX_BATCH]
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
        "batches": print_batches_of(ws.organisation, ws.shop_ids)[:20],
    }
    return render(request, "logistics/print.html", context)


@login_required
def batch_page(request: HttpRequest, batch_id: int) -> HttpResponse:
    ws = _warehouse(request)
    batch = _get_batch(ws, batch_id)
    # Refused orders by the platform's number (the one on screens and labels), not the
    # database id; one that is not the member's to see (refused as not found) keeps
    # the number they typed, without a link.
    ids = {row.get("order_id") for row in batch.failures}
    numbers = dict(
        orders_of(ws.organisation, ws.shop_ids)
        .filter(pk__in=[i for i in ids if isinstance(i, int)])
        .values_list("pk", "platform_order_id")
    )
    refused = [
        {**row, "number": numbers.get(row.get("order_id"))} for row in batch.failures
    ]
    return render(
        request,
        "logistics/batch.html",
        {
            "ws": ws,
            "batch": batch,
            "refused": refused,
            "entries": print_batches.entries_of(batch),
        },
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
    try:
        if kind == "labels" and request.method == "POST":
            content = print_batches.reprint(batch)
        else:
            content = PDFS[kind](batch)
    except PackageVoided:
        # Every label of the batch is void: nothing may be printed from it.
        messages.error(request, _("Refused: every label of this batch is voided."))
        return redirect("logistics:batch", batch_id=batch.pk)
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
    # Voided parcels (their order was cancelled) are never handed over: not counted.
    voided = batch.entries.filter(
        package__status=PackageStatus.VOIDED, package__scanned_at__isnull=True
    ).count()
    return render(
        request,
        "logistics/scan.html",
        {
            "ws": ws,
            "batch": batch,
            "result": result,
            "unscanned": print_batches.unscanned(batch),
            "scanned": scanned,
            "to_scan": batch.label_count - voided,
            "voided": voided,
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

    from logistics.models import (
        DEAD_PACKAGE_STATUSES,
        NumberStatus,
        Package,
        TrackingNumber,
    )
    from orders.choices import Stage
    from orders.selectors import filter_orders

    packages = Package.objects.filter(order=OuterRef("pk")).exclude(
        status__in=DEAD_PACKAGE_STATUSES
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
    page = page_number(params.get("page"))
    error = None
    try:
        queryset = to_ship_queryset(ws, params)
        total = queryset.count()
    except OmsError as exc:
        queryset, total = orders_of(ws.organisation, ws.shop_ids).none(), 0
        error = exc.details.get("fields") or exc.message
    from django.db.models import Exists, F, OuterRef

    from logistics.models import PlannedPackage

    rows = list(
        queryset.select_related("shop")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        # Merged (X5): the group's id, to badge and undo; split: a plan exists.
        .annotate(
            merge_group_id=F("merge_membership__group_id"),
            split_planned=Exists(PlannedPackage.objects.filter(order=OuterRef("pk"))),
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
    shops = ws.shops
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
        "can_merge": ws.can(p.MERGE_SPLIT),
    }
    return render(request, "logistics/queue.html", context)


# --- warehouse: tracking-number pools and carriers (L1, L2) ------------------------------


def _zone(ws):
    """Times typed on warehouse forms are in the zone of the organisation's first shop."""
    from zoneinfo import ZoneInfo

    shop = ws.organisation.shops.order_by("pk").first()
    return ZoneInfo(shop.timezone if shop else "UTC")


@login_required
def pools_page(request: HttpRequest) -> HttpResponse:
    """The organisation's pools with usage and expiry figures; a form to record a pool.

    The list is one aggregate query whatever its length (``selectors.with_counts``).
    The form calls the import services the API and jobs use; a refusal (a number
    already known for the carrier, naming the order it is on) is a form error.
    """
    from django.utils import timezone

    from logistics.forms import PoolForm
    from logistics.models import TrackingNumberPool
    from logistics.selectors import pool_stats, with_counts

    ws = _warehouse(request)
    zone = _zone(ws)
    form = PoolForm(
        request.POST or None, organisation=ws.organisation, actor=ws.actor, zone=zone
    )
    pool = form.save() if request.method == "POST" and form.is_valid() else None
    if pool is not None:
        messages.success(
            request,
            _("Pool %(name)s recorded: %(n)s numbers.")
            % {"name": pool.name, "n": form.imported},
        )
        return redirect("logistics:pools")
    now = timezone.now()
    pools = list(
        with_counts(TrackingNumberPool.objects.filter(organisation=ws.organisation))
        .select_related("carrier")
        .order_by("carrier__code", "-purchased_at", "-id")
    )
    rows = [(pool, pool_stats(pool, now=now)) for pool in pools]
    return render(
        request,
        "logistics/pools.html",
        {"ws": ws, "rows": rows, "form": form, "zone": zone.key},
    )


@login_required
def carriers_page(request: HttpRequest) -> HttpResponse:
    """Carriers with each platform's own code, tracking URL and default label size."""
    from orders.platforms import registry

    ws = _warehouse(request)
    platforms = [(code, spec.label) for code, spec in registry().items()]
    carriers = [
        (carrier, [carrier.code_for(code) or "" for code, _label in platforms])
        for carrier in Carrier.objects.order_by("-is_active", "code")
    ]
    return render(
        request,
        "logistics/carriers.html",
        {"ws": ws, "platforms": platforms, "carriers": carriers},
    )


# --- order page: redelivery after a failed delivery (L6) ----------------------------------


REDELIVERY_FIELDS = ("country", "province", "city", "district", "street", "postcode")


@login_required
@require_POST
def redelivery(request: HttpRequest, order_id: int, package_id: int) -> HttpResponse:
    """A new address for a failed package, through ``tracking.request_redelivery``."""
    from logistics import tracking
    from logistics.selectors import packages_of_order
    from oms.core.timeutils import format_local

    ws = workspace(request)
    order = get_order(ws, order_id)
    ws.require(p.EDIT_ADDRESS)
    package = packages_of_order(order.pk).filter(pk=package_id).first()
    if package is None:
        raise Http404(_("No such package on this order."))
    data = {
        "address": {
            name: request.POST.get(name, "").strip() for name in REDELIVERY_FIELDS
        },
        "name": request.POST.get("name", ""),
        "phone": request.POST.get("phone", ""),
    }
    try:
        tracking.request_redelivery(package=package, actor=ws.actor, address=data)
    except OmsError as exc:
        reason = exc.details.get("reason")
        if reason == "redelivery_window_closed":
            closed = exc.details.get("window_closed_at", "")
            from oms.core.timeutils import parse_iso

            when = format_local(parse_iso(closed), order.shop.timezone) or closed
            text = _(
                "Refused: the redelivery window closed at %(time)s (shop time). "
                "The parcel goes back to the sender."
            ) % {"time": when[:16]}
        elif reason == "already_requested":
            text = _("Refused: a redelivery was already requested for this parcel.")
        elif reason == "not_failed":
            text = _("Refused: this parcel's delivery has not failed.")
        elif reason == "no_redelivery":
            text = _("Refused: this platform takes no redelivery requests.")
        else:
            text = _refusal(exc)
        messages.error(request, text)
    else:
        messages.success(
            request,
            _("Redelivery requested for %(number)s.")
            % {"number": package.tracking_number},
        )
    return redirect("orders:detail", order_id=order.pk)


# --- merge and split (X5) -------------------------------------------------------------------


def _merge_refusal(exc: OmsError) -> str:
    from logistics.errors import (
        AlreadyPrinted,
        MergeMismatch,
        NotAwaitingShipment,
        OrderMerged,
        OrderSplit,
    )

    reasons = {
        "different_shop": _("Refused: the orders are from different shops."),
        "different_buyer": _("Refused: the orders are from different buyers."),
        "different_address": _("Refused: the orders go to different addresses."),
    }
    if isinstance(exc, MergeMismatch):
        return reasons.get(exc.details.get("reason"), _refusal(exc))
    if isinstance(exc, NotAwaitingShipment):
        return _("Refused: only orders awaiting shipment can be merged or split.")
    if isinstance(exc, AlreadyPrinted):
        return _("Refused: a label was already printed; undo is no longer possible.")
    if isinstance(exc, OrderMerged):
        return _("Refused: an order is already merged; undo that merge first.")
    if isinstance(exc, OrderSplit):
        return _("Refused: an order is split into packages; undo the split first.")
    return _refusal(exc)


def _back_to(request: HttpRequest, fallback: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return fallback


@login_required
@require_POST
def merge(request: HttpRequest) -> HttpResponse:
    """Merge the selected orders of the to-ship queue into one parcel."""
    from django.urls import reverse

    from logistics import merging

    ws = workspace(request)
    ws.require(p.MERGE_SPLIT)
    ids = [n for v in request.POST.getlist("ids") if (n := whole_number(v))]
    try:
        group = merging.merge_orders(order_ids=ids, actor=ws.actor)
    except OmsError as exc:
        messages.error(request, _merge_refusal(exc))
    else:
        messages.success(
            request,
            _("%(n)s orders merged into one parcel (merge #%(group)s).")
            % {"n": len(set(ids)), "group": group.pk},
        )
    response = redirect(_back_to(request, reverse("logistics:queue")))
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = _back_to(request, reverse("logistics:queue"))
    return response


@login_required
@require_POST
def undo_merge(request: HttpRequest, group_id: int) -> HttpResponse:
    from django.urls import reverse

    from logistics import merging

    ws = workspace(request)
    ws.require(p.MERGE_SPLIT)
    try:
        merging.undo_merge(group_id=group_id, actor=ws.actor)
    except OmsError as exc:
        if exc.code == "not_found":
            raise Http404(_("No such merge group.")) from None
        messages.error(request, _merge_refusal(exc))
    else:
        messages.success(request, _("Merge undone."))
    return redirect(_back_to(request, reverse("logistics:queue")))


@login_required
@require_POST
def undo_split(request: HttpRequest, order_id: int) -> HttpResponse:
    from logistics import merging

    ws = workspace(request)
    order = get_order(ws, order_id)
    ws.require(p.MERGE_SPLIT)
    try:
        merging.undo_split(order_id=order.pk, actor=ws.actor)
    except OmsError as exc:
        messages.error(request, _merge_refusal(exc))
    else:
        messages.success(request, _("Split undone."))
    return redirect("orders:detail", order_id=order.pk)
