"""After-sales requests arriving from platforms: native payloads or the unified shape.

The parsers live in the platform packages (``platforms/<code>/parsers.py``, registered
as ``Platform.case_parsers`` with ``sniff_case`` naming the format and ``unwrap_case``
taking a case out of its API response); they are pure functions (a platform's object →
the unified shape, no database):

- TikTok Shop 202309 cancellations (``cancel_id``, ``cancel_status`` …) and returns
  (``return_id``, ``return_type``, ``return_status`` …), platforms.md §1.3;
- Taobao refunds (``refund_id``, ``tid``, ``oid``, ``status``, ``refund_fee`` …), §2.3;
- AliExpress issues (``id``, ``parent_order_id``, ``issue_status`` …), §3.3.

``ingest_case`` then opens the case (``services.open_case``, idempotent by the platform's
case id) or, for a case already known, follows the platform to the status it reports:

1. no status, or the status the case has: ``unchanged``;
2. a payload whose platform update time is older than the case's last status change
   here: ``unchanged`` (stale; a push that overtook a newer one);
3. a transition the platform may take leads there directly (e.g. ``buyer_return``,
   ``withdraw``, Taobao's ``reapply``): it is applied through ``services.act``;
4. a status the case was in before: ``unchanged`` (an older report arriving late);
5. otherwise the shortest chain of the platform's transitions (at most
   ``MAX_STEPS``), when the platform skipped pushes (pending → completed);
6. no way there in the case's machine: nothing moves, and the case's timeline records
   the report once (``platform_status``) for a person to look at.

Where two transitions reach the same status (TikTok's cancel request ends in
``CANCELLATION_REQUEST_CANCEL`` when the seller rejects it *and* when the buyer
withdraws it), the first the platform's table declares is taken: the report alone cannot
tell them apart. Every move is done by a platform actor ("tiktok via <API key>"), so
platform-only transitions are allowed here and nowhere in the seller's API.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import DataError, transaction
from django.db.models import Q
from django.utils import timezone

from aftersales import services
from aftersales.choices import CaseKind, CaseState
from aftersales.machine import CaseSpec, CaseTransition
from aftersales.models import Case, CaseEvent
from aftersales.platforms import get_case_spec
from oms.core.errors import NotFound, OmsError, ValidationFailed
from oms.core.money import parse_amount
from oms.core.timeutils import parse_iso
from orders.choices import ActorKind
from orders.models import Order, Organisation
from orders.platforms import get_platform, platforms
from orders.services import Actor, allowed_shops_for, lock_order

logger = logging.getLogger(__name__)

MAX_STEPS = 4
UNMATCHED = "platform_status"  # the timeline entry for a status with no way there


# --- native → unified (pure; the parsers live in the platform packages) ------------------


def _platform_of(payload: Mapping[str, Any]) -> tuple[Any, str]:
    """The installed platform whose case format ``payload`` is, and that format."""
    for platform in platforms().values():
        if platform.sniff_case is None:
            continue
        fmt = platform.sniff_case(payload)
        if fmt:
            return platform, fmt
    return None, ""


def _unwrapped(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A platform API response around one case (its envelope) → the case object."""
    for platform in platforms().values():
        if platform.unwrap_case is None:
            continue
        inner = platform.unwrap_case(payload)
        if inner is not payload:
            if "shop" in payload and "shop" not in inner:
                inner = {**inner, "shop": payload["shop"]}
            return inner
    return payload


def native_format(payload: Mapping[str, Any]) -> str:
    """Which platform object ``payload`` is, by its own field names ('' for unified)."""
    return _platform_of(payload)[1]


