"""AliExpress native parsers: order details and issues → the unified shapes (§3).

API answers come wrapped: ``{"aliexpress_trade_new_redefining_findorderbyid_response":
{"target": {order}}}``, ``{"aliexpress_solution_order_info_get_response": {"result":
{"data": {order}, "success": true}}}``, list answers ``{"result": {"target_list":
{"order_dto": [...]}, "total_page": n}}``; an error is ``{"error_response": {...}}`` or
a ``result`` with ``success: false`` / ``error_code``. Money is ``{amount,
currency_code}`` (or ``cent`` + ``cent_factor``): an order whose ``order_amount`` states no
currency is refused (``currency_required``), never taken for the shop's default; its other
amounts are in the order's currency unless they say otherwise (then refused). Order times are US Pacific
strings by default (a setting: ``orders.platforms.native_timezone``).

A line's amount is what the buyer paid for it: ``product_price × product_count`` less the
child order's discounts (``child_order_discount_info`` or the sum of
``child_order_discount_detail_list``) and its price adjustment
(``child_order_adjust_amount``).
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from oms.core.errors import CurrencyRequired, PlatformErrorResponse, ValidationFailed
from oms.core.phones import split_phone
from oms.core.timeutils import parse_local
from orders.platforms import native_timezone
from platforms.aliexpress.orders import NORMAL_END_REASONS, TIMEOUT_KIND

CODE = "aliexpress"
# Child-order issue states with no dispute open on the line.
NO_ISSUE = frozenset({"", "NO_ISSUE", "END_ISSUE"})
# List-level issue states that say nothing about where the issue stands.
VAGUE = {"processing"}


def _tz() -> str:
    return native_timezone(CODE)


def _listed(value: Any) -> list[Any]:
    """``[...]`` or ``{"global_aeop_tp_child_order_dto": [...]}`` → the list."""
    if isinstance(value, Mapping):
        value = next(iter(value.values()), [])
    if isinstance(value, Mapping):
        value = [value]
    return list(value or [])


def money(value: Any, field: str) -> tuple[Decimal, str]:
    """A money object (or bare amount) → (amount, currency code or '')."""
    if value in (None, ""):
        return (Decimal(0), "")
    if not isinstance(value, Mapping):
        return (Decimal(str(value)), "")
    currency = str(value.get("currency_code") or value.get("currency") or "").upper()
    if value.get("amount") not in (None, ""):
        return (Decimal(str(value["amount"])), currency)
    if value.get("cent") not in (None, ""):
        # cent / cent_factor, exactly: the factor is a power of ten (100 for USD).
        factor = str(int(value.get("cent_factor") or 100))
        if factor.strip("0") != "1":
            raise ValidationFailed(
                f"cent_factor {factor!r} is not a power of ten", field=field
            )
        return (Decimal(int(value["cent"])).scaleb(-(len(factor) - 1)), currency)
    return (Decimal(0), currency)


class _Money:
    """Reads the amounts of one order, held to its currency: an amount that states no
    currency is in the order's (the order's own ``order_amount`` must state it), one
    in another currency is refused."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, value: Any, field: str) -> Decimal:
        amount, currency = money(value, field)
        if currency and currency != self.currency:
            raise ValidationFailed(
                f"{field} is in {currency}, the order in {self.currency}.",
                fields={field: "currency_mismatch"},
            )
        return amount


def _error(response: Mapping[str, Any]) -> None:
    error = response.get("error_response")
    if isinstance(error, Mapping):
        raise PlatformErrorResponse(
            "AliExpress answered with an error, not data: "
            f"{error.get('msg') or error.get('sub_msg') or error.get('code')}",
            platform=CODE,
            platform_code=str(error.get("code", "")),
        )


