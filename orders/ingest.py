"""Ingest: orders arriving from platforms, as native payloads or in the unified shape.

Idempotent by ``(shop, platform_order_id)``: the same payload twice changes nothing the
second time, and an older payload (earlier platform update time) never moves an order
backwards. A newer status is applied through the machine when a transition leads there
directly; when the platform skipped steps the order still follows the platform (it is
the source of truth) and the timeline gets a correction event.

What an observation of a known order may change follows the platform's own rules, never
a seller's: amounts, currency and item prices/quantities only while the order is unpaid
(the price is fixed once the buyer paid), the address and recipient only before shipment
(platforms let buyers change it until the parcel is arranged). Any other change is
refused field by field (``IngestResult.refused``: field and machine code) while the rest
of the observation still applies; the timeline event lists the refused fields.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from oms.core.errors import OmsError, UnknownNativeStatus, ValidationFailed
from oms.core.money import parse_amount
from oms.core.phones import COUNTRY_CODE, normalise_country_code
from oms.core.timeutils import parse_iso
from orders.choices import Channel, DeadlineKind, EventType, Flag, Stage
from orders.machine import RESUME, PlatformSpec, direct_transition, path_exists
from orders.models import Order, OrderItem, Shop
from orders.platforms import get_platform, get_spec
from orders.services import (
    Actor,
    Entry,
    commit,
    enter_status,
)

MAX_ITEMS = 500

# Unified field → Order column, for the plain fields copied as they come.
BUYER_FIELDS = {
    "nick": "buyer_nick",
    "name": "buyer_name",
    "phone": "buyer_phone",
    "email": "buyer_email",
}
ADDRESS_FIELDS = {
    "country": "address_country", "province": "address_province", "city": "address_city",
    "district": "address_district", "street": "address_street", "postcode": "address_postcode",
}  # fmt: skip
TIME_FIELDS = ("paid_at", "shipped_at", "delivered_at", "completed_at", "closed_at")
AMOUNT_FIELDS = ("shipping_fee", "discount", "tax", "total")
ITEM_FIELDS = ("sku", "title", "spec", "quantity", "unit_price", "discount", "image_url",
               "native_status", "refund_status", "platform_line_ids")  # fmt: skip

# What the platform fixes at a stage (see the module docstring), with the refusal codes.
AMOUNT_LOCKED = "amount_locked_after_payment"
ADDRESS_LOCKED = "address_locked_after_shipment"
PRICE_COLUMNS = ("currency", *AMOUNT_FIELDS, "items_total")
ITEM_PRICE_FIELDS = ("quantity", "unit_price", "discount")
RECIPIENT_COLUMNS = (
    *ADDRESS_FIELDS.values(), "buyer_name", "buyer_phone", "buyer_phone_country_code",
)  # fmt: skip


@dataclass
class UnifiedOrder:
    """A validated order in the unified shape (the field names of the REST API)."""

    platform_order_id: str
    native_status: str
    platform_updated_at: datetime
    created_at: datetime
    columns: dict[str, Any]  # Order columns taken as they come
    times: dict[str, datetime]  # paid_at … closed_at, where given
    items: list[dict[str, Any]]
    deadlines: dict[str, str]  # kind → ISO time
    end_reason: str = ""
    channel: str | None = None
    cancel_requested: bool | None = None

    @classmethod
    def parse(cls, payload: Mapping[str, Any], spec: PlatformSpec) -> "UnifiedOrder":
        errors: dict[str, str] = {}

        def grab(name: str, parse: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return parse(*args, **kwargs)
            except OmsError as exc:
                errors[name] = exc.message
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
            return None

        order_id = str(payload.get("platform_order_id") or "").strip()
        if not order_id or len(order_id) > 64:
            errors["platform_order_id"] = "required, at most 64 characters"
        status = str(payload.get("native_status") or "")
        try:
            status = spec.normalise(status)
        except UnknownNativeStatus as exc:
            errors["native_status"] = exc.message
        updated = grab(
            "platform_updated_at",
            parse_iso,
            payload.get("platform_updated_at"),
            field="platform_updated_at",
        )
        created = grab(
            "created_at", parse_iso, payload.get("created_at"), field="created_at"
        )
        for name, value in (("platform_updated_at", updated), ("created_at", created)):
            if value is None and name not in errors:
                errors[name] = "required"
        times = {}
        for name in TIME_FIELDS:
            value = grab(name, parse_iso, payload.get(name), field=name)
            if value is not None:
                times[name] = value
        columns: dict[str, Any] = {}
        for group, mapping in (("buyer", BUYER_FIELDS), ("address", ADDRESS_FIELDS)):
            block = payload.get(group) or {}
            if not isinstance(block, Mapping):
                errors[group] = "must be an object"
                continue
            for key, column in mapping.items():
                columns[column] = str(block.get(key) or "").strip()
            if group == "buyer":
                # The country calling code apart from the number ("+86"); the number
                # is kept as sent, masked or not.
                code = normalise_country_code(block.get("phone_country_code"))
                if code and not COUNTRY_CODE.match(code):
                    errors["buyer.phone_country_code"] = "a calling code such as +86"
                columns["buyer_phone_country_code"] = code
        if len(columns.get("address_country", "")) > 2:
            errors["address.country"] = "use the ISO 3166 two-letter code"
        currency = str(payload.get("currency") or "").upper()
        if not currency:
            # Never the shop's default: an amount in an unknown currency is refused.
            errors["currency"] = (
                "currency_required: the ISO 4217 code of the amounts, such as CNY"
            )
        elif len(currency) != 3 or not currency.isalpha():
            errors["currency"] = "an ISO 4217 code such as CNY"
        columns["currency"] = currency
        money = currency if "currency" not in errors else None  # its decimals
        for name in AMOUNT_FIELDS:
            columns[name] = grab(
                name, parse_amount, payload.get(name), field=name, currency=money
            )
        for name in ("buyer_message", "seller_memo"):
            if name in payload:
                columns[name] = str(payload.get(name) or "")
        if "flag" in payload:
            flag = payload.get("flag") or ""
            if flag and flag not in Flag.values:
                errors["flag"] = "one of " + ", ".join(Flag.values)
            columns["flag"] = flag
        channel = payload.get("channel")
        if channel is not None and channel not in Channel.values:
            errors["channel"] = "one of " + ", ".join(Channel.values)
        items = []
        raw_items = payload.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            errors["items"] = "at least one item"
        elif len(raw_items) > MAX_ITEMS:
            errors["items"] = f"at most {MAX_ITEMS} items"
        else:
            for index, raw in enumerate(raw_items):
                item = grab(f"items[{index}]", _parse_item, raw, money)
                if item is not None:
                    items.append(item)
        deadlines = {}
        raw_deadlines = payload.get("deadlines") or {}
        if not isinstance(raw_deadlines, Mapping):
            errors["deadlines"] = "must be an object"
        else:
            for kind, value in raw_deadlines.items():
                if kind not in DeadlineKind.values:
                    errors[f"deadlines.{kind}"] = "unknown deadline kind"
                    continue
                when = grab(
                    f"deadlines.{kind}", parse_iso, value, field=f"deadlines.{kind}"
                )
                if when is not None:
                    deadlines[kind] = when.isoformat()
        if errors:
            raise ValidationFailed("The order payload is not valid.", fields=errors)
        columns["items_total"] = sum(
            (
                item["unit_price"] * item["quantity"] - item["discount"]
                for item in items
            ),
            Decimal(0),
        )
        if payload.get("total") in (None, ""):
            columns["total"] = (
                columns["items_total"]
                + columns["shipping_fee"]
                - columns["discount"]
                + columns["tax"]
            )
        for name in ("items_total", "total"):  # computed ones follow the same rules
            grab(name, parse_amount, columns[name], field=name, currency=money)
        if errors:
            raise ValidationFailed("The order payload is not valid.", fields=errors)
        cancel = payload.get("cancel_requested")
        return cls(
            platform_order_id=order_id,
            native_status=status,
            platform_updated_at=updated,
            created_at=created,
            columns=columns,
            times=times,
            items=items,
            deadlines=deadlines,
            end_reason=str(payload.get("end_reason") or ""),
            channel=channel,
            cancel_requested=None if cancel is None else bool(cancel),
        )


def _parse_item(raw: Any, currency: str | None = None) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed("must be an object")
    title = str(raw.get("title") or "").strip()
    if not title:
        raise ValidationFailed("title is required")
    quantity = raw.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValidationFailed("quantity must be a whole number of at least 1")
    line_ids = raw.get("platform_line_ids")
    if line_ids is None:
        line_ids = [raw["line_id"]] if raw.get("line_id") else []
    if not isinstance(line_ids, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in line_ids
    ):
        raise ValidationFailed("platform_line_ids must be a list of line ids")
    line_ids = [str(v)[:64] for v in line_ids]
    if len(line_ids) > quantity:
        raise ValidationFailed("more platform_line_ids than units (quantity)")
    return {
        "line_id": str(raw.get("line_id") or (line_ids[0] if line_ids else "")),
        "platform_line_ids": line_ids,
        "sku": str(raw.get("sku") or ""),
        "title": title[:500],
        "spec": str(raw.get("spec") or "")[:300],
        "quantity": quantity,
        "unit_price": parse_amount(
            raw.get("unit_price"), field="unit_price", currency=currency
        ),
        "discount": parse_amount(
            raw.get("discount"), field="discount", currency=currency
        ),
        "image_url": str(raw.get("image_url") or ""),
        "native_status": str(raw.get("native_status") or ""),
        "refund_status": str(raw.get("refund_status") or ""),
    }


@dataclass
class IngestResult:
    order: Order
    outcome: str  # "created", "updated", "unchanged" or "stale"
    event_ids: list[int] = field(default_factory=list)
    # Changes the platform may not make at the order's stage: [{"field", "code"}].
    refused: list[dict[str, str]] = field(default_factory=list)


def parse_native(shop: Shop, payload: Any) -> list[dict[str, Any]]:
    """What a platform's API answers (a whole response with its envelope, a list
    response, or one bare order) → the orders in it, in the unified shape.

    An error envelope is ``platform_error_response``; a payload that is not this
    platform's shape is ``invalid_input``. Pure: nothing is written."""
    platform = get_platform(shop.platform)
    if platform.parse_order is None:
        raise ValidationFailed(
            f"{platform.label} has no native order parser.", platform=platform.code
        )
    try:
        natives = platform.unwrap(payload) if platform.unwrap is not None else [payload]
        return [platform.parse_order(native) for native in natives]
    except OmsError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise ValidationFailed(
            f"Not a valid {platform.label} order payload: {exc!r}",
            platform=platform.code,
        ) from exc


