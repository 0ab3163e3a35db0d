"""Bulk upsert: ERPs and bridges push up to 500 orders in the unified shape at once.

Each order is ingested on its own (``orders.ingest.ingest_order``: idempotent by shop +
platform order id, older data changes nothing) in its own transaction or savepoint, so
one bad order never affects another and no order is ever half-applied. Orders are not
held in one transaction together: each order's row lock is released once it is done.
"""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from oms.core.api.base import OmsApiView
from oms.core.api.batch import run_item
from oms.core.errors import NotFound, OmsError, ValidationFailed
from orders import permissions as p
from orders.api import ingest_serializers as i
from orders.api.views import ACTION_ERRORS, IDEMPOTENCY
from orders.ingest import ingest_order
from orders.permissions import Scope

EXAMPLE_ORDER = {
    "shop": 12,
    "platform_order_id": "4012345678901234",
    "native_status": "WAIT_SELLER_SEND_GOODS",
    "platform_updated_at": "2026-11-11T00:05:10+08:00",
    "created_at": "2026-11-11T00:01:02+08:00",
    "paid_at": "2026-11-11T00:02:30+08:00",
    "buyer": {"nick": "tb_buyer_01", "name": "张三", "phone": "13812345678", "email": ""},
    "address": {
        "country": "CN", "province": "浙江省", "city": "杭州市", "district": "西湖区",
        "street": "文三路 100 号", "postcode": "310000",
    },
    "items": [
        {
            "line_id": "4012345678901235", "sku": "TS-BLK-L", "title": "T-shirt",
            "spec": "Black, L", "quantity": 2, "unit_price": "49.90", "discount": "0.00",
            "image_url": "", "native_status": "WAIT_SELLER_SEND_GOODS", "refund_status": "",
        }
    ],
    "currency": "CNY",
    "shipping_fee": "8.00",
    "discount": "0.00",
    "tax": "0.00",
    "total": "107.80",
    "buyer_message": "Please ship quickly",
    "channel": "organic_search",
    "deadlines": {"ship_by": "2026-11-13T00:02:30+08:00"},
}  # fmt: skip


class OrderBulkUpsertApi(OmsApiView):
    """Platform observations: the platform's voice, so owners and ``orders:ingest``
    keys only; what they may change follows the platform (``orders.ingest``)."""

    permission = p.INGEST
    scope = Scope.ORDERS_INGEST

    @extend_schema(
        operation_id="orders_bulk_upsert",
        summary="Create or update up to 500 orders in the unified shape",
        description=(
            "Each order is ingested on its own, idempotently by shop + "
            "platform_order_id: the same order twice answers `unchanged`, an older "
            "`platform_updated_at` answers `stale` and changes nothing. One result per "
            "order, in request order; an order that fails changes nothing and does not "
            "affect the others. A shop that is not yours is `not_found`. An observation "
            "changes only what the platform may change at the order's stage: `refused` "
            "lists the fields kept as they were (`amount_locked_after_payment`: amounts, "
            "currency, item prices and quantities once paid; "
            "`address_locked_after_shipment`: address and recipient once shipped); the "
            "rest of the observation applies."
        ),
        request=i.BulkUpsertInput,
        parameters=[IDEMPOTENCY],
        responses={200: i.BulkUpsertOutput, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "One Taobao order", value={"orders": [EXAMPLE_ORDER]}, request_only=True
            ),
            OpenApiExample(
                "Results",
                response_only=True,
                value={
                    "results": [
                        {
                            "index": 0,
                            "ok": True,
                            "id": 501,
                            "outcome": "updated",
                            "refused": [
                                {
                                    "field": "total",
                                    "code": "amount_locked_after_payment",
                                }
                            ],
                        },
                        {
                            "index": 1,
                            "ok": False,
                            "error": {
                                "code": "invalid_input",
                                "message": "The order payload is not valid.",
                                "details": {
                                    "fields": {
                                        "currency": "an ISO 4217 code such as CNY"
                                    }
                                },
                            },
                        },
                    ],
                    "ok": 1,
                    "failed": 1,
                },
            ),
        ],
    )
    def post(self, request):
        data = request.data
        orders = data.get("orders") if isinstance(data, Mapping) else None
        if not isinstance(orders, list) or not 1 <= len(orders) <= i.MAX_ORDERS:
            raise ValidationFailed(
                f'Send {{"orders": [...]}} with 1 to {i.MAX_ORDERS} orders.',
                fields={"orders": f"a list of 1 to {i.MAX_ORDERS} orders"},
            )
        shops = self.ctx.organisation.shops.all()
        if self.ctx.shop_ids is not None:
            shops = shops.filter(pk__in=self.ctx.shop_ids)
        by_id = {shop.pk: shop for shop in shops}
        results = [self._one(index, raw, by_id) for index, raw in enumerate(orders)]
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})

    def _one(self, index: int, raw, shops: dict) -> dict:
        try:
            if not isinstance(raw, Mapping):
                raise ValidationFailed("An order must be an object.")
            shop_id = raw.get("shop")
            if isinstance(shop_id, bool) or not isinstance(shop_id, int):
                raise ValidationFailed(
                    "shop (your shop's id) is required.", fields={"shop": "required"}
                )
            shop = shops.get(shop_id)
            if shop is None:  # another organisation's, or outside this key's shops
                raise NotFound("No such shop.", shop=shop_id)
            result = run_item(
                lambda: ingest_order(shop=shop, payload=raw, actor=self.ctx.actor)
            )
            if isinstance(result, OmsError):
                raise result
        except OmsError as exc:
            return {"index": index, "ok": False, "error": exc.as_dict()}
        return {
            "index": index,
            "ok": True,
            "id": result.order.pk,
            "outcome": result.outcome,
            "refused": result.refused,
        }
