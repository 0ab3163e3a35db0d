"""TikTok Shop native parsers: orders, cancellations, returns → the unified shapes (§1).

API answers are ``{"code": 0, "message": "Success", "request_id", "data": {...}}``:
Get Order Detail / Order Search put the orders in ``data.orders``; the return and
cancellation searches in ``data.return_orders`` / ``data.cancellations``. A non-zero
``code`` is an error envelope. Times are Unix seconds.

Each TikTok line item is one unit with its own id. OMS keeps one line per SKU with the
quantity counted, and every unit's id in ``platform_line_ids`` (returns and refunds name
them). A line's amount is what the buyer paid: ``sale_price`` per unit (after the seller's
and the platform's discounts), so the line's discount is ``original_price − sale_price``.
"""

from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from oms.core.errors import CurrencyRequired, PlatformErrorResponse, ValidationFailed
from oms.core.money import parse_amount
from oms.core.phones import split_phone
from oms.core.timeutils import parse_unix
from platforms.tiktok.orders import DEADLINE_FIELDS, SPEC

CODE = "tiktok"
RETURN_KINDS = {
    "REFUND": "refund",
    "RETURN_AND_REFUND": "return",
    "REPLACEMENT": "replacement",
}


def _amount(value: Any) -> Decimal:
    return parse_amount(value or "0")


