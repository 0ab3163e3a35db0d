"""Seller actions that are not platform status changes: memo and flag, price, address,
hold and release. Each is one function over locked orders, like ``apply_event``:
checked against the actor's organisation, shops and role, refused with a clear error
when the order's state does not allow it, bulk-written, and put on the timeline.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from oms.core.errors import (
    InvalidTransition,
    OmsError,
    ValidationFailed,
    VersionConflict,
)
from oms.core.input import first_text_problem
from oms.core.money import parse_amount
from orders import permissions as p
from orders.choices import EventType, Flag, Stage
from orders.models import Order
from orders.platforms import get_spec

if TYPE_CHECKING:
    from django.db.models import QuerySet

from orders.services import (
    Actor,
    Entry,
    allowed_shops_for,
    apply_event_to_locked,
    check_permission,
    check_scope,
    commit_many,
    lock_order,
)

ADDRESS_FIELDS = ("country", "province", "city", "district", "street", "postcode")
MAX_MEMO = 2000


@dataclass(frozen=True)
class SellerAction:
    permission: str
    event_type: EventType
    # Validates input once for the whole batch; returns the cleaned data.
    clean: Callable[[Mapping[str, Any]], dict[str, Any]]
    # Changes one order in memory; returns (fields written, event data), or raises.
    apply: Callable[[Order, dict[str, Any]], tuple[list[str], dict[str, Any]]]


def _refuse(order: Order, action: str, reason: str, message: str) -> InvalidTransition:
    return InvalidTransition(
        message, status=order.native_status, action=action, reason=reason
    )


# --- memo and flag ------------------------------------------------------------------


def _clean_memo(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "memo" in data:
        memo = str(data["memo"] or "")
        if len(memo) > MAX_MEMO:
            raise ValidationFailed(fields={"memo": f"at most {MAX_MEMO} characters"})
        out["memo"] = memo
    if "flag" in data:
        flag = data["flag"] or ""
        if flag and flag not in Flag.values:
            raise ValidationFailed(fields={"flag": "one of " + ", ".join(Flag.values)})
        out["flag"] = flag
    if not out:
        raise ValidationFailed(
            "Send a memo, a flag, or both.", fields={"memo": "required"}
        )
    return out


def _apply_memo(order: Order, data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    changes = {}
    if "memo" in data and data["memo"] != order.seller_memo:
        changes["memo"] = [order.seller_memo, data["memo"]]
        order.seller_memo = data["memo"]
    if "flag" in data and data["flag"] != order.flag:
        changes["flag"] = [order.flag, data["flag"]]
        order.flag = data["flag"]
    fields = [{"memo": "seller_memo", "flag": "flag"}[name] for name in changes]
    return fields, changes


# --- price --------------------------------------------------------------------------


def _clean_price(data: Mapping[str, Any]) -> dict[str, Any]:
    if data.get("total") in (None, ""):
        raise ValidationFailed(
            fields={"total": "required: the new total, a decimal string"}
        )
    try:
        total = parse_amount(data["total"], field="total", positive=True)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={"total": exc.message}) from exc
    return {"total": total}


def _apply_price(
    order: Order, data: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    if order.stage != Stage.UNPAID:
        raise _refuse(
            order, "adjust_price", "not_unpaid", "Only unpaid orders can be repriced."
        )
    try:  # the order's currency sets the decimals (none for IDR, VND …)
        new = parse_amount(data["total"], field="total", currency=order.currency)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={"total": exc.message}) from exc
    old = order.total
    # The change is a seller discount (negative when the price goes up), as on Taobao.
    order.discount += old - new
    order.total = new
    return ["discount", "total"], {"total": [str(old), str(new)]}


# --- address ------------------------------------------------------------------------


def _clean_address(data: Mapping[str, Any]) -> dict[str, Any]:
    address = data.get("address", data)
    if not isinstance(address, Mapping):
        raise ValidationFailed(fields={"address": "must be an object"})
    out = {
        key: str(address[key] or "").strip() for key in ADDRESS_FIELDS if key in address
    }
    for name in ("name", "phone"):
        if name in data:
            out[name] = str(data[name] or "").strip()
    if not out:
        raise ValidationFailed(fields={"address": "send at least one address field"})
    if "country" in out and len(out["country"]) != 2:
        raise ValidationFailed(
            fields={"address.country": "use the ISO 3166 two-letter code"}
        )
    if "street" in out and not out["street"]:
        raise ValidationFailed(fields={"address.street": "may not be empty"})
    return out


def address_editable(order: Order) -> bool:
    """Before shipment: by the seller (edit address) and by the platform (ingest)."""
    return order.stage in (Stage.UNPAID, Stage.AWAITING_SHIPMENT) and not (
        _shipment_arranged(order)
    )


def _shipment_arranged(order: Order) -> bool:
    spec = get_spec(order.platform)
    shipped_to = {
        t.target for t in spec.transitions if t.action in ("ship", "ship_part")
    }
    return order.native_status in shipped_to or order.shipped_at is not None


def _apply_address(
    order: Order, data: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    if not address_editable(order):
        raise _refuse(
            order,
            "edit_address",
            "already_shipped",
            "The address can change only before shipment.",
        )
    return set_address_fields(order, data)


def set_address_fields(
    order: Order, data: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """Copy cleaned address fields onto the order (unsaved): the columns that changed,
    and ``{field: [before, after]}`` for the timeline."""
    changes, fields = {}, []
    for key, value in data.items():
        column = {"name": "buyer_name", "phone": "buyer_phone"}.get(
            key, f"address_{key}"
        )
        if getattr(order, column) != value:
            changes[key] = [getattr(order, column), value]
            setattr(order, column, value)
            fields.append(column)
    return fields, changes


# --- hold and release ---------------------------------------------------------------


def _clean_reason(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"reason": str(data.get("reason") or "")[:500]}


def _apply_hold(order: Order, data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    if order.on_hold:
        raise _refuse(order, "hold", "already_on_hold", "The order is already on hold.")
    if order.stage not in (Stage.UNPAID, Stage.AWAITING_SHIPMENT):
        raise _refuse(
            order, "hold", "not_open", "Only orders not yet shipped can be held."
        )
    order.on_hold = True
    return ["on_hold"], {"on_hold": [False, True]}


def _apply_release(
    order: Order, data: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    if not order.on_hold:
        raise _refuse(order, "release", "not_on_hold", "The order is not on hold.")
    order.on_hold = False
    return ["on_hold"], {"on_hold": [True, False]}


ACTIONS: dict[str, SellerAction] = {
    "memo": SellerAction(p.MEMO, EventType.MEMO_CHANGED, _clean_memo, _apply_memo),
    "adjust_price": SellerAction(p.ADJUST_PRICE, EventType.PRICE_ADJUSTED, _clean_price, _apply_price),
    "edit_address": SellerAction(p.EDIT_ADDRESS, EventType.ADDRESS_CHANGED, _clean_address, _apply_address),
    "hold": SellerAction(p.HOLD, EventType.HELD, _clean_reason, _apply_hold),
    "release": SellerAction(p.RELEASE, EventType.RELEASED, _clean_reason, _apply_release),
}  # fmt: skip


def perform(
    order: Order | int,
    action: str,
    actor: Actor,
    *,
    expected_version: int | None = None,
    reason: str = "",
    **data: Any,
) -> Order:
    """Perform a seller action on one order; raises the error that refused it."""
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic():
        locked = lock_order(order_id)
        versions = (
            {locked.pk: expected_version} if expected_version is not None else None
        )
        (outcome,) = perform_on_locked(
            [locked], action, actor, versions=versions, reason=reason, data=data
        )
        if isinstance(outcome, OmsError):
            raise outcome
    return locked


def perform_on_locked(
    orders: Sequence[Order],
    action: str,
    actor: Actor,
    *,
    data: Mapping[str, Any],
    reason: str = "",
    versions: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> list[Order | OmsError]:
    """Perform one seller action on many locked orders; per order the result or error.

    Invalid input refuses the whole batch (``ValidationFailed``) before anything changes.
    """
    spec = ACTIONS[action]
    found = first_text_problem({**data, "reason": reason})  # NUL, lone surrogates
    if found is not None:
        raise ValidationFailed(fields={found[0]: found[1]})
    cleaned = spec.clean(
        {**data, "reason": reason} if action in ("hold", "release") else data
    )
    now = now or timezone.now()
    allowed_shops = allowed_shops_for(actor)
    outcomes: list[Order | OmsError] = []
    written: set[str] = set()
    entries: list[tuple[Order, Entry]] = []
    for order in orders:
        try:
            check_scope(order, actor, allowed_shops)
            expected = (versions or {}).get(order.pk)
            if expected is not None and order.version != expected:
                raise VersionConflict(
                    current_version=order.version, your_version=expected
                )
            check_permission(actor, spec.permission, action)
            fields, changes = spec.apply(order, dict(cleaned))
        except OmsError as exc:
            outcomes.append(exc)
            continue
        outcomes.append(order)
        if not fields:
            continue  # nothing to change: no version bump, no event
        written.update(fields)
        entries.append(
            (
                order,
                Entry(
                    spec.event_type,
                    {
                        "action": action,
                        "from_status": order.native_status,
                        "to_status": order.native_status,
                        "reason": reason,
                        "data": {"changes": changes},
                    },
                ),
            )
        )
    commit_many(entries, actor, fields=written, now=now)
    return outcomes


def available(order: Order) -> list[str]:
    """The seller actions the order's state allows now (roles are checked on use)."""
    names = ["memo"]
    if order.stage == Stage.UNPAID:
        names.append("adjust_price")
    if order.stage in (
        Stage.UNPAID,
        Stage.AWAITING_SHIPMENT,
    ) and not _shipment_arranged(order):
        names.append("edit_address")
    if order.on_hold:
        names.append("release")
    elif order.stage in (Stage.UNPAID, Stage.AWAITING_SHIPMENT):
        names.append("hold")
    return names


