"""Shipping API: ship one order (whole or in part), ship a batch, list an order's packages.

Views parse input, call ``logistics.shipping`` and render; errors are the services'
own, in the one API error shape (a reused tracking number: 409 naming the order).
"""

from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.response import Response

from logistics import merging, print_batches, shipping, tracking
from logistics.api import serializers as s
from logistics.models import (
    Package,
    PrintBatch,
    TrackingEvent,
    TrackingSource,
)
from logistics.selectors import packages_of_order, print_batch_for
from oms.core.api.base import OmsApiView
from oms.core.errors import NotFound, OmsError, ValidationFailed
from orders import permissions as p
from orders.api.views import (
    ACTION_ERRORS,
    ERRORS,
    IDEMPOTENCY,
    IF_MATCH,
    ORDER_ID,
    detail,
    expected_version,
    get_order,
)
from orders.permissions import Scope


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class OrderShipApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_ship",
        summary="Ship the order, or some of its items, in one package",
        description=(
            "With `carrier` and a `tracking_number` (typed or scanned), or "
            "`allocate: true` to take one from the organisation's pools. `items` ships "
            "only those quantities (a partial shipment); without it, everything not yet "
            "shipped. A tracking number already known answers 409 "
            "`tracking_number_taken`, with `details.orders` naming the order it is on."
        ),
        request=s.ShipInput,
        parameters=[ORDER_ID, IDEMPOTENCY, IF_MATCH],
        responses={201: s.ShipOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Scanned number",
                value={"carrier": "YUNDA", "tracking_number": "YD1234567890"},
                request_only=True,
            ),
            OpenApiExample(
                "Part of the order, number from a pool",
                value={
                    "carrier": "YUNDA",
                    "allocate": True,
                    "items": [{"item": 1, "quantity": 1}],
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request, order_id: int):
        data = _valid(s.ShipInput, request)
        version = expected_version(request, data)
        get_order(self, order_id)  # 404 before anything else for others' orders
        items = data.get("items")
        package = shipping.ship(
            order_id,
            actor=self.ctx.actor,
            carrier_code=data["carrier"],
            tracking_number=data.get("tracking_number") or None,
            allocate=data.get("allocate", False),
            items=[dict(item) for item in items] if items is not None else None,
            expected_version=version,
        )
        package = packages_of_order(order_id).get(pk=package.pk)
        return Response(
            {
                "package": s.PackageOutput(package).data,
                "order": detail(self, get_order(self, order_id)),
            },
            status=201,
        )


class OrderPackagesApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="orders_packages_list",
        summary="The order's packages, oldest first",
        parameters=[ORDER_ID],
        responses={200: s.PackageListOutput, **ERRORS},
    )
    def get(self, request, order_id: int):
        get_order(self, order_id)
        packages = packages_of_order(order_id)
        return Response({"results": s.PackageOutput(packages, many=True).data})


class OrderBatchShipApi(OmsApiView):
    """Ship up to 500 orders, one package each: one result per order."""

    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_batch_ship",
        summary="Ship many orders: numbers from a pool, or one given per order",
        description=(
            "Each order ships everything not yet shipped, in one package. Orders that "
            "may not ship (unpaid, closed, on hold, blocked by the platform, an open "
            "cancel request …) are listed with the reason; the others ship."
        ),
        request=s.BatchShipInput,
        parameters=[IDEMPOTENCY],
        responses={200: s.BatchShipOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Numbers from a pool",
                value={"ids": [1, 2, 3], "carrier": "YUNDA", "allocate": True},
                request_only=True,
            ),
            OpenApiExample(
                "Scanned numbers",
                value={
                    "ids": [1, 2],
                    "carrier": "YUNDA",
                    "tracking_numbers": [
                        {"id": 1, "tracking_number": "YD1000000001"},
                        {"id": 2, "tracking_number": "YD1000000002"},
                    ],
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = _valid(s.BatchShipInput, request)
        ids = list(dict.fromkeys(data["ids"]))
        numbers = None
        if not data.get("allocate"):
            numbers = {
                row["id"]: row["tracking_number"] for row in data["tracking_numbers"]
            }
        actor = self.ctx.actor
        outcomes = shipping.ship_batch(
            ids,
            actor=actor,
            carrier_code=data["carrier"],
            allocate=bool(data.get("allocate")),
            tracking_numbers=numbers,
        )
        results = []
        for order_id, outcome in zip(ids, outcomes, strict=True):
            if isinstance(outcome, OmsError):
                results.append(
                    {"id": order_id, "ok": False, "error": outcome.as_dict()}
                )
            else:
                results.append(
                    {
                        "id": order_id,
                        "ok": True,
                        "package": outcome.pk,
                        "tracking_number": outcome.tracking_number,
                    }
                )
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})