def to_unified(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A native payload (bare or in its API response) in the unified shape; a unified
    one as it is."""
    payload = _unwrapped(payload)
    platform, fmt = _platform_of(payload)
    if not fmt:
        return dict(payload)
    try:
        unified = platform.case_parsers[fmt](payload)
    except OmsError:
        raise
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise ValidationFailed(
            f"Not a valid {fmt} payload.", format=fmt, reason=str(exc)[:200]
        ) from exc
    unified["format"] = fmt
    if "shop" in payload:  # added by the caller to find the order (optional)
        unified["shop"] = payload["shop"]
    return unified


def companion_case(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """A second case the native payload stands for (TikTok Shop: a return under
    arbitration is a dispute too), in the unified shape; None for anything else."""
    payload = _unwrapped(payload)
    platform, _format = _platform_of(payload)
    if platform is None or platform.case_companion is None:
        return None
    return platform.case_companion(payload)


# --- the unified shape -------------------------------------------------------------------


@dataclass
class UnifiedCase:
    """A validated request in the unified shape."""

    kind: str
    platform_case_id: str
    status: str
    order_id: int | None = None
    shop: int | None = None
    platform: str = ""
    platform_order_id: str = ""
    reason: str = ""
    description: str = ""
    amount: Decimal | None = None
    items: list[dict[str, Any]] | None = None  # [{"item": id, "quantity": n}]
    lines: list[dict[str, Any]] | None = None  # [{"line_id", "sku", "quantity"}]
    has_return: bool | None = None
    due_at: datetime | None = None
    opened_at: datetime | None = None  # when the buyer asked (the platform's time)
    updated_at: datetime | None = None  # the platform's last change
    return_tracking_number: str = ""
    return_carrier: str = ""
    format: str = "unified"

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> UnifiedCase:
        errors: dict[str, str] = {}

        def text(name: str, limit: int) -> str:
            value = raw.get(name)
            if value is None:
                return ""
            if not isinstance(value, str | int) or isinstance(value, bool):
                errors[name] = "a string"
                return ""
            value = str(value).strip()
            if len(value) > limit:
                errors[name] = f"at most {limit} characters"
            return value

        def whole(name: str) -> int | None:
            value = raw.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                errors[name] = "a whole number of at least 1"
                return None
            return value

        def when(name: str) -> datetime | None:
            value = raw.get(name)
            if isinstance(value, datetime) or value in (None, ""):
                return value or None
            try:
                return parse_iso(str(value), field=name)
            except ValidationFailed as exc:
                errors[name] = exc.message
                return None

        kind = text("kind", 20)
        if kind not in CaseKind.values:
            errors["kind"] = "one of " + ", ".join(CaseKind.values)
        order_id, shop = whole("order_id"), whole("shop")
        platform_order_id = text("platform_order_id", 64)
        if order_id is None and not platform_order_id and "order_id" not in errors:
            errors["order_id"] = "order_id, or platform_order_id (with shop)"
        amount = None
        if raw.get("amount") not in (None, ""):
            try:  # the order's currency decimals are checked when the case opens
                amount = parse_amount(raw["amount"])
            except ValidationFailed as exc:
                errors["amount"] = exc.message
        items = None
        if raw.get("items") is not None:
            items = _items(raw.get("items"), errors)
        lines = None
        if raw.get("line_ids") is not None or raw.get("lines") is not None:
            lines = _lines(raw, errors)
        has_return = raw.get("has_return")
        if has_return is not None and not isinstance(has_return, bool):
            errors["has_return"] = "true or false"
        platform_case_id = text("platform_case_id", 64)
        if not platform_case_id and "platform_case_id" not in errors:
            # The key of idempotency: without it a repeated push would open a twin.
            errors["platform_case_id"] = "required: the platform's id of the request"
        case = cls(
            kind=kind,
            platform_case_id=platform_case_id,
            status=text("status", 60),
            order_id=order_id,
            shop=shop,
            platform=text("platform", 20),
            platform_order_id=platform_order_id,
            reason=text("reason", 200),
            description=text("description", 5000),
            amount=amount,
            items=items,
            lines=lines,
            has_return=has_return if isinstance(has_return, bool) else None,
            due_at=when("due_at"),
            opened_at=when("opened_at"),
            updated_at=when("updated_at"),
            return_tracking_number=text("return_tracking_number", 64),
            return_carrier=text("return_carrier", 60),
            format=str(raw.get("format") or "unified"),
        )
        if errors:
            raise ValidationFailed(
                "The after-sales payload is not valid.", fields=errors
            )
        return case


def _items(value: Any, errors: dict[str, str]) -> list[dict[str, Any]] | None:
    if not isinstance(value, list) or not value or len(value) > 500:
        errors["items"] = "a list of 1 to 500 {item, quantity}"
        return None
    items = []
    for index, row in enumerate(value):
        item = row.get("item") if isinstance(row, Mapping) else None
        quantity = row.get("quantity", 1) if isinstance(row, Mapping) else None
        if (
            isinstance(item, bool)
            or not isinstance(item, int)
            or isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or item < 1
            or quantity < 1
        ):
            errors[f"items[{index}]"] = "needs item (a line's id) and quantity (≥ 1)"
            continue
        items.append({"item": item, "quantity": quantity})
    return items


def _lines(raw: Mapping[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    """``line_ids`` (the platform's line ids, a unit each unless repeated) or ``lines``
    (``[{"line_id", "sku", "quantity"}]``, from the native parsers)."""
    if raw.get("line_ids") is not None:
        value = raw.get("line_ids")
        if not isinstance(value, list) or not value or len(value) > 500:
            errors["line_ids"] = "a list of 1 to 500 line ids"
            return []
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
            errors["line_ids"] = "line ids are strings"
            return []
        return [{"line_id": str(v), "sku": "", "quantity": 1} for v in value]
    value = raw.get("lines")
    if not isinstance(value, list) or len(value) > 500:
        errors["lines"] = "a list of at most 500 lines"
        return []
    lines = []
    for index, row in enumerate(value):
        quantity = row.get("quantity") if isinstance(row, Mapping) else 0
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1
        ):
            errors[f"lines[{index}]"] = "needs line_id or sku, and quantity (≥ 1)"
            continue
        lines.append(
            {
                "line_id": str(row.get("line_id") or ""),
                "sku": str(row.get("sku") or ""),
                "quantity": quantity,
            }
        )
    return lines


# --- into the database -------------------------------------------------------------------


@dataclass
class CaseIngestResult:
    case: Case
    outcome: str  # created, updated or unchanged
    note: str = ""  # why an existing case did not move
    # A TikTok Shop return under arbitration: its dispute case, ingested with it.
    arbitration: CaseIngestResult | None = None


def ingest_case(
    organisation: Organisation,
    payload: Mapping[str, Any],
    actor: Actor,
    *,
    now: datetime | None = None,
) -> CaseIngestResult:
    """Open or update the case a platform reports, for ``actor``'s organisation.

    ``payload`` is a native object (TikTok cancellation or return, Taobao refund,
    AliExpress issue, optionally with ``shop``) or the unified shape. The order is
    looked up within the organisation and the shops ``actor`` may reach (another
    organisation's is ``not_found``). One transaction: nothing changes on an error.
    """
    if not isinstance(payload, Mapping):
        raise ValidationFailed("An after-sales payload must be an object.")
    now = now or timezone.now()
    result = _ingest(organisation, payload, actor, now)
    arbitration = companion_case(payload)
    if arbitration is not None:
        result.arbitration = _ingest(organisation, arbitration, actor, now)
    return result


def _ingest(
    organisation: Organisation,
    payload: Mapping[str, Any],
    actor: Actor,
    now: datetime,
) -> CaseIngestResult:
    data = UnifiedCase.parse(to_unified(payload))
    order = _find_order(organisation, data, actor)
    spec = get_case_spec(order.platform, data.kind)
    status = spec.normalise(data.status) if data.status else ""
    platform = Actor(ActorKind.PLATFORM, f"{order.platform} via {actor.label}"[:100])
    try:
        with transaction.atomic():
            lock_order(order.pk)  # the order first, then its cases, as services do
            existing, adopted = _existing(order, data)
            if existing is None:
                case, created = _open(order, spec, data, status, platform, now)
                if created:
                    return CaseIngestResult(case, "created")
                existing = case
            result = _follow(existing, spec, data, status, platform, now)
            if adopted and result.outcome == "unchanged":
                result.outcome, result.note = "updated", "took the platform's case id"
            return result
    except DataError as exc:  # a value longer than its column, and the like
        raise ValidationFailed(
            "A value does not fit (too long or out of range).",
            reason=str(exc).splitlines()[0][:200],
        ) from exc


def _find_order(organisation: Organisation, data: UnifiedCase, actor: Actor) -> Order:
    orders = Order.objects.filter(organisation=organisation)
    shops = allowed_shops_for(actor)
    if shops is not None:
        orders = orders.filter(shop_id__in=shops)
    if data.order_id is not None:
        orders = orders.filter(pk=data.order_id)
        missing = NotFound("No such order.", order_id=data.order_id)
    else:
        if data.shop is not None:
            if not organisation.shops.filter(pk=data.shop).exists() or (
                shops is not None and data.shop not in shops
            ):
                raise NotFound("No such shop.", shop=data.shop)
            orders = orders.filter(shop_id=data.shop)
        elif data.platform:
            orders = orders.filter(platform=data.platform)
        else:
            raise ValidationFailed(
                "Name the order: order_id, or shop and platform_order_id.",
                fields={"shop": "required with platform_order_id"},
            )
        orders = orders.filter(platform_order_id=data.platform_order_id)
        missing = NotFound("No such order.", platform_order_id=data.platform_order_id)
    found = list(orders.select_related("shop")[:2])
    if not found:
        raise missing
    if len(found) > 1:
        raise ValidationFailed(
            "Several of your shops have an order with this id: add shop.",
            fields={"shop": "required"},
        )
    order = found[0]
    if data.platform and data.platform != order.platform:
        raise ValidationFailed(
            f"A {data.platform} payload for a {order.platform} order.",
            fields={"platform": data.platform},
        )
    return order


def _existing(order: Order, data: UnifiedCase) -> tuple[Case | None, bool]:
    """The case this report is about: by the platform's id; else the open case of that
    kind that OMS opened on its own from the order's status (AliExpress IN_CANCEL,
    TikTok's buyer cancel flag), which then takes the platform's id (adopted: True)."""
    if not data.platform_case_id:
        return None, False
    case = Case.objects.filter(
        shop_id=order.shop_id, kind=data.kind, platform_case_id=data.platform_case_id
    ).first()
    if case is not None:
        return case, False
    orphan = (
        Case.objects.select_for_update()
        .filter(order=order, kind=data.kind, state=CaseState.OPEN, platform_case_id="")
        .order_by("id")
        .first()
    )
    if orphan is None:
        return None, False
    orphan.platform_case_id = data.platform_case_id
    orphan.save(update_fields=["platform_case_id", "updated_at"])
    return orphan, True


def _open(
    order: Order,
    spec: CaseSpec,
    data: UnifiedCase,
    status: str,
    actor: Actor,
    now: datetime,
) -> tuple[Case, bool]:
    """Open the case; one first seen closed is opened where the platform opens it and
    then follows the platform there (so its effects on the order happen once).

    It opens at the platform's time of the request when the payload has it, so the
    policy deadline runs from when the buyer asked, not from when OMS heard of it."""
    opening = status if status and spec.status(status).is_open else spec.initial
    opened_at = min(data.opened_at or data.updated_at or now, now)
    case, created = services.open_case(
        order,
        data.kind,
        actor,
        platform_case_id=data.platform_case_id,
        status=opening,
        reason=data.reason,
        description=data.description,
        has_return=data.has_return,
        amount=data.amount,
        items=_case_items(order, data),
        due_at=data.due_at if opening == (status or opening) else None,
        return_carrier=data.return_carrier,
        return_tracking_number=data.return_tracking_number,
        now=opened_at,
    )
    if created and status and status != opening:
        path = platform_path(spec, opening, status, has_return=case.has_return)
        if path is None:
            raise ValidationFailed(
                f"A new case cannot start as {status}.", fields={"status": status}
            )
        _apply(case, path, data, actor, now)
        case.refresh_from_db()
    return case, created


def _case_items(order: Order, data: UnifiedCase) -> list[dict[str, Any]] | None:
    """``items`` as they are, or the platform's line ids (and SKUs) → the order's lines."""
    if data.items is not None:
        return data.items
    if not data.lines:
        return None
    lines = list(order.items.all())
    by_line = {line.line_id: line for line in lines if line.line_id}
    for line in lines:  # every unit's id (TikTok reports one line item per unit)
        by_line.update((str(i), line) for i in line.platform_line_ids or ())
    by_sku = {line.sku: line for line in lines if line.sku}
    quantities: dict[int, int] = {}
    unknown = []
    for row in data.lines:
        line = by_line.get(str(row.get("line_id") or "")) or by_sku.get(
            str(row.get("sku") or "")
        )
        if line is None:
            unknown.append(str(row.get("line_id") or row.get("sku") or "?"))
            continue
        quantity = row.get("quantity")
        if quantity is None:  # the whole line (Taobao oid, AliExpress child order)
            quantities[line.pk] = line.quantity
        else:
            quantities[line.pk] = quantities.get(line.pk, 0) + int(quantity)
    if unknown:
        raise ValidationFailed(
            "Some lines are not lines of this order.", fields={"line_ids": unknown}
        )
    return [{"item": pk, "quantity": qty} for pk, qty in quantities.items()]


def platform_path(
    spec: CaseSpec, source: str, target: str, *, has_return: bool
) -> list[CaseTransition] | None:
    """The shortest chain of transitions the platform may take from ``source`` to
    ``target`` (None: no way within ``MAX_STEPS``). Pure."""
    if source == target:
        return []
    queue: deque[tuple[str, list[CaseTransition]]] = deque([(source, [])])
    seen = {source}
    while queue:
        code, path = queue.popleft()
        if len(path) >= MAX_STEPS:
            continue
        for transition in spec.transitions_from(code):
            if (
                ActorKind.PLATFORM not in transition.actors
                or transition.extends_due
                or transition.target in seen
                or (
                    transition.with_return is not None
                    and transition.with_return != has_return
                )
            ):
                continue
            step = [*path, transition]
            if transition.target == target:
                return step
            seen.add(transition.target)
            queue.append((transition.target, step))
    return None


def _follow(
    case: Case,
    spec: CaseSpec,
    data: UnifiedCase,
    status: str,
    actor: Actor,
    now: datetime,
) -> CaseIngestResult:
    """Move a known case to the status the platform reports (see the module's rules)."""
    current = case.native_status
    if not status or status == current:
        return CaseIngestResult(case, "unchanged")
    if data.updated_at is not None and data.updated_at < case.status_changed_at:
        return CaseIngestResult(
            case, "unchanged", "stale: older than the case's status"
        )
    direct = platform_path(spec, current, status, has_return=case.has_return)
    if direct is not None and len(direct) == 1:
        _apply(case, direct, data, actor, now)
        return CaseIngestResult(_reload(case), "updated")
    visited = CaseEvent.objects.filter(case=case).filter(
        Q(from_status=status) | Q(to_status=status)
    )
    if visited.exists():
        return CaseIngestResult(
            case, "unchanged", f"stale: the case was {status} before"
        )
    if direct is not None:
        _apply(case, direct, data, actor, now)
        return CaseIngestResult(_reload(case), "updated")
    _record_unmatched(case, status, actor, now)
    return CaseIngestResult(
        case, "unchanged", f"no transition from {current} to {status}: recorded"
    )


def _apply(
    case: Case,
    path: Sequence[CaseTransition],
    data: UnifiedCase,
    actor: Actor,
    now: datetime,
) -> None:
    # The platform's time of the change, so the next deadline runs from it.
    when = max(min(data.updated_at or now, now), case.status_changed_at)
    for transition in path:
        services.act(
            case.pk,
            transition.action,
            actor,
            # The payload's reason is the buyer's; the move is the platform's report.
            reason=f"Reported by the platform: {transition.target}",
            amount=data.amount,
            return_carrier=data.return_carrier,
            return_tracking_number=data.return_tracking_number,
            now=when,
        )


def _record_unmatched(case: Case, status: str, actor: Actor, now: datetime) -> None:
    """Note, once per status, that the platform reports a status the machine cannot
    reach from where the case is; the case itself does not move."""
    with transaction.atomic():
        order = lock_order(case.order_id)
        case = Case.objects.select_for_update().get(pk=case.pk)
        if CaseEvent.objects.filter(
            case=case, action=UNMATCHED, data__reported=status,
            created_at__gte=case.status_changed_at,
        ).exists():  # fmt: skip
            return
        services._log(  # the one writer of both timelines
            case,
            order,
            UNMATCHED,
            actor,
            now,
            from_status=case.native_status,
            reason=f"The platform reports {status}; no transition leads there.",
            data={"reported": status},
        )


def _reload(case: Case) -> Case:
    case.refresh_from_db()
    return case


# --- cases a platform reports on one line of an order -------------------------------


def on_lines_reported(order: Order, actor: Actor, when: datetime) -> None:
    """``orders.ingest.AFTER_INGEST``: a refund or dispute an order payload reports on
    one of its lines (Taobao sub-order ``refund_status``, an AliExpress child order in
    ``IN_ISSUE``) opens its case on that line only, unless one is open there already.
    Which line status means which case is the platform's (``Platform.line_case``).

    Runs before the order-wide hook, so an AliExpress IN_ISSUE order whose dispute sits
    on one child order gets the dispute on that child, not on every line."""
    line_case = get_platform(order.platform).line_case
    if line_case is None:
        return
    wanted = []
    for item in order.items.all():
        found = line_case(item.refund_status) if item.refund_status else None
        if found is not None:
            wanted.append((item, *found))
    if not wanted:
        return
    open_on = {
        (kind, item_id)
        for kind, item_id in Case.objects.filter(
            order=order, state=CaseState.OPEN
        ).values_list("kind", "items__order_item_id")
    }
    platform = Actor.platform(order.platform)
    for item, kind, status in wanted:
        if (kind, item.pk) in open_on or (kind, None) in open_on:
            continue  # already open on this line (or on the whole order)
        spec = get_case_spec(order.platform, kind)
        try:
            code = spec.normalise(status) if status else ""
        except ValidationFailed:
            code = ""
        if code and not spec.status(code).is_open:
            code = ""
        try:
            with transaction.atomic():
                services.open_case(
                    order,
                    kind,
                    platform,
                    status=code,
                    items=[{"item": item.pk, "quantity": item.quantity}],
                    now=when,
                )
        except OmsError:
            logger.warning(
                "no %s case for line %s of order %s",
                kind,
                item.pk,
                order.pk,
                exc_info=True,
            )
        open_on.add((kind, item.pk))