def _data(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``data`` of a ``{code, message, data}`` envelope; None for a bare object."""
    if "code" not in response or ("data" not in response and "message" not in response):
        return None
    if str(response.get("code")) != "0":
        raise PlatformErrorResponse(
            f"TikTok Shop answered with an error, not data: {response.get('message')}",
            platform=CODE,
            platform_code=str(response.get("code")),
            request_id=str(response.get("request_id") or ""),
        )
    data = response.get("data")
    return data if isinstance(data, Mapping) else {}


def unwrap(response: Any) -> list[Mapping[str, Any]]:
    """A Get Order Detail / Order Search answer or a bare order → its orders."""
    if isinstance(response, list):
        return [o for r in response for o in unwrap(r)]
    if not isinstance(response, Mapping):
        raise ValidationFailed("A TikTok Shop payload must be an object.")
    data = _data(response)
    if data is None:
        if "line_items" in response or "status" in response:
            return [response]
        raise ValidationFailed(
            "Not a TikTok Shop order, nor an order API response.", platform=CODE
        )
    orders = data.get("orders")
    if orders is None and isinstance(data.get("order"), Mapping):
        orders = [data["order"]]
    if not isinstance(orders, list):
        raise ValidationFailed(
            "The TikTok Shop response has no data.orders.", platform=CODE
        )
    return [o for o in orders if isinstance(o, Mapping)]


def parse_order(order: Mapping[str, Any]) -> dict[str, Any]:
    """A Get Order Detail (202309) order → the unified shape."""
    status = SPEC.normalise(str(order["status"]))
    payment = order.get("payment") or {}
    currency = str(payment.get("currency") or "").upper()
    address = order.get("recipient_address") or {}
    districts = {
        d.get("address_level"): d.get("address_name", "")
        for d in address.get("district_info", [])
    }
    grouped: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for index, line in enumerate(order.get("line_items", [])):
        line_currency = str(line.get("currency") or "").upper()
        if line_currency and currency and line_currency != currency:
            raise ValidationFailed(
                f"line_items[{index}] is in {line_currency}, the order in {currency}.",
                fields={f"line_items[{index}].currency": "currency_mismatch"},
            )
        if not currency and line_currency:
            raise CurrencyRequired(
                f"payment.currency is missing; the lines are in {line_currency}.",
                field="payment.currency",
                currency=line_currency,
            )
        original = _amount(line.get("original_price") or line.get("sale_price"))
        if line.get("sale_price") not in (None, ""):
            discount = original - _amount(line.get("sale_price"))
        else:
            discount = _amount(line.get("seller_discount")) + _amount(
                line.get("platform_discount")
            )
        key = str(line.get("sku_id") or line.get("seller_sku") or line.get("id"))
        line_id = str(line.get("id", ""))
        if key in grouped:
            row = grouped[key]
            row["quantity"] += 1
            row["discount"] += discount
            if line_id:
                row["platform_line_ids"].append(line_id)
            continue
        grouped[key] = {
            "line_id": line_id,
            "platform_line_ids": [line_id] if line_id else [],
            "sku": line.get("seller_sku") or str(line.get("sku_id", "")),
            "title": line.get("product_name", ""),
            "spec": line.get("sku_name", ""),
            "quantity": 1,
            "unit_price": original,
            "discount": discount,
            "image_url": line.get("sku_image", ""),
            "native_status": line.get("display_status", ""),
            "refund_status": "",
        }
    items = list(grouped.values())
    items_total = sum(
        (i["unit_price"] * i["quantity"] - i["discount"] for i in items), Decimal(0)
    )
    # The order's own amounts go through as sent: the unified rules judge them.
    shipping, tax, total = (
        payment.get(name) or "0" for name in ("shipping_fee", "tax", "total_amount")
    )
    try:
        residual = items_total + Decimal(str(shipping)) + Decimal(str(tax))
        residual -= Decimal(str(total))
    except ArithmeticError:
        residual = Decimal(0)
    deadlines = {}
    for field, kind in DEADLINE_FIELDS.get(status, ()):
        if order.get(field) and kind not in deadlines:
            deadlines[kind] = parse_unix(order[field], field=field)
    country = address.get("region_code", "")
    country_code, phone = split_phone(address.get("phone_number", ""), country=country)
    return {
        "platform_order_id": str(order["id"]),
        "native_status": status,
        "platform_updated_at": parse_unix(
            order.get("update_time"), field="update_time"
        ),
        "created_at": parse_unix(order.get("create_time"), field="create_time"),
        "paid_at": parse_unix(order.get("paid_time"), field="paid_time"),
        "shipped_at": parse_unix(order.get("rts_time"), field="rts_time"),
        "delivered_at": parse_unix(order.get("delivery_time"), field="delivery_time"),
        "closed_at": parse_unix(order.get("cancel_time"), field="cancel_time"),
        "buyer": {
            "nick": str(order.get("user_id", "")),
            "name": address.get("name", ""),
            "phone": phone,
            "phone_country_code": country_code,
            "email": order.get("buyer_email", ""),
        },
        "address": {
            "country": country,
            "province": districts.get("L1", ""),
            "city": districts.get("L2", ""),
            "district": districts.get("L3", ""),
            "street": address.get("address_detail") or address.get("full_address", ""),
            "postcode": address.get("postal_code", ""),
        },
        "items": items,
        "currency": currency,
        "shipping_fee": shipping,
        # Order-level vouchers not already in the lines' sale prices.
        "discount": max(residual, Decimal(0)),
        "tax": tax,
        "total": total,
        "buyer_message": order.get("buyer_message", ""),
        "seller_memo": order.get("seller_note", ""),
        "cancel_requested": bool(order.get("is_buyer_request_cancel")),
        "deadlines": deadlines,
    }


# --- cancellations and returns --------------------------------------------------------


def _money(value: Any) -> Any:
    """A platform amount: ``"12.50"``, ``12``, or an object holding it."""
    if isinstance(value, Mapping):
        for key in ("refund_total", "amount", "value"):
            if value.get(key) not in (None, ""):
                return value[key]
        return None
    return value


def _next_action_deadline(value: Any) -> Any:
    """``seller_next_action_response``: one object or a list of them."""
    rows = value if isinstance(value, list) else [value]
    deadlines = [
        row.get("deadline")
        for row in rows
        if isinstance(row, Mapping) and row.get("deadline")
    ]
    return parse_unix(min(deadlines), field="deadline") if deadlines else None


def _lines(rows: Any) -> list[dict[str, Any]]:
    """Line items of a cancellation or return: one unit each, named by the unit's id."""
    lines = []
    for row in rows or []:
        if isinstance(row, Mapping):
            lines.append(
                {
                    "line_id": str(
                        row.get("order_line_item_id") or row.get("id") or ""
                    ),
                    "sku": str(row.get("seller_sku") or row.get("sku_id") or ""),
                    "quantity": 1,
                }
            )
    return lines


def parse_cancellation(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A cancellation of ``/return_refund/202309/cancellations/search``."""
    if str(payload.get("cancel_type") or "BUYER_CANCEL") != "BUYER_CANCEL":
        raise ValidationFailed(
            "Only a buyer's cancel request (cancel_type BUYER_CANCEL) is an after-sales "
            "case; seller and system cancellations arrive with the order.",
            fields={"cancel_type": str(payload.get("cancel_type"))},
        )
    return {
        "platform": CODE,
        "platform_order_id": str(payload.get("order_id") or ""),
        "kind": "cancel",
        "platform_case_id": str(payload.get("cancel_id") or ""),
        "status": str(payload.get("cancel_status") or ""),
        "reason": str(
            payload.get("cancel_reason_text") or payload.get("cancel_reason") or ""
        ),
        "amount": _money(payload.get("refund_amount")),
        "lines": _lines(payload.get("cancel_line_items")),
        "has_return": False,
        "due_at": _next_action_deadline(payload.get("seller_next_action_response")),
        "opened_at": parse_unix(payload.get("create_time"), field="create_time"),
        "updated_at": parse_unix(payload.get("update_time"), field="update_time"),
    }


def parse_return(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A return of ``/return_refund/202309/returns/search`` (refund, return, replacement)."""
    return_type = str(payload.get("return_type") or "")
    if return_type not in RETURN_KINDS:
        raise ValidationFailed(
            "return_type must be REFUND, RETURN_AND_REFUND or REPLACEMENT.",
            fields={"return_type": return_type},
        )
    return {
        "platform": CODE,
        "platform_order_id": str(payload.get("order_id") or ""),
        "kind": RETURN_KINDS[return_type],
        "platform_case_id": str(payload.get("return_id") or ""),
        "status": str(payload.get("return_status") or ""),
        "reason": str(
            payload.get("return_reason_text") or payload.get("return_reason") or ""
        ),
        "amount": _money(payload.get("refund_amount")),
        "lines": _lines(payload.get("return_line_items")),
        "has_return": return_type == "RETURN_AND_REFUND",
        "due_at": _next_action_deadline(payload.get("seller_next_action_response")),
        "return_tracking_number": str(payload.get("return_tracking_number") or ""),
        "return_carrier": str(payload.get("return_provider_name") or ""),
        "opened_at": parse_unix(payload.get("create_time"), field="create_time"),
        "updated_at": parse_unix(payload.get("update_time"), field="update_time"),
    }


def arbitration(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The dispute case a return under arbitration stands for (its
    ``arbitration_status``), in the unified shape; None for anything else."""
    if sniff_case(payload) != "tiktok_return":
        return None
    status = str(payload.get("arbitration_status") or "")
    if not status:
        return None
    return_id = str(payload.get("return_id") or "")
    return {
        **({"shop": payload["shop"]} if payload.get("shop") else {}),
        "platform": CODE,
        "platform_order_id": str(payload.get("order_id") or ""),
        "kind": "dispute",
        "platform_case_id": f"{return_id}:arbitration",
        "status": status,
        "reason": f"Arbitration of return {return_id}",
        "amount": _money(payload.get("refund_amount")),
        "updated_at": parse_unix(payload.get("update_time"), field="update_time"),
    }


def unwrap_case(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``{code, data: {return_orders: [one]}}`` → that one; else as it is."""
    data = _data(payload)
    if data is None:
        return payload
    for key in ("return_orders", "cancellations", "returns"):
        rows = data.get(key)
        if isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], Mapping):
            return rows[0]
        if isinstance(rows, list):
            raise ValidationFailed(
                f"Send one case at a time: data.{key} holds {len(rows)}.",
                fields={f"data.{key}": "exactly one"},
            )
    raise ValidationFailed("The TikTok Shop response holds no case.", platform=CODE)


def sniff_case(payload: Mapping[str, Any]) -> str:
    if "cancel_id" in payload:
        return "tiktok_cancellation"
    if "return_id" in payload:
        return "tiktok_return"
    return ""


CASE_PARSERS = {
    "tiktok_cancellation": parse_cancellation,
    "tiktok_return": parse_return,
}