def ingest_native(
    *, shop: Shop, payload: Any, channel: str | None = None
) -> IngestResult:
    """Ingest one order as the platform sends it (its own field names, with or without
    the API response's envelope). A response holding several orders is refused here:
    take them apart with :func:`parse_native` and ingest each (the bulk-upsert API
    does)."""
    unified = parse_native(shop, payload)
    if len(unified) != 1:
        raise ValidationFailed(
            f"Expected one order, the payload holds {len(unified)}.",
            fields={"orders": f"{len(unified)} orders"},
        )
    if channel is not None:
        unified[0]["channel"] = channel
    return ingest_order(shop=shop, payload=unified[0])


def ingest_order(
    *, shop: Shop, payload: Mapping[str, Any], actor: Actor | None = None
) -> IngestResult:
    """Create or update one order of ``shop`` from a payload in the unified shape."""
    spec = get_spec(shop.platform)
    if payload.get("shop") not in (None, shop.pk):
        raise ValidationFailed(
            "The payload names another shop.", fields={"shop": "mismatch"}
        )
    data = UnifiedOrder.parse(payload, spec)
    actor = actor or Actor.platform(spec.code)
    with transaction.atomic():
        order = _locked(shop, data.platform_order_id)
        if order is None:
            try:
                with transaction.atomic():
                    return _create(shop, spec, data, actor)
            except IntegrityError:
                # Another worker created it a moment ago: update that one instead.
                order = _locked(shop, data.platform_order_id)
                if order is None:
                    raise
        return _update(order, spec, data, actor)


