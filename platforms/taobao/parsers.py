"""Taobao native parsers: TOP trades and refunds → the unified shapes (platforms.md §2).

A TOP API answer is ``{"<method>_response": {...}}`` (``trade_fullinfo_get_response:
{trade}``, ``trades_sold_get_response: {trades: {trade: [...]}}``) or, on failure,
``{"error_response": {code, msg, sub_code, sub_msg}}``; lists are wrapped as
``{"order": [...]}``. Times are Beijing time strings (the zone is a setting:
``orders.platforms.native_timezone``).

Line amounts are what the buyer paid for the line: ``divide_order_fee`` (the line's
``payment`` after the trade's shared discounts were divided over the lines), so a line's
discount is its list amount minus that.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.core.errors import PlatformErrorResponse, ValidationFailed
from oms.core.phones import split_phone
from oms.core.timeutils import parse_local
from orders.platforms import native_timezone
from platforms.taobao.orders import TIMEOUT_KIND  # the machine's own table

CODE = "taobao"
FLAGS = {1: "red", 2: "yellow", 3: "green", 4: "blue", 5: "purple"}
# Sub-order refund_status values that mean nothing is (or is any longer) open.
NO_REFUND = frozenset({"", "NO_REFUND", "CLOSED", "SUCCESS", "SELLER_REFUSE_BUYER"})
# An open sub-order refund: its case kind (a return once goods must go back).
RETURN_REFUND_STATUSES = frozenset(
    {"WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"}
)


def _tz() -> str:
    return native_timezone(CODE)


def _listed(value: Any, key: str) -> list[dict[str, Any]]:
    """TOP wraps lists as {"order": [...]}; accept that or a bare list."""
    if isinstance(value, Mapping):
        value = value.get(key, [])
    if isinstance(value, Mapping):  # a single object where one was expected
        value = [value]
    return list(value or [])


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise ValidationFailed(f"{value!r} is not an amount") from exc


def _check_error(response: Mapping[str, Any]) -> None:
    error = response.get("error_response")
    if isinstance(error, Mapping):
        raise PlatformErrorResponse(
            "Taobao answered with an error, not data: "
            f"{error.get('sub_msg') or error.get('msg') or 'unknown error'}",
            platform=CODE,
            platform_code=str(error.get("code", "")),
            platform_sub_code=str(error.get("sub_code", "")),
        )


def _inner(response: Mapping[str, Any]) -> Mapping[str, Any]:
    """``{"trade_fullinfo_get_response": {...}}`` → its body; anything else as it is."""
    _check_error(response)
    keys = [key for key in response if str(key).endswith("_response")]
    if len(keys) == 1 and isinstance(response[keys[0]], Mapping):
        return response[keys[0]]
    return response


def unwrap(response: Any) -> list[Mapping[str, Any]]:
    """A TOP answer (fullinfo, sold/increment list) or a bare trade → its trades."""
    if isinstance(response, list):
        return [t for r in response for t in unwrap(r)]
    if not isinstance(response, Mapping):
        raise ValidationFailed("A Taobao payload must be an object.")
    body = _inner(response)
    if "trade" in body and isinstance(body["trade"], Mapping):
        return [body["trade"]]
    if "trades" in body:
        return _listed(body["trades"], "trade")
    if "tid" in body:
        return [body]
    if "total_results" in body:  # an empty list answer
        return []
    raise ValidationFailed(
        "Not a Taobao trade, nor a TOP trade response.", platform=CODE
    )


def _line(line: Mapping[str, Any]) -> dict[str, Any]:
    quantity = int(line.get("num", 1))
    price = _decimal(line.get("price"))
    listed = price * quantity
    paid = next(
        (
            line[name]
            for name in ("divide_order_fee", "payment")
            if line.get(name) not in (None, "")
        ),
        None,
    )
    discount = listed - _decimal(paid) if paid is not None else None
    if discount is None:
        discount = _decimal(line.get("discount_fee")) - _decimal(line.get("adjust_fee"))
    return {
        "line_id": str(line.get("oid", "")),
        "sku": line.get("outer_sku_id")
        or line.get("outer_iid")
        or str(line.get("sku_id", "")),
        "title": line.get("title", ""),
        "spec": line.get("sku_properties_name", ""),
        "quantity": quantity,
        "unit_price": str(price),
        "discount": str(max(discount, Decimal(0))),
        "image_url": line.get("pic_path", ""),
        "native_status": line.get("status", ""),
        "refund_status": "" if line.get("refund_status") == "NO_REFUND"
        else line.get("refund_status", ""),
    }  # fmt: skip


def parse_order(trade: Mapping[str, Any]) -> dict[str, Any]:
    """A TOP ``Trade`` (taobao.trade.fullinfo.get) → the unified ingest shape."""
    tz = _tz()
    lines = _listed(trade.get("orders"), "order")
    status = trade["status"]
    deadlines = {}
    timeout = next(
        (o.get("timeout_action_time") for o in lines if o.get("timeout_action_time")),
        None,
    )
    if timeout and status in TIMEOUT_KIND:
        deadlines[TIMEOUT_KIND[status]] = parse_local(
            timeout, tz, field="timeout_action_time"
        )
    items = [_line(line) for line in lines]
    items_total = sum(
        (
            _decimal(i["unit_price"]) * i["quantity"] - _decimal(i["discount"])
            for i in items
        ),
        Decimal(0),
    )
    shipping = _decimal(trade.get("post_fee"))
    total = _decimal(trade.get("payment") or trade.get("total_fee"))
    # What the trade took off beyond what the lines already carry (0 once divided).
    residual = items_total + shipping - total
    country_code, phone = split_phone(
        trade.get("receiver_mobile") or trade.get("receiver_phone", ""), country="CN"
    )
    return {
        "platform_order_id": str(trade["tid"]),
        "native_status": status,
        "platform_updated_at": parse_local(trade.get("modified"), tz, field="modified"),
        "created_at": parse_local(trade.get("created"), tz, field="created"),
        "paid_at": parse_local(trade.get("pay_time"), tz, field="pay_time"),
        "shipped_at": parse_local(trade.get("consign_time"), tz, field="consign_time"),
        "closed_at": parse_local(trade.get("end_time"), tz, field="end_time")
        if status.startswith("TRADE_CLOSED")
        else None,
        "completed_at": parse_local(trade.get("end_time"), tz, field="end_time")
        if status == "TRADE_FINISHED"
        else None,
        "buyer": {
            "nick": trade.get("buyer_nick", ""),
            "name": trade.get("receiver_name", ""),
            "phone": phone,
            "phone_country_code": country_code,
            "email": "",
        },
        "address": {
            "country": "CN",
            "province": trade.get("receiver_state", ""),
            "city": trade.get("receiver_city", ""),
            "district": trade.get("receiver_district", ""),
            "street": " ".join(
                part
                for part in (trade.get("receiver_town"), trade.get("receiver_address"))
                if part
            ),
            "postcode": trade.get("receiver_zip", ""),
        },
        "items": items,
        "currency": "CNY",  # TOP trades are in yuan; TOP has no currency field
        "shipping_fee": str(shipping),
        "discount": str(max(residual, Decimal(0))),
        "total": str(total),
        "buyer_message": trade.get("buyer_message", ""),
        "seller_memo": trade.get("seller_memo", ""),
        "flag": FLAGS.get(int(trade.get("seller_flag") or 0), ""),
        "deadlines": deadlines,
    }


# --- refunds -------------------------------------------------------------------------


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def parse_refund(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Taobao refund (``taobao.refund.get``, TMC refund messages): per sub-order."""
    tz = _tz()
    has_return = bool(_bool(payload.get("has_good_return")))
    oid = str(payload.get("oid") or "")
    return {
        "platform": CODE,
        "platform_order_id": str(payload.get("tid") or ""),
        "kind": "return" if has_return else "refund",
        "platform_case_id": str(payload.get("refund_id") or ""),
        "status": str(payload.get("status") or ""),
        "reason": str(payload.get("reason") or ""),
        "description": str(payload.get("desc") or ""),
        "amount": payload.get("refund_fee"),
        "lines": (
            [{"line_id": oid, "quantity": int(payload.get("num") or 0) or None}]
            if oid
            else []
        ),
        "has_return": has_return,
        "return_tracking_number": str(payload.get("sid") or ""),
        "return_carrier": str(payload.get("company_name") or ""),
        "opened_at": parse_local(payload.get("created"), tz, field="created"),
        "updated_at": parse_local(payload.get("modified"), tz, field="modified"),
    }


def unwrap_case(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``{"refund_get_response": {"refund": {...}}}`` → the refund; else as it is."""
    if "error_response" in payload:
        _check_error(payload)
    body = _inner(payload)
    refund = body.get("refund") if isinstance(body, Mapping) else None
    return refund if isinstance(refund, Mapping) else payload


def sniff_case(payload: Mapping[str, Any]) -> str:
    return "taobao_refund" if "refund_id" in payload and "tid" in payload else ""


CASE_PARSERS = {"taobao_refund": parse_refund}


def line_case(refund_status: str) -> tuple[str, str] | None:
    """A sub-order's ``refund_status`` → the case it stands for (kind, status)."""
    if refund_status in NO_REFUND:
        return None
    kind = "return" if refund_status in RETURN_REFUND_STATUSES else "refund"
    return (kind, refund_status)
