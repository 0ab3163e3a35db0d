"""Shipping API: ship one order (whole or in part), ship a batch, list an order's packages.

Views parse input, call ``logistics.shipping`` and render; errors are the services'
own, in the one API error shape (a reused tracking number: 409 naming the order).
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from integrations.api.base import OmsApiView
from integrations.models import Scope
from logistics import shipping
from logistics.api import serializers as s
from logistics.selectors import packages_of_order
from oms.core.errors import OmsError
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


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class OrderShipApi(OmsApiView):
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