def _locked(shop: Shop, platform_order_id: str) -> Order | None:
    return (
        Order.objects.select_for_update(of=("self",), no_key=True)
        .select_related("shop")
        .filter(shop=shop, platform_order_id=platform_order_id)
        .first()
    )


def _create(
    shop: Shop, spec: PlatformSpec, data: UnifiedOrder, actor: Actor
) -> IngestResult:
    when = data.platform_updated_at
    order = Order(
        organisation_id=shop.organisation_id,
        shop=shop,
        platform=spec.code,
        platform_order_id=data.platform_order_id,
        native_status=data.native_status,
        end_reason=data.end_reason,
        created_at=data.created_at,
        status_changed_at=when,
        platform_updated_at=when,
        platform_deadlines=data.deadlines,
        channel=data.channel or Channel.OTHER,
        **data.columns,
        **data.times,
    )
    if data.cancel_requested is not None:
        order.cancel_requested = data.cancel_requested
    # The stage, overlays and any missing stage times follow from the status.
    order.native_status = _interrupted_status(spec, data)
    enter_status(order, spec, data.native_status, data.end_reason, when)
    if order.stage not in (Stage.UNPAID, Stage.CLOSED) or data.times.get("paid_at"):
        order.paid_amount = order.total
    order.save()
    OrderItem.objects.bulk_create(
        [OrderItem(order=order, **item) for item in data.items]
    )
    (event,) = commit(
        order,
        actor,
        fields=[],
        now=when,
        deadlines=True,
        bump_version=False,  # a new order starts at version 1
        events=[
            Entry(
                EventType.CREATED,
                {"to_status": order.native_status, "data": {"stage": order.stage}},
            )
        ],
    )
    for hook in AFTER_INGEST:
        hook(order, actor, when)
    return IngestResult(order, "created", [event.pk])