# --- batches from the dashboard (selected rows, or every order matching a filter) ---

BATCH_ACTIONS = {
    "memo": p.MEMO,
    "flag": p.MEMO,
    "hold": p.HOLD,
    "release": p.RELEASE,
    "cancel": p.CANCEL,
}


def clean_batch(action: str, post: Mapping[str, Any]) -> dict[str, Any]:
    """A dashboard batch's input, checked once before anything runs (``ValidationFailed``):
    ``{"data": …, "reason": …}`` for ``perform_batch_on_locked``."""
    reason = str(post.get("reason") or "")[:500]
    if action in ("memo", "flag"):
        data = {action: post.get(action, "")}
        ACTIONS["memo"].clean(data)
        return {"data": data, "reason": reason}
    return {"data": {}, "reason": reason}


def perform_batch_on_locked(
    orders: Sequence[Order],
    action: str,
    actor: Actor,
    *,
    data: Mapping[str, Any],
    reason: str = "",
) -> list[Order | OmsError]:
    """One batch action (``BATCH_ACTIONS``) on locked orders with one service call:
    per order the changed order or the error that refused it."""
    if action == "cancel":
        return apply_event_to_locked(orders, "cancel", actor, reason=reason)
    try:
        return perform_on_locked(
            orders,
            "memo" if action in ("memo", "flag") else action,
            actor,
            data=data,
            reason=reason,
        )
    except ValidationFailed as exc:
        return [exc] * len(orders)


