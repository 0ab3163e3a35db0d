"""Bulk upsert: ERPs and bridges push up to 500 orders at once, in the unified shape or
as the platform sent them (``format``: a platform code; whole API responses with their
envelopes are accepted, and a list response yields every order in it).

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
from orders.ingest import ingest_order, parse_native
from orders.permissions import Scope
from orders.platforms import platform_codes

UNIFIED = "unified"

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
        summary="Create or update up to 500 orders, unified or as the platform sent them",
        description=(
            "**Formats.** `format` (top level, or on one entry) is `unified` (the "
            "default: the shape below) or a platform code ("
            + ", ".join(f"`{code}`" for code in platform_codes())
            + "): the entries are then that platform's own payloads, either bare (one "
            "order: a TOP `Trade`, an AliExpress order detail, a TikTok Shop order) or "
            "the whole API response with its envelope (TOP "
            '`{"trade_fullinfo_get_response": {"trade": …}}` or '
            '`trades_sold_get_response`, AliExpress `{"…_response": {"target": …}}` / '
            '`{"result": {"target_list": …}}`, TikTok Shop `{"code": 0, '
            '"message", "data": {"orders": [...]}}`). A native entry is the '
            'payload itself with the top-level `shop`, or `{"shop": id, "format": '
            'code, "payload": <native>}`; the shop must be on that platform. A '
            "response holding several orders gives one result each (same `index`, "
            "`position` within the entry). An error envelope (TOP `error_response`, a "
            "TikTok `code` other than 0, AliExpress `success: false`) fails that entry "
            "with `platform_error_response`; an amount without a currency on an order "
            "in another currency fails with `currency_required`. "
            'Example: `{"format": "tiktok", "shop": 12, "orders": '
            '[{"code": 0, "message": "Success", "data": {"orders": '
            "[...]}}]}`.\n\n"
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
        fmt = data.get("format") or UNIFIED
        if fmt not in (UNIFIED, *platform_codes()):
            raise ValidationFailed(
                "format is unified or a platform code.",
                fields={"format": ", ".join((UNIFIED, *platform_codes()))},
            )
        shops = self.ctx.organisation.shops.all()
        if self.ctx.shop_ids is not None:
            shops = shops.filter(pk__in=self.ctx.shop_ids)
        by_id = {shop.pk: shop for shop in shops}
        results = []
        for index, raw in enumerate(orders):
            results += self._entry(index, raw, fmt, data.get("shop"), by_id)
        ok = sum(result["ok"] for result in results)
        return Response({"results": results, "ok": ok, "failed": len(results) - ok})

    def _shop(self, shop_id, shops: dict):
        if isinstance(shop_id, bool) or not isinstance(shop_id, int):
            raise ValidationFailed(
                "shop (your shop's id) is required.", fields={"shop": "required"}
            )
        shop = shops.get(shop_id)
        if shop is None:  # another organisation's, or outside this key's shops
            raise NotFound("No such shop.", shop=shop_id)
        return shop

    def _entry(self, index: int, raw, fmt: str, top_shop, shops: dict) -> list[dict]:
        try:
            if not isinstance(raw, Mapping):
                raise ValidationFailed("An order must be an object.")
            if "payload" in raw and ("format" in raw or fmt != UNIFIED):
                fmt = raw.get("format") or fmt
                shop_id, native = raw.get("shop", top_shop), raw["payload"]
            else:
                shop_id, native = (
                    (raw.get("shop"), None) if fmt == UNIFIED else (top_shop, raw)
                )
            if fmt == UNIFIED:
                return [self._one(index, None, self._shop(shop_id, shops), raw)]
            if fmt not in platform_codes():
                raise ValidationFailed(
                    "format is unified or a platform code.", fields={"format": fmt}
                )
            shop = self._shop(shop_id, shops)
            if shop.platform != fmt:
                raise ValidationFailed(
                    f"Shop {shop.pk} is a {shop.platform} shop, not {fmt}.",
                    fields={"format": fmt, "shop": shop.platform},
                )
            unified = parse_native(shop, native)
        except OmsError as exc:
            return [{"index": index, "ok": False, "error": exc.as_dict()}]
        return [
            self._one(index, position, shop, order)
            for position, order in enumerate(unified)
        ]

    def _one(self, index: int, position, shop, payload) -> dict:
        where = {"index": index}
        if position is not None:
            where["position"] = position
        result = run_item(
            lambda: ingest_order(shop=shop, payload=payload, actor=self.ctx.actor)
        )
        if isinstance(result, OmsError):
            return {**where, "ok": False, "error": result.as_dict()}
        return {
            **where,
            "ok": True,
            "id": result.order.pk,
            "outcome": result.outcome,
            "refused": result.refused,
        }