# --- print batches (L4) and the hand-over scan (L5) -----------------------------------------


# The route is <int:batch_id>: only digits reach the view.
BATCH_ID = OpenApiParameter(
    "batch_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH
)
PDF = OpenApiResponse(
    response=OpenApiTypes.BINARY, description="A PDF document (application/pdf)"
)
PDF_RESPONSES = {(200, "application/pdf"): PDF, **ERRORS}


def _batch(view: OmsApiView, batch_id: int) -> PrintBatch:
    """The batch, if every order in it is within the caller's shops (404 otherwise)."""
    batch = print_batch_for(view.ctx.organisation, view.ctx.shop_ids, batch_id)
    if batch is None:
        raise NotFound("No such print batch.", batch_id=batch_id)
    return batch


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _batch_body(request, batch: PrintBatch) -> dict:
    base = f"/api/v1/print-batches/{batch.pk}/"
    return s.PrintBatchOutput(
        {
            "id": batch.pk,
            "created_at": batch.created_at,
            "created_by": batch.created_by,
            "size": batch.size,
            "label_count": batch.label_count,
            "reprinted_labels": batch.reprinted_labels,
            "times_printed": batch.times_printed,
            "last_printed_at": batch.last_printed_at,
            "failures": batch.failures,
            "unscanned": print_batches.unscanned(batch),
            "links": {
                "labels": request.build_absolute_uri(base + "labels.pdf"),
                "reprint": request.build_absolute_uri(base + "reprint/"),
                "packing_slips": request.build_absolute_uri(base + "packing-slips.pdf"),
                "pick_list": request.build_absolute_uri(base + "pick-list.pdf"),
                "scan": request.build_absolute_uri(base + "scan/"),
            },
        }
    ).data


def _require_labels(batch: PrintBatch) -> None:
    if not batch.label_count:
        raise NotFound("This batch has no labels.", batch_id=batch.pk)


class PrintBatchCreateApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_create",
        summary="Print labels for many orders (shipping those not yet shipped)",
        description=(
            "Orders already shipped get their package's label again, marked as a "
            "reprint; the others are shipped with numbers from the organisation's "
            "pools. Orders that may not ship are listed in `failures` with the reason."
        ),
        request=s.PrintBatchInput,
        responses={201: s.PrintBatchOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Three orders",
                value={"order_ids": [1, 2, 3], "carrier": "YUNDA", "size": "100x180"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = _valid(s.PrintBatchInput, request)
        batch, _ = print_batches.print_labels(
            organisation=self.ctx.organisation,
            actor=self.ctx.actor,
            order_ids=data["order_ids"],
            carrier_code=data["carrier"],
            size=data["size"],
        )
        return Response(_batch_body(request, batch), status=201)


class PrintBatchDetailApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_retrieve",
        summary="A print batch, with its packages not yet scanned",
        parameters=[BATCH_ID],
        responses={200: s.PrintBatchOutput, **ERRORS},
    )
    def get(self, request, batch_id: int):
        return Response(_batch_body(request, _batch(self, batch_id)))


class PrintBatchLabelsApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_labels",
        summary="The batch's labels as a PDF (one page per label)",
        parameters=[BATCH_ID],
        responses=PDF_RESPONSES,
    )
    def get(self, request, batch_id: int):
        batch = _batch(self, batch_id)
        _require_labels(batch)
        return _pdf(print_batches.labels_pdf(batch), f"labels-{batch.pk}.pdf")


class PrintBatchReprintApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_reprint",
        summary="Print the batch's labels again (marked as reprints, counted)",
        request=None,
        parameters=[BATCH_ID],
        responses=PDF_RESPONSES,
    )
    def post(self, request, batch_id: int):
        batch = _batch(self, batch_id)
        _require_labels(batch)
        return _pdf(print_batches.reprint(batch), f"labels-{batch.pk}-reprint.pdf")


class PrintBatchPackingSlipsApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_packing_slips",
        summary="Packing slips for the batch (A4 PDF, one order per page)",
        parameters=[BATCH_ID],
        responses=PDF_RESPONSES,
    )
    def get(self, request, batch_id: int):
        batch = _batch(self, batch_id)
        _require_labels(batch)
        return _pdf(print_batches.packing_slips(batch), f"packing-slips-{batch.pk}.pdf")


class PrintBatchPickListApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_pick_list",
        summary="The batch's pick list (A4 PDF, quantities summed per SKU)",
        parameters=[BATCH_ID],
        responses=PDF_RESPONSES,
    )
    def get(self, request, batch_id: int):
        batch = _batch(self, batch_id)
        _require_labels(batch)
        return _pdf(print_batches.pick_list(batch), f"pick-list-{batch.pk}.pdf")


class PrintBatchScanApi(OmsApiView):
    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="print_batches_scan",
        summary="Hand over one parcel of the batch by its tracking number",
        description=(
            "`ok` marks the package handed over (a TikTok Shop order awaiting "
            "collection moves to in transit); `already_scanned`, `unknown` (no package "
            "with that number), `wrong_batch` (the package is in another batch) and "
            "`voided` (its order was cancelled before it left: the label must not be "
            "used) change nothing."
        ),
        request=s.ScanInput,
        parameters=[BATCH_ID],
        responses={200: s.ScanOutput, **ERRORS},
    )
    def post(self, request, batch_id: int):
        batch = _batch(self, batch_id)
        data = _valid(s.ScanInput, request)
        result = print_batches.scan(
            organisation=self.ctx.organisation,
            actor=self.ctx.actor,
            batch=batch,
            tracking_number=data["tracking_number"],
        )
        body = {"outcome": result.outcome}
        if result.outcome in (print_batches.OK, print_batches.ALREADY_SCANNED):
            body["order_id"] = result.order_id
        if result.outcome == print_batches.VOIDED:
            body.update(order_id=result.order_id, message=result.note)
        return Response(body)


# --- tracking (L6) ---------------------------------------------------------------------------