@dataclass
class BatchRun:
    """A batch's outcome: the orders it locked (in id order) and, for each, the changed
    order or the error that refused it. ``outcomes`` is None when the selection changed
    while locking (``expected_count``): nothing was done."""

    orders: list[Order]
    outcomes: list[Order | OmsError] | None


def run_batch(
    actor: Actor,
    action: str,
    selection: "QuerySet[Order]",
    *,
    data: Mapping[str, Any],
    reason: str = "",
    expected_count: int | None = None,
    invalid_input_refuses_each: bool = True,
) -> BatchRun:
    """One batch action (``BATCH_ACTIONS``) on the selected orders: the one batch
    service that dashboard and API batch views call (they lock nothing themselves).

    The orders are locked ``FOR NO KEY UPDATE`` in id order (two overlapping batches
    never deadlock) in one transaction, and changed with one service call; a refused
    order is left untouched and does not stop the others. With ``expected_count``,
    nothing is done when the selection no longer has that many orders. With
    ``invalid_input_refuses_each`` False, input the action refuses is raised instead of
    reported on every order.
    """
    with transaction.atomic():
        locked = list(
            selection.select_for_update(of=("self",), no_key=True)
            .select_related("shop")
            .order_by("pk")
        )
        if expected_count is not None and len(locked) != expected_count:
            return BatchRun(locked, None)
        if invalid_input_refuses_each:
            outcomes = perform_batch_on_locked(
                locked, action, actor, data=data, reason=reason
            )
        elif action == "cancel":
            outcomes = apply_event_to_locked(locked, "cancel", actor, reason=reason)
        else:
            outcomes = perform_on_locked(
                locked, action, actor, data=data, reason=reason
            )
    return BatchRun(locked, outcomes)