# Called inside the transaction with the order locked and saved, after a created or
# changed order: (order, actor, when). After-sales opens the case a platform status
# implies (AliExpress IN_CANCEL / IN_ISSUE, TikTok's buyer cancel request).
AFTER_INGEST: list[Callable[[Order, Actor, datetime], None]] = []


def _interrupted_status(spec: PlatformSpec, data: UnifiedOrder) -> str:
    """For an order first seen in an interruption (AliExpress IN_ISSUE, IN_FROZEN …),
    the status it most likely interrupted, judged by the times the platform sent; for
    any other status, that status itself. It is where the order returns afterwards.
    """
    if not any(t.target == RESUME for t in spec.transitions_from(data.native_status)):
        return data.native_status
    times = data.times
    implied = (
        Stage.COMPLETED if "completed_at" in times
        else Stage.SHIPPED if "shipped_at" in times or "delivered_at" in times
        else Stage.AWAITING_SHIPMENT
    )  # fmt: skip
    into = {
        source
        for transition in spec.transitions
        if transition.target == data.native_status
        for source in transition.sources
    }
    sources = [code for code in spec.codes if code in into]  # life-cycle order
    matching = [source for source in sources if spec.status(source).stage == implied]
    return (matching or sources or [data.native_status])[-1]


def _update(
    order: Order, spec: PlatformSpec, data: UnifiedOrder, actor: Actor
) -> IngestResult:
    if (
        order.platform_updated_at
        and data.platform_updated_at <= order.platform_updated_at
    ):
        outcome = (
            "stale"
            if data.platform_updated_at < order.platform_updated_at
            else "unchanged"
        )
        return IngestResult(order, outcome)
    when = data.platform_updated_at
    refused = _refuse_locked(order, data)
    changed = _apply_fields(order, data)
    changed += _apply_items(order, data)
    if data.deadlines != (order.platform_deadlines or {}):
        order.platform_deadlines = data.deadlines
        changed.append("deadlines")
    if (
        data.cancel_requested is not None
        and "cancel_requested" not in spec.managed_overlays
    ) and order.cancel_requested != data.cancel_requested:
        order.cancel_requested = data.cancel_requested
        changed.append("cancel_requested")

    event_type, action, from_status = EventType.SYNCED, "", order.native_status
    observed = data.native_status
    if observed != order.native_status:
        current = spec.status(order.native_status)
        transition = direct_transition(spec, order, observed)
        if transition is not None:
            event_type, action = EventType.STATUS_CHANGED, transition.action
            enter_status(
                order, spec, observed, data.end_reason or transition.end_reason, when
            )
        elif current.terminal:
            # E.g. paid on the platform after the pay deadline closed it here: never
            # reopen silently; record the conflict for a person to resolve.
            event_type = EventType.STATUS_CONFLICT
        elif path_exists(spec, observed, order.native_status):
            pass  # the platform has not caught up with a change made here yet
        else:
            event_type = EventType.STATUS_CORRECTED
            enter_status(order, spec, observed, data.end_reason, when)

    order.platform_updated_at = when
    if not changed and event_type == EventType.SYNCED:
        Order.objects.filter(pk=order.pk).update(platform_updated_at=when)
        return IngestResult(order, "unchanged", refused=refused)
    event_data: dict[str, Any] = {"changed": changed, "stage": order.stage}
    if event_type == EventType.STATUS_CONFLICT:
        event_data["platform_status"] = observed
    if refused:
        event_data["refused"] = refused
    moved = event_type in (EventType.STATUS_CHANGED, EventType.STATUS_CORRECTED)
    (event,) = commit(
        order,
        actor,
        now=when,
        deadlines=True,
        transition=(action or "status_corrected") if moved else None,
        events=[
            Entry(
                event_type,
                {
                    "action": action,
                    "from_status": from_status,
                    "to_status": order.native_status
                    if event_type != EventType.STATUS_CONFLICT
                    else observed,
                    "reason": "platform skipped steps"
                    if event_type == EventType.STATUS_CORRECTED
                    else "",
                    "data": event_data,
                },
            )
        ],
    )
    for hook in AFTER_INGEST:
        hook(order, actor, when)
    return IngestResult(order, "updated", [event.pk], refused)