class TrackingEventsApi(OmsApiView):
    """Carrier or platform tracking events, pushed by an ERP or a tracking service."""

    permission = p.SHIP
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="tracking_events_create",
        summary="Record tracking events (idempotent): one result per event",
        description=(
            "Each event names its package by carrier code and tracking number. An event "
            "already stored (same package, time and code) answers `duplicate`; an "
            "unknown package answers `error` (not_found) for that event only. The newest "
            "event moves the package and the order: `delivered` delivers it where its "
            "platform allows, `delivery_failed` sets the order's `delivery_failed` "
            "overlay. Older events are stored and change nothing."
        ),
        request=s.TrackingEventsInput,
        parameters=[IDEMPOTENCY],
        responses={200: s.TrackingEventsOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Delivered",
                value={
                    "events": [
                        {
                            "carrier": "YUNDA",
                            "tracking_number": "YD1234567890",
                            "occurred_at": "2026-01-05T09:30:00+08:00",
                            "code": "delivered",
                            "description": "Signed by the buyer",
                            "location": "Hangzhou",
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        # The envelope is checked as a whole, each event on its own: a bad event is
        # that event's error, the others are recorded.
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= tracking.MAX_EVENTS:
            raise ValidationFailed(
                f'Send {{"events": [...]}} with 1 to {tracking.MAX_EVENTS} events.',
                fields={"events": f"a list of 1 to {tracking.MAX_EVENTS} events"},
            )
        valid, refused = [], {}
        for index, raw in enumerate(events):
            event = s.TrackingEventInput(data=raw)
            if event.is_valid():
                valid.append((index, dict(event.validated_data)))
            else:
                refused[index] = ValidationFailed(
                    "The event is not valid; see details.fields.",
                    fields=event.errors,
                ).as_dict()
        stored = tracking.ingest_tracking_events(
            organisation=self.ctx.organisation,
            events=[event for _, event in valid],
            source=TrackingSource.API,
            actor=self.ctx.actor,
        )
        by_index = {
            index: {**result, "index": index}
            for (index, _), result in zip(valid, stored, strict=True)
        }
        results = [
            by_index.get(index)
            or {"index": index, "outcome": tracking.ERROR, "error": refused[index]}
            for index in range(len(events))
        ]
        outcomes = [result["outcome"] for result in results]
        return Response(
            {
                "results": results,
                "created": outcomes.count(tracking.CREATED),
                "duplicates": outcomes.count(tracking.DUPLICATE),
                "failed": outcomes.count(tracking.ERROR),
            }
        )


class OrderTrackingApi(OmsApiView):
    permission = p.VIEW_ORDERS
    scope = Scope.ORDERS_READ

    @extend_schema(
        operation_id="orders_tracking_list",
        summary="The order's packages with their tracking events, oldest first",
        parameters=[ORDER_ID],
        responses={200: s.OrderTrackingOutput, **ERRORS},
    )
    def get(self, request, order_id: int):
        get_order(self, order_id)
        packages = (
            packages_of_order(order_id)  # a merged parcel led by another order too
            .prefetch_related(
                Prefetch(
                    "tracking_events",
                    queryset=TrackingEvent.objects.order_by("occurred_at", "id"),
                )
            )
            .order_by("id")
        )
        return Response({"results": s.PackageTrackingOutput(packages, many=True).data})


class OrderRedeliveryApi(OmsApiView):
    permission = p.EDIT_ADDRESS
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_redelivery_create",
        summary="Ask for a new delivery of a failed package at a new address",
        description=(
            "Only while the package's delivery has failed and inside the shop's "
            "redelivery window (TikTok Shop: 7 days after the failure). Refusals answer "
            "409 `invalid_transition` with `details.reason`: `not_failed`, "
            "`no_redelivery` (the platform has no such rule), `already_requested` or "
            "`redelivery_window_closed`."
        ),
        request=s.RedeliveryInput,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={201: s.RedeliveryResultOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "New address",
                value={
                    "package": 1,
                    "address": {
                        "country": "MY",
                        "city": "Petaling Jaya",
                        "street": "12 Jalan SS2/24",
                        "postcode": "47300",
                    },
                    "phone": "60123456789",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, order_id: int):
        data = _valid(s.RedeliveryInput, request)
        get_order(self, order_id)  # 404 before anything else for others' orders
        package = Package.objects.filter(pk=data["package"], order_id=order_id).first()
        if package is None:
            raise NotFound("No such package on this order.", package=data["package"])
        address = {"address": dict(data["address"])}
        for name in ("name", "phone"):
            if name in data:
                address[name] = data[name]
        redelivery = tracking.request_redelivery(
            package=package, actor=self.ctx.actor, address=address
        )
        return Response(
            {
                "redelivery": s.RedeliveryOutput(redelivery).data,
                "order": detail(self, get_order(self, order_id)),
            },
            status=201,
        )


# --- merge and split (X5) --------------------------------------------------------------------

MERGE_REFUSALS = (
    "Refusals: 409 `merge_mismatch` (`details.reason`: `different_shop`, "
    "`different_buyer` or `different_address`), `not_awaiting_shipment`, "
    "`already_printed`, `order_merged` (already in a group) or `order_split`; 400 "
    "`invalid_input`; 404 for orders that are not the caller's."
)


class MergeGroupCreateApi(OmsApiView):
    permission = p.MERGE_SPLIT
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="merge_groups_create",
        summary="Merge orders into one parcel (one tracking number for all)",
        description=(
            "Orders of one shop, buyer and address, awaiting shipment and not yet "
            "printed. Shipping or printing any of them then ships the whole group in "
            "one package under one tracking number. " + MERGE_REFUSALS
        ),
        request=s.MergeInput,
        parameters=[IDEMPOTENCY],
        responses={201: s.MergeGroupOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample("Two orders", value={"order_ids": [1, 2]}, request_only=True)
        ],
    )
    def post(self, request):
        data = _valid(s.MergeInput, request)
        for order_id in dict.fromkeys(data["order_ids"]):
            get_order(self, order_id)  # 404 for others' orders, before anything else
        group = merging.merge_orders(order_ids=data["order_ids"], actor=self.ctx.actor)
        group.orders = sorted(set(data["order_ids"]))
        return Response(s.MergeGroupOutput(group).data, status=201)


class OrderMergeUndoApi(OmsApiView):
    permission = p.MERGE_SPLIT
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_merge_undo",
        summary="Undo the merge the order is in (until its label is printed)",
        description=(
            "Dissolves the order's whole merge group. 404 when the order is not "
            "merged; 409 `already_printed` once the group's parcel exists."
        ),
        request=None,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={200: s.MergeUndoOutput, **ACTION_ERRORS},
    )
    def post(self, request, order_id: int):
        get_order(self, order_id)  # 404 for others' orders
        group = merging.group_orders(order_id)
        if group is None:
            raise NotFound("This order is not merged.", order_id=order_id)
        group_id, orders = group
        for order in orders:  # a key limited to some shops must see every order
            get_order(self, order.pk)
        return Response(
            {"orders": merging.undo_merge(group_id=group_id, actor=self.ctx.actor)}
        )


class OrderSplitApi(OmsApiView):
    permission = p.MERGE_SPLIT
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_split",
        summary="Split the order across packages (a plan, shipped when printed)",
        description=(
            "`packages` lists each package's items; together they hold exactly the "
            "order's quantities. Printing the order's labels then ships each package "
            "with its own tracking number from the pools. A new plan replaces the "
            "last. " + MERGE_REFUSALS
        ),
        request=s.SplitInput,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={201: s.SplitOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Two parcels",
                value={
                    "packages": [
                        [{"item": 1, "quantity": 1}],
                        [{"item": 1, "quantity": 1}, {"item": 2, "quantity": 1}],
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, order_id: int):
        data = _valid(s.SplitInput, request)
        get_order(self, order_id)
        planned = merging.split_order(
            order_id=order_id,
            actor=self.ctx.actor,
            packages=[[dict(line) for line in lines] for lines in data["packages"]],
        )
        return Response(
            s.SplitOutput({"order": order_id, "packages": planned}).data, status=201
        )


class OrderSplitUndoApi(OmsApiView):
    permission = p.MERGE_SPLIT
    scope = Scope.LOGISTICS_WRITE

    @extend_schema(
        operation_id="orders_split_undo",
        summary="Undo the order's split (until a label is printed)",
        request=None,
        parameters=[ORDER_ID, IDEMPOTENCY],
        responses={200: s.SplitOutput, **ACTION_ERRORS},
    )
    def post(self, request, order_id: int):
        get_order(self, order_id)
        merging.undo_split(order_id=order_id, actor=self.ctx.actor)
        return Response(s.SplitOutput({"order": order_id, "packages": []}).data)