def unwrap(response: Any) -> list[Mapping[str, Any]]:
    """An AliExpress API answer (detail or list) or a bare order → its orders."""
    if isinstance(response, list):
        return [o for r in response for o in unwrap(r)]
    if not isinstance(response, Mapping):
        raise ValidationFailed("An AliExpress payload must be an object.")
    _error(response)
    body: Any = response
    keys = [key for key in body if str(key).endswith("_response")]
    if len(keys) == 1 and isinstance(body[keys[0]], Mapping):
        body = body[keys[0]]
    if isinstance(body.get("result"), Mapping):
        body = body["result"]
        if body.get("success") in (False, "false") or body.get("error_code"):
            raise PlatformErrorResponse(
                "AliExpress answered with an error, not data: "
                f"{body.get('error_message') or body.get('error_msg') or body.get('error_code')}",
                platform=CODE,
                platform_code=str(body.get("error_code", "")),
            )
    if isinstance(body.get("target"), Mapping):
        return [body["target"]]
    if isinstance(body.get("data"), Mapping) and "order_status" in body["data"]:
        return [body["data"]]
    if "target_list" in body:
        return [o for o in _listed(body["target_list"]) if isinstance(o, Mapping)]
    if "order_status" in body:
        return [body]
    raise ValidationFailed(
        "Not an AliExpress order, nor an AliExpress order response.", platform=CODE
    )


def _variation(child: Mapping[str, Any]) -> str:
    """``product_attributes`` is JSON: {"sku": [{"pName": "Color", "pValue": "Red"}, …]}."""
    try:
        attributes = json.loads(child.get("product_attributes") or "{}").get("sku", [])
        text = ", ".join(
            f"{a.get('pName')}: {a.get('selfDefineValue') or a.get('pValue')}"
            for a in attributes
        )
    except (TypeError, ValueError, AttributeError):
        text = ""
    return text or child.get("product_attributes_text", "")


def _line(child: Mapping[str, Any], read: _Money, index: int) -> dict[str, Any]:
    at = f"child_order_list[{index}]"
    price = read(child.get("product_price"), f"{at}.product_price")
    if child.get("child_order_discount_info") not in (None, ""):
        discount = read(
            child["child_order_discount_info"], f"{at}.child_order_discount_info"
        )
    else:
        discount = sum(
            (
                read(
                    row.get("discount_detail"), f"{at}.child_order_discount_detail_list"
                )
                for row in _listed(child.get("child_order_discount_detail_list"))
                if isinstance(row, Mapping)
            ),
            Decimal(0),
        )
    discount += read(
        child.get("child_order_adjust_amount"), f"{at}.child_order_adjust_amount"
    )
    issue = str(child.get("issue_status") or "")
    return {
        "line_id": str(child.get("child_order_id", "")),
        "sku": child.get("sku_code") or str(child.get("product_id", "")),
        "title": child.get("product_name", ""),
        "spec": _variation(child),
        "quantity": int(child.get("product_count", 1)),
        "unit_price": str(price),
        "discount": str(discount),
        "image_url": child.get("product_snap_url", ""),
        "native_status": child.get("order_status", ""),
        "refund_status": "" if issue in NO_ISSUE else issue,
    }