def _refuse_locked(order: Order, data: UnifiedOrder) -> list[dict[str, str]]:
    """Drop from ``data`` what the platform may not change at the order's stage (the
    stored values stay); returns the refused fields with their codes."""
    from orders.actions import address_editable  # actions imports services, as we do

    refused: list[dict[str, str]] = []
    names = {column: key for key, column in ADDRESS_FIELDS.items()}
    names.update({"buyer_name": "buyer.name", "buyer_phone": "buyer.phone"})
    locked: list[tuple[str, str]] = []
    if order.stage != Stage.UNPAID or order.paid_at is not None:
        locked += [(column, AMOUNT_LOCKED) for column in PRICE_COLUMNS]
    if not address_editable(order):
        locked += [(column, ADDRESS_LOCKED) for column in RECIPIENT_COLUMNS]
    for column, code in locked:
        if column in data.columns and data.columns[column] != getattr(order, column):
            del data.columns[column]
            if column != "items_total":  # derived from the items, reported there
                name = names.get(column, column)
                if column in ADDRESS_FIELDS.values():
                    name = f"address.{name}"
                refused.append({"field": name, "code": code})
        else:
            data.columns.pop(column, None)
    if order.stage != Stage.UNPAID or order.paid_at is not None:
        existing = {(item.line_id or item.sku): item for item in order.items.all()}
        kept = []
        for index, raw in enumerate(data.items):
            item = existing.get(raw["line_id"] or raw["sku"])
            if item is None:  # a line added after payment would change the amount
                refused.append({"field": f"items[{index}]", "code": AMOUNT_LOCKED})
                continue
            for name in ITEM_PRICE_FIELDS:
                if raw[name] != getattr(item, name):
                    refused.append(
                        {"field": f"items[{index}].{name}", "code": AMOUNT_LOCKED}
                    )
                    raw[name] = getattr(item, name)
            kept.append(raw)
        data.items = kept
    return refused


def _apply_fields(order: Order, data: UnifiedOrder) -> list[str]:
    changed = []
    for name, value in {**data.columns, **data.times}.items():
        if getattr(order, name) != value:
            changed.append(name)
            setattr(order, name, value)
    if data.channel is not None and order.channel != data.channel:
        order.channel = data.channel
        changed.append("channel")
    return changed


def _apply_items(order: Order, data: UnifiedOrder) -> list[str]:
    """Refresh known lines (by platform line id, else SKU) and add new ones."""
    existing = list(order.items.all())
    by_key = {(item.line_id or item.sku): item for item in existing}
    to_update, to_create = [], []
    for raw in data.items:
        item = by_key.get(raw["line_id"] or raw["sku"])
        if item is None:
            to_create.append(OrderItem(order=order, **raw))
            continue
        if any(getattr(item, name) != raw[name] for name in ITEM_FIELDS):
            for name in ITEM_FIELDS:
                setattr(item, name, raw[name])
            to_update.append(item)
    if to_create:
        OrderItem.objects.bulk_create(to_create)
    if to_update:
        OrderItem.objects.bulk_update(to_update, list(ITEM_FIELDS))
    return ["items"] if to_create or to_update else []