def parse_order(order: Mapping[str, Any]) -> dict[str, Any]:
    """An order detail (findorderbyid / solution.order.info.get) → the unified shape."""
    tz = _tz()
    status = order["order_status"]
    address = order.get("receipt_address") or {}
    buyer = order.get("buyer_info") or {}
    _, currency = money(order.get("order_amount"), "order_amount")
    if not currency:
        raise CurrencyRequired(
            "order_amount has no currency_code: the order's currency is unknown.",
            field="order_amount",
        )
    read = _Money(currency)
    total = read(order.get("order_amount"), "order_amount")
    shipping = read(order.get("logistics_amount"), "logistics_amount")
    deadlines = {}
    if order.get("over_time_left") and status in TIMEOUT_KIND:
        deadlines[TIMEOUT_KIND[status]] = parse_local(
            order["over_time_left"], tz, field="over_time_left"
        )
    items = [
        _line(child, read, index)
        for index, child in enumerate(_listed(order.get("child_order_list")))
    ]
    items_total = sum(
        (
            Decimal(i["unit_price"]) * i["quantity"] - Decimal(i["discount"])
            for i in items
        ),
        Decimal(0),
    )
    name = " ".join(
        part for part in (buyer.get("first_name"), buyer.get("last_name")) if part
    )
    country = address.get("country") or buyer.get("country", "")
    country_code, phone = split_phone(
        address.get("mobile_no") or address.get("phone_number", ""),
        country=country,
        country_code=address.get("phone_country", ""),
    )
    end_time = parse_local(order.get("gmt_trade_end"), tz, field="gmt_trade_end")
    end_reason = order.get("order_end_reason", "") or ""
    return {
        "platform_order_id": str(order["id"]),
        "native_status": status,
        "end_reason": end_reason,
        "platform_updated_at": parse_local(
            order.get("gmt_modified"), tz, field="gmt_modified"
        ),
        "created_at": parse_local(order.get("gmt_create"), tz, field="gmt_create"),
        "paid_at": parse_local(
            order.get("gmt_pay_success"), tz, field="gmt_pay_success"
        ),
        "shipped_at": parse_local(
            order.get("gmt_send_goods"), tz, field="gmt_send_goods"
        ),
        "completed_at": end_time
        if status in ("FUND_PROCESSING", "FINISH") and end_reason in NORMAL_END_REASONS
        else None,
        "closed_at": end_time
        if status == "FINISH" and end_reason not in NORMAL_END_REASONS
        else None,
        "buyer": {
            "nick": order.get("buyerloginid") or buyer.get("login_id", ""),
            "name": address.get("contact_person") or name,
            "phone": phone,
            "phone_country_code": country_code,
            "email": "",
        },
        "address": {
            "country": country,
            "province": address.get("province", ""),
            "city": address.get("city", ""),
            "district": "",
            "street": " ".join(
                part
                for part in (address.get("detail_address"), address.get("address2"))
                if part
            ),
            "postcode": address.get("zip", ""),
        },
        "items": items,
        "currency": currency,
        "shipping_fee": str(shipping),
        # What the order took off beyond the lines' own discounts.
        "discount": str(max(items_total + shipping - total, Decimal(0))),
        "total": str(total),
        "buyer_message": order.get("memo", ""),
        "deadlines": deadlines,
    }


# --- issues (disputes) --------------------------------------------------------------


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _case_money(value: Any) -> Any:
    if isinstance(value, Mapping):
        for key in ("amount", "value"):
            if value.get(key) not in (None, ""):
                return value[key]
        if value.get("cent") not in (None, ""):
            return str(Decimal(str(value["cent"])) / 100)
        return None
    return value


def parse_issue(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An AliExpress issue (dispute) of the issue API."""
    tz = _tz()
    status = str(payload.get("issue_status") or "")
    child = str(payload.get("order_id") or "")
    return {
        "platform": CODE,
        "platform_order_id": str(payload.get("parent_order_id") or ""),
        "kind": "dispute",
        "platform_case_id": str(payload.get("id") or ""),
        "status": "" if status in VAGUE else status,
        "reason": str(
            payload.get("reason_english") or payload.get("reason_chinese") or ""
        ),
        "amount": _case_money(payload.get("limit_refund_amount")),
        "lines": [{"line_id": child, "quantity": None}] if child else [],
        "has_return": _bool(payload.get("has_return"))
        or status in ("WAIT_BUYER_SEND_GOODS", "WAIT_SELLER_RECEIVE_GOODS"),
        "opened_at": parse_local(payload.get("gmt_create"), tz, field="gmt_create"),
        "updated_at": parse_local(
            payload.get("gmt_modified"), tz, field="gmt_modified"
        ),
    }


def unwrap_case(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``{"…_response": {"result": {"data": {issue}}}}`` → the issue; else as it is."""
    _error(payload)
    body: Any = payload
    keys = [key for key in body if str(key).endswith("_response")]
    if len(keys) == 1 and isinstance(body[keys[0]], Mapping):
        body = body[keys[0]]
    for key in ("result", "data", "target"):
        if isinstance(body, Mapping) and isinstance(body.get(key), Mapping):
            body = body[key]
    return body if sniff_case(body) else payload


def sniff_case(payload: Mapping[str, Any]) -> str:
    return (
        "aliexpress_issue"
        if "issue_status" in payload and "parent_order_id" in payload
        else ""
    )


CASE_PARSERS = {"aliexpress_issue": parse_issue}


def line_case(issue_status: str) -> tuple[str, str] | None:
    """A child order in IN_ISSUE has a dispute open on it."""
    return ("dispute", "") if issue_status == "IN_ISSUE" else None
