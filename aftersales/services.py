"""After-sales services: the one door for opening and deciding cases (PRODUCT.md A1–A3).

``open_case`` records a request that arrived from a platform (ingest, sandbox); ``act``
applies one action of the case's machine (approve, reject, agree, refuse, confirm the
returned goods, respond to a dispute …) for a person, an API client, the platform or the
``aftersales`` job. Each runs in one transaction with the order locked first, then the
case, and:

- moves the case as its platform's machine says, and sets its next deadline;
- carries out the effect on the order through the order's own machine (``approve_cancel``,
  ``reject_cancel``, ``close_refunded`` when every paid amount is refunded, the
  AliExpress dispute's ``close_dispute`` / ``refund_by_dispute``);
- keeps the order's overlays in step with its open cases (``cancel_requested``,
  ``refund_open``, ``in_dispute``, where the platform's statuses do not already say) and
  re-plans the order's deadlines, so auto-confirm waits while a refund is open;
- writes the change on the case's timeline and the order's;
- writes the ``aftersales.opened`` / ``aftersales.resolved`` webhooks to the outbox (sent after commit).

Invariants kept here: a closed order has no open case; a refund never takes the refunded
total over the paid amount; a cancel is approved only while the order's machine allows
``approve_cancel`` (never once shipped).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from aftersales.choices import REFUND_KINDS, CaseKind, CaseState, Outcome
from aftersales.models import Case, CaseEvent, CaseItem
from aftersales.platforms import case_specs, get_case_spec, order_action_on_full_refund
from oms.core.errors import (
    InvalidTransition,
    NotFound,
    OmsError,
    ValidationFailed,
    VersionConflict,
)
from oms.core.input import first_text_problem
from oms.core.money import parse_amount
from orders import effects
from orders.choices import ActorKind, EventType, Stage
from orders.machine import (
    ACCEPT_PROPOSAL,
    APPROVE,
    CANCEL_ORDER,
    END_DISPUTE,
    KEEP_ORDER,
    REFUND,
    REJECT,
    WITHDRAW,
    CaseSpec,
    CaseTransition,
    allowed_actions,
    deadlines_for,
)
from orders.models import Order, OrderItem
from orders.platforms import get_spec
from orders.services import (
    Actor,
    Entry,
    allowed_shops_for,
    apply_event_to_locked,
    check_permission,
    check_scope,
    commit,
    lock_order,
    policy_for,
)

logger = logging.getLogger(__name__)

JOB = "aftersales"
# Cases whose own action is moving the order right now: the order hook leaves them be.
_ACTING_ON: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "aftersales_acting_on", default=frozenset()
)
CENT = Decimal("0.01")
# Kinds whose amount is money going back to the buyer (reserved while open).
MONEY_KINDS = frozenset({*REFUND_KINDS, CaseKind.CANCEL, CaseKind.DISPUTE}) - {
    CaseKind.REPLACEMENT
}
# Stages an order can have an after-sales request of each kind in.
OPENABLE_STAGES = {
    CaseKind.CANCEL: {Stage.AWAITING_SHIPMENT},
    CaseKind.REFUND: {Stage.AWAITING_SHIPMENT, Stage.SHIPPED, Stage.DELIVERED,
                      Stage.COMPLETED},
    CaseKind.RETURN: {Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED},
    CaseKind.REPLACEMENT: {Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED},
    CaseKind.DISPUTE: {Stage.AWAITING_SHIPMENT, Stage.SHIPPED, Stage.DELIVERED,
                       Stage.COMPLETED},
}  # fmt: skip


def system_actor() -> Actor:
    return Actor.system(JOB)


# --- reading ------------------------------------------------------------------------


def cases_for(actor: Actor):
    """The cases an actor may see: its organisation's, and only its shops' if limited."""
    cases = Case.objects.filter(organisation_id=actor.organisation_id)
    shops = allowed_shops_for(actor)
    if shops is not None:
        cases = cases.filter(shop_id__in=shops)
    return cases


def get_case(actor: Actor, case_id: int) -> Case:
    try:
        return cases_for(actor).select_related("order", "shop").get(pk=case_id)
    except (Case.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such after-sales case.", case_id=case_id) from None


def spec_of(case: Case) -> CaseSpec:
    return get_case_spec(case.platform, case.kind)


def actions_for(case: Case, actor_kind: str = ActorKind.MEMBER) -> list[str]:
    """What a seller (by default) may do on the case now."""
    spec = spec_of(case)
    if not case.is_open and spec.status(case.native_status).is_open:
        return []  # closed with its order
    return spec.actions_from(
        case.native_status, ActorKind(actor_kind), has_return=case.has_return
    )


@dataclass
class Money:
    paid: Decimal
    refunded: Decimal  # by closed and open cases
    reserved: Decimal  # asked for by open cases, not refunded yet

    @property
    def refundable(self) -> Decimal:
        return max(self.paid - self.refunded, Decimal(0))

    @property
    def requestable(self) -> Decimal:
        return max(self.paid - self.refunded - self.reserved, Decimal(0))


def money_of(order: Order, *, exclude: Case | None = None) -> Money:
    """Paid, refunded and reserved amounts of an order (one aggregate query)."""
    cases = Case.objects.filter(order=order)
    if exclude is not None and exclude.pk:
        cases = cases.exclude(pk=exclude.pk)
    totals = cases.aggregate(
        refunded=Sum("refunded_amount"),
        reserved=Sum(
            "amount", filter=Q(state=CaseState.OPEN, kind__in=list(MONEY_KINDS))
        ),
    )
    return Money(
        paid=paid_amount(order),
        refunded=totals["refunded"] or Decimal(0),
        reserved=totals["reserved"] or Decimal(0),
    )


def paid_amount(order: Order) -> Decimal:
    if order.paid_amount and order.paid_amount > 0:
        return order.paid_amount
    return order.total if order.paid_at else Decimal(0)


# --- opening ------------------------------------------------------------------------


def open_case(
    order: Order | int,
    kind: str,
    actor: Actor,
    *,
    platform_case_id: str = "",
    status: str = "",
    reason: str = "",
    description: str = "",
    evidence: Sequence[Any] = (),
    has_return: bool | None = None,
    amount: Decimal | str | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
    due_at: datetime | None = None,
    return_carrier: str = "",
    return_tracking_number: str = "",
    now: datetime | None = None,
) -> tuple[Case, bool]:
    """Record a buyer's request from the platform; returns ``(case, created)``.

    With ``platform_case_id``, a case already known is not opened twice: the same push
    again returns it unchanged (``created`` False). ``items`` are
    ``[{"item": <order item id>, "quantity": n}]``; without them the request covers every
    line in full. ``due_at`` is the platform's own deadline for the seller (it wins over
    the policy). Refused, with nothing changed, when the order cannot have such a case
    (unpaid or closed, a cancel after shipment, a second open cancel request) or the
    amount is more than what is left to refund.
    """
    now = now or timezone.now()
    kind = CaseKind(kind) if kind in CaseKind.values else kind
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic():
        order = lock_order(order_id)
        check_scope(order, actor, allowed_shops_for(actor))
        spec = get_case_spec(order.platform, kind)
        if platform_case_id:
            existing = Case.objects.filter(
                shop_id=order.shop_id, kind=kind, platform_case_id=platform_case_id
            ).first()
            if existing is not None:
                return existing, False
        code = spec.normalise(status or spec.initial)
        target = spec.status(code)
        if not target.is_open:
            raise ValidationFailed("A new case must be open.", fields={"status": code})
        _check_openable(order, kind)
        lines = _lines(order, kind, items)
        money = money_of(order)
        if amount in (None, ""):
            value = (
                money.requestable
                if kind == CaseKind.CANCEL
                else sum((line[2] for line in lines), Decimal(0))
            )
            value = min(value, money.requestable) if kind in MONEY_KINDS else value
        else:
            value = _amount(amount, order.currency, "amount")
        if kind in MONEY_KINDS and value > money.requestable:
            raise ValidationFailed(
                "The amount is more than what is left to refund on this order.",
                fields={"amount": str(value)},
                refundable=str(money.requestable),
            )
        case = Case(
            organisation_id=order.organisation_id,
            shop_id=order.shop_id,
            order=order,
            platform=order.platform,
            kind=kind,
            platform_case_id=platform_case_id,
            native_status=code,
            reason=reason[:200],
            description=description,
            evidence=list(evidence),
            has_return=(kind == CaseKind.RETURN) if has_return is None else has_return,
            currency=order.currency,
            amount=value.quantize(CENT),
            return_carrier=return_carrier,
            return_tracking_number=return_tracking_number,
            opened_at=now,
            status_changed_at=now,
        )
        _enter(case, spec, code, now, order=order, platform_due=due_at)
        case.save()
        CaseItem.objects.bulk_create(
            [
                CaseItem(case=case, order_item=item, quantity=quantity, amount=amt)
                for item, quantity, amt in lines
            ]
        )
        if spec.order_action_on_open:
            _order_action(order, spec.order_action_on_open, actor, now, optional=True)
        _log(case, order, "open", actor, now, from_status="", reason=reason,
             data={"amount": str(case.amount)})  # fmt: skip
        _publish_after_commit(case, "aftersales.opened")
    return case, True


def _check_openable(order: Order, kind: str) -> None:
    if order.stage not in OPENABLE_STAGES[kind]:
        raise InvalidTransition(
            f"An order that is {order.stage} cannot have a {kind} request.",
            stage=order.stage,
            kind=kind,
        )
    if kind == CaseKind.CANCEL and order.shipped_at is not None:
        # (TikTok: PARTIALLY_SHIPPING → AWAITING_COLLECTION is back to "awaiting
        # shipment" with goods on their way.)
        raise InvalidTransition(
            "Part of the order has shipped: it can no longer be cancelled.", kind=kind
        )
    if (
        kind == CaseKind.CANCEL
        and Case.objects.filter(
            order=order, kind=CaseKind.CANCEL, state=CaseState.OPEN
        ).exists()
    ):
        raise InvalidTransition(
            "The order already has an open cancel request.", kind=kind
        )


def _lines(
    order: Order, kind: str, items: Sequence[Mapping[str, Any]] | None
) -> list[tuple[OrderItem, int, Decimal]]:
    """(order item, quantity, amount) of each line the request covers, checked against
    what other open or refunded cases already claim."""
    order_items = {item.pk: item for item in order.items.all()}
    claimed: dict[int, int] = {}
    for row in (
        CaseItem.objects.filter(order_item__order=order)
        .filter(Q(case__state=CaseState.OPEN) | Q(case__refunded_amount__gt=0))
        .exclude(case__kind=CaseKind.REPLACEMENT)
        .values("order_item_id")
        .annotate(quantity=Sum("quantity"))
    ):
        claimed[row["order_item_id"]] = row["quantity"]
    wanted: list[tuple[int, int]] = []
    if items is None:
        wanted = [
            (pk, item.quantity - claimed.get(pk, 0))
            for pk, item in order_items.items()
            if item.quantity - claimed.get(pk, 0) > 0
        ]
    else:
        errors = {}
        for index, row in enumerate(items):
            try:
                pk, quantity = int(row["item"]), int(row.get("quantity", 1))
            except (KeyError, TypeError, ValueError):
                errors[f"items[{index}]"] = "needs item (id) and quantity"
                continue
            item = order_items.get(pk)
            if item is None:
                errors[f"items[{index}].item"] = "not a line of this order"
            elif quantity < 1:
                errors[f"items[{index}].quantity"] = "at least 1"
            elif (
                kind != CaseKind.REPLACEMENT
                and quantity > item.quantity - claimed.get(pk, 0)
            ):
                errors[f"items[{index}].quantity"] = (
                    f"at most {item.quantity - claimed.get(pk, 0)} left"
                )
            else:
                wanted.append((pk, quantity))
        if errors:
            raise ValidationFailed(fields=errors)
        if not wanted:
            raise ValidationFailed(fields={"items": "at least one line"})
    lines = []
    for pk, quantity in wanted:
        item = order_items[pk]
        share = (item.discount * quantity / item.quantity) if item.quantity else 0
        amount = (item.unit_price * quantity - share).quantize(CENT)
        lines.append((item, quantity, max(amount, Decimal(0))))
    return lines


# --- acting -------------------------------------------------------------------------


def act(
    case: Case | int,
    action: str,
    actor: Actor,
    *,
    reason: str = "",
    expected_version: int | None = None,
    proposal: Mapping[str, Any] | None = None,
    evidence: Iterable[Any] = (),
    return_carrier: str = "",
    return_tracking_number: str = "",
    amount: Decimal | str | None = None,
    now: datetime | None = None,
) -> Case:
    """Apply ``action`` to a case (one transaction; nothing changes on any error).

    ``reason`` is required where the platform asks for one (rejections, refusals, a
    dispute answer). ``proposal`` is the seller's counter-offer in a dispute
    (``{"amount": "12.50", "return": true, "note": "…"}``); ``evidence`` are file URLs
    or ``{"name", "url"}`` objects. ``amount`` lets the platform report what it
    actually refunded.
    """
    found = first_text_problem(  # NUL, lone surrogates: never stored
        {"reason": reason, "proposal": proposal or {}, "evidence": list(evidence),
         "return_carrier": return_carrier,
         "return_tracking_number": return_tracking_number}
    )  # fmt: skip
    if found is not None:
        raise ValidationFailed(fields={found[0]: found[1]})
    now = now or timezone.now()
    case_id = case.pk if isinstance(case, Case) else case
    order_id = (
        Case.objects.filter(pk=case_id).values_list("order_id", flat=True).first()
    )
    if order_id is None:
        raise NotFound("No such after-sales case.", case_id=case_id)
    with transaction.atomic():
        order = lock_order(order_id)
        locked = Case.objects.select_for_update().get(pk=case_id)
        try:
            check_scope(order, actor, allowed_shops_for(actor))
        except NotFound:
            raise NotFound("No such after-sales case.", case_id=case_id) from None
        if expected_version is not None and locked.version != expected_version:
            raise VersionConflict(
                current_version=locked.version, your_version=expected_version
            )
        _act_locked(
            order,
            locked,
            action,
            actor,
            now,
            reason=reason,
            proposal=proposal,
            evidence=list(evidence),
            return_carrier=return_carrier,
            return_tracking_number=return_tracking_number,
            amount=amount,
        )
    return locked


def _act_locked(
    order: Order,
    case: Case,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    reason: str = "",
    proposal: Mapping[str, Any] | None = None,
    evidence: list[Any] | None = None,
    return_carrier: str = "",
    return_tracking_number: str = "",
    amount: Decimal | str | None = None,
) -> None:
    spec = spec_of(case)
    transition = spec.plan(
        case.native_status, action, actor.kind, has_return=case.has_return
    )
    # A case closed with its order keeps its last platform status: it is over all the
    # same. Only the platform may still report how it ended; nothing reopens a case on
    # a closed order (invariant above).
    closed_with_order = not case.is_open and spec.status(case.native_status).is_open
    if (closed_with_order and actor.kind != ActorKind.PLATFORM) or (
        (closed_with_order or order.stage == Stage.CLOSED)
        and spec.status(transition.target).is_open
    ):
        raise InvalidTransition(
            "The case is closed: its order is closed.",
            action=action,
            status=case.native_status,
        )
    check_permission(actor, transition.permission, action)
    reason = (reason or "").strip()
    if transition.needs_reason and not reason:
        raise ValidationFailed(
            "Give a reason: the platform shows it to the buyer.",
            fields={"reason": "required"},
        )
    if len(reason) > 500:
        raise ValidationFailed(fields={"reason": "at most 500 characters"})
    data: dict[str, Any] = {}
    if proposal:
        clean = _clean_proposal(proposal, case)
        case.proposal = clean
        data["proposal"] = clean
    if evidence:
        files = _clean_evidence(evidence)
        case.seller_evidence = [*case.seller_evidence, *files]
        data["evidence"] = files
    if return_tracking_number:
        case.return_tracking_number = return_tracking_number[:64]
        case.return_carrier = (return_carrier or case.return_carrier)[:60]
        data["return_tracking_number"] = case.return_tracking_number
    if reason and actor.kind in (ActorKind.MEMBER, ActorKind.API_CLIENT):
        case.seller_reason = reason
    from_status = case.native_status
    if transition.extends_due:
        if case.due_extended or case.due_at is None:
            raise InvalidTransition(
                "The deadline was already extended once.", action=action
            )
        window = policy_for(order.shop, get_spec(order.platform))[
            spec.status(case.native_status).due.policy
        ]
        case.due_at += window
        case.due_extended = True
        data["due_at"] = case.due_at.isoformat()
    elif transition.target != case.native_status:
        _enter(
            case, spec, transition.target, now, order=order, outcome=transition.outcome
        )
    token = _ACTING_ON.set(_ACTING_ON.get() | {case.pk})
    try:
        _apply_effect(order, case, transition, actor, now, amount, data)
    finally:
        _ACTING_ON.reset(token)
    commit_case(case, order, action, actor, now, from_status=from_status,
                reason=reason, data=data)  # fmt: skip
    if not case.is_open:
        _publish_after_commit(case, "aftersales.resolved")


def _amount(value: Any, currency: str, field: str) -> Decimal:
    """An amount asked for, proposed or refunded: the one money rule, in the field."""
    try:
        return parse_amount(value, field=field, currency=currency)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={field: exc.message}) from None


def _clean_proposal(proposal: Mapping[str, Any], case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if proposal.get("amount") not in (None, ""):
        value = _amount(proposal["amount"], case.currency, "proposal.amount")
        if value > case.amount:
            raise ValidationFailed(
                "The proposed refund must be between 0 and the amount asked for.",
                fields={"proposal.amount": str(value)},
                requested=str(case.amount),
            )
        out["amount"] = str(value.quantize(CENT))
    if "return" in proposal:
        out["return"] = bool(proposal["return"])
    if proposal.get("note"):
        out["note"] = str(proposal["note"])[:1000]
    return out


def _clean_evidence(evidence: Iterable[Any]) -> list[dict[str, str]]:
    files = []
    for index, item in enumerate(evidence):
        if isinstance(item, str):
            item = {"url": item}
        url = str((item or {}).get("url") or "").strip()
        if not url.startswith(("https://", "http://")) or len(url) > 500:
            raise ValidationFailed(fields={f"evidence[{index}]": "an http(s) URL"})
        files.append({"name": str(item.get("name") or url.rsplit("/", 1)[-1])[:200],
                      "url": url})  # fmt: skip
    if len(files) > 10:
        raise ValidationFailed(fields={"evidence": "at most 10 files"})
    return files


def _enter(
    case: Case,
    spec: CaseSpec,
    code: str,
    now: datetime,
    *,
    order: Order,
    outcome: Outcome | None = None,
    platform_due: datetime | None = None,
) -> None:
    """Move the case to ``code``: task, outcome and the new deadline."""
    status = spec.status(code)
    case.native_status = status.code
    case.status_changed_at = now
    case.task = status.task or ""
    if status.is_open:
        case.state, case.outcome, case.resolved_at = CaseState.OPEN, "", None
    else:
        case.state = CaseState.CLOSED
        case.outcome = outcome or status.outcome or Outcome.ORDER_CLOSED
        case.resolved_at = now
    case.due_extended = False
    if status.due is None or not status.is_open:
        case.due_at, case.due_action, case.due_source = None, "", ""
        return
    policy = (
        policy_for(order.shop, get_spec(order.platform)) if platform_due is None else {}
    )
    sent = {status.due.kind: platform_due} if platform_due is not None else {}
    (planned,) = deadlines_for(spec, case, policy, sent).values()
    case.due_action = planned.due.on_expiry
    case.due_at, case.due_source = planned.due_at, planned.source


def _apply_effect(
    order: Order,
    case: Case,
    transition: CaseTransition,
    actor: Actor,
    now: datetime,
    amount: Decimal | str | None,
    data: dict[str, Any],
) -> None:
    effect = transition.effect
    if effect == CANCEL_ORDER:
        if order.shipped_at is not None:  # a shipped order is never cancelled
            raise InvalidTransition(
                "Part of the order has shipped: it can no longer be cancelled.",
                action=transition.action,
            )
        refund = money_of(order, exclude=case).refundable
        _order_action(order, "approve_cancel", actor, now)
        case.refunded_amount = refund.quantize(CENT)
        data["refunded"] = str(case.refunded_amount)
    elif effect == KEEP_ORDER:
        _order_action(order, "reject_cancel", actor, now, optional=True)
    elif effect == REFUND:
        _refund(order, case, transition, amount, now, data)
    elif effect == END_DISPUTE:
        _order_action(order, "close_dispute", system_actor(), now, optional=True)


def _refund(
    order: Order,
    case: Case,
    transition: CaseTransition,
    amount: Decimal | str | None,
    now: datetime,
    data: dict[str, Any],
) -> None:
    """Record the refund; a refund of everything paid closes the order."""
    if amount not in (None, ""):
        value = _amount(amount, order.currency, "amount")
    elif (
        transition.action == spec_of(case).action_for(ACCEPT_PROPOSAL)
        and "amount" in case.proposal
    ):
        value = _amount(case.proposal["amount"], order.currency, "proposal.amount")
    else:
        value = case.amount
    money = money_of(order, exclude=case)
    value = min(max(value, Decimal(0)), money.refundable).quantize(CENT)
    case.refunded_amount = value
    data["refunded"] = str(value)
    if value <= 0:
        _order_action(order, "close_dispute", system_actor(), now, optional=True)
        return
    if money.refunded + value >= money.paid or _every_item_refunded(order, case):
        closing = order_action_on_full_refund(order.platform)
        if _order_action(order, closing, system_actor(), now, optional=True):
            data["order_closed"] = True
            return
    _order_action(order, "close_dispute", system_actor(), now, optional=True)


def _every_item_refunded(order: Order, case: Case) -> bool:
    """Whether refunded cases (this one included) cover every unit of every line."""
    refunded: dict[int, int] = {}
    for row in (
        CaseItem.objects.filter(order_item__order=order)
        .filter(Q(case__refunded_amount__gt=0) | Q(case=case))
        .exclude(case__kind=CaseKind.REPLACEMENT)
        .values("order_item_id")
        .annotate(quantity=Sum("quantity"))
    ):
        refunded[row["order_item_id"]] = row["quantity"]
    lines = list(order.items.values_list("pk", "quantity"))
    return bool(lines) and all(refunded.get(pk, 0) >= qty for pk, qty in lines)


def _order_action(
    order: Order, action: str, actor: Actor, now: datetime, *, optional: bool = False
) -> bool:
    """Apply an order action; ``optional``: skip quietly when the order's machine has
    no such step from its current status (e.g. no IN_ISSUE to close on TikTok)."""
    spec = get_spec(order.platform)
    if optional:
        policy = policy_for(order.shop, spec)
        if action not in allowed_actions(spec, order, actor.kind, policy):
            return False
    (outcome,) = apply_event_to_locked([order], action, actor, now=now)
    if isinstance(outcome, OmsError):
        raise outcome
    return True


def commit_case(
    case: Case,
    order: Order,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    from_status: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
    fields: Sequence[str] | None = None,
) -> None:
    """The one commit path for a change to a case the caller locked (with its order):
    bumps the version, writes the row (the named ``fields``, or all of it) and the
    case's and order's timeline entries (``_log``; the order's through
    ``orders.events``, which schedules its effects)."""
    case.version += 1
    if fields is None:
        case.save()
    else:
        case.save(update_fields=[*fields, "version", "updated_at"])
    _log(case, order, action, actor, now, from_status=from_status, reason=reason,
         data=data)  # fmt: skip


def _log(
    case: Case,
    order: Order,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    from_status: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    details = {
        "case": case.pk,
        "kind": case.kind,
        "case_status": [from_status, case.native_status],
        **({"outcome": case.outcome} if case.outcome else {}),
        **(data or {}),
    }
    CaseEvent.objects.create(
        case=case,
        created_at=now,
        action=action,
        from_status=from_status,
        to_status=case.native_status,
        actor_kind=actor.kind,
        actor_user=actor.membership.user if actor.membership else None,
        actor_label=actor.label,
        reason=reason[:500],
        data=details,
    )
    # The order's entry carries what the case changed on the order: its overlays
    # (with the version bump and re-planned deadlines), in the one commit.
    overlays = _set_overlays(order)
    commit(
        order,
        actor,
        fields=list(overlays),
        now=now,
        deadlines=bool(overlays),
        bump_version=bool(overlays),
        events=[
            Entry(
                EventType.AFTERSALES,
                {
                    "action": f"{case.kind}.{action}"[:40],
                    "from_status": order.native_status,
                    "to_status": order.native_status,
                    "reason": reason[:500],
                    "data": {**details, **({"overlays": overlays} if overlays else {})},
                },
                at=now,
            )
        ],
    )


def _publish_after_commit(case: Case, event_type: str) -> None:
    """The case's webhook, durable: an outbox entry in the case's transaction, sent by
    the relay after the commit (or by beat if the worker died)."""
    payload = {
        "case": {
            "id": case.pk,
            "order_id": case.order_id,
            "platform": case.platform,
            "kind": case.kind,
            "platform_case_id": case.platform_case_id,
            "status": case.native_status,
            "state": case.state,
            "outcome": case.outcome,
            "amount": str(case.amount),
            "refunded_amount": str(case.refunded_amount),
            "currency": case.currency,
            "due_at": case.due_at.isoformat() if case.due_at else None,
        }
    }
    effects.publish(
        organisation_id=case.organisation_id, event_type=event_type, data=payload
    )


# --- overlays and the order's own transitions ----------------------------------------

# Which open cases raise which order overlay (unless the platform's statuses manage it).
OVERLAY_KINDS = {
    "cancel_requested": frozenset({CaseKind.CANCEL}),
    "refund_open": REFUND_KINDS,
    "in_dispute": frozenset({CaseKind.DISPUTE}),
}


def _set_overlays(order: Order) -> dict[str, list[bool]]:
    """Set the locked order's case overlays from its open cases (unless the platform's
    statuses manage them); returns the changed ones (overlay → [before, after])."""
    open_kinds = set(
        Case.objects.filter(order_id=order.pk, state=CaseState.OPEN).values_list(
            "kind", flat=True
        )
    )
    managed = get_spec(order.platform).managed_overlays
    changed: dict[str, list[bool]] = {}
    for overlay, kinds in OVERLAY_KINDS.items():
        if overlay in managed:
            continue
        wanted = bool(open_kinds & kinds)
        if getattr(order, overlay) != wanted:
            setattr(order, overlay, wanted)
            changed[overlay] = [not wanted, wanted]
    return changed


def sync_overlays(
    orders: Sequence[Order], now: datetime, actor: Actor | None = None
) -> None:
    """Set each locked order's case overlays from its open cases; re-plan deadlines.

    Every case change already does this in its own commit (``_log``); this is for an
    order whose cases changed otherwise. Goes through ``orders.services.commit``: a
    change bumps the version and writes an ``aftersales``/``overlays`` entry.
    """
    actor = actor or system_actor()
    for order in orders:
        changed = _set_overlays(order)
        if not changed:
            continue
        commit(
            order,
            actor,
            fields=list(changed),
            now=now,
            deadlines=True,
            events=[
                Entry(
                    EventType.AFTERSALES,
                    {
                        "action": "overlays",
                        "from_status": order.native_status,
                        "to_status": order.native_status,
                        "data": {"overlays": changed},
                    },
                    at=now,
                )
            ],
        )


def on_order_transition(
    orders: list[Order], action: str, actor: Actor, now: datetime
) -> None:
    """``orders.services.AFTER_TRANSITION``: the order moved on its own (the platform,
    the deadline job, a person on the order page). Cases follow: a closed order's open
    cases close; AliExpress's reject_cancel / close_dispute close the matching case."""
    if action in _IGNORED_ORDER_ACTIONS:
        return
    if action in _opening_order_actions():
        for order in orders:
            on_order_ingested(order, actor, now)
        return
    ids = [order.pk for order in orders]
    cases = list(
        Case.objects.select_for_update()
        .filter(order_id__in=ids, state=CaseState.OPEN)
        .exclude(pk__in=_ACTING_ON.get())
        .order_by("id")
    )
    if not cases:
        return
    by_id = {order.pk: order for order in orders}
    for case in cases:
        order = by_id[case.order_id]
        spec = spec_of(case)
        target: str | None = None
        outcome: Outcome | None = None
        if case.kind == CaseKind.CANCEL and action == "approve_cancel":
            target = _target_of(spec, case, spec.action_for(APPROVE))
        elif case.kind == CaseKind.CANCEL and action == "reject_cancel":
            target = _target_of(spec, case, spec.action_for(REJECT))
        elif case.kind == CaseKind.DISPUTE and action == "close_dispute":
            target = _target_of(spec, case, spec.action_for(WITHDRAW))
        elif order.stage == Stage.CLOSED:
            target, outcome = case.native_status, Outcome.ORDER_CLOSED
        if target is None:
            continue
        from_status = case.native_status
        if target == case.native_status:
            case.state, case.outcome, case.resolved_at = CaseState.CLOSED, outcome, now
            case.task, case.due_at, case.due_action = "", None, ""
        else:
            _enter(case, spec, target, now, order=order, outcome=outcome)
        commit_case(case, order, f"order_{action}", actor, now, from_status=from_status)
        _publish_after_commit(case, "aftersales.resolved")


def on_order_ingested(order: Order, actor: Actor, when: datetime) -> None:
    """``orders.ingest.AFTER_INGEST``: a platform status that means a buyer's request
    (AliExpress IN_CANCEL / IN_ISSUE, TikTok's ``is_buyer_request_cancel``) gets its
    case when none is open, so it shows in the inbox with its deadline."""
    spec = get_spec(order.platform)
    kinds = []
    for kind in (CaseKind.CANCEL, CaseKind.DISPUTE):
        case_spec = case_specs().get((order.platform, kind))
        if case_spec is None:  # Taobao has neither
            continue
        action = case_spec.order_action_on_open
        entered = action and any(
            t.action == action and t.target == order.native_status
            for t in spec.transitions
        )
        requested = (
            kind == CaseKind.CANCEL
            and order.cancel_requested
            and "cancel_requested" not in spec.managed_overlays
        )
        if entered or requested:
            kinds.append(kind)
    if not kinds:
        return
    have = set(
        Case.objects.filter(
            order=order, state=CaseState.OPEN, kind__in=kinds
        ).values_list("kind", flat=True)
    )
    for kind in kinds:
        if kind in have:
            continue
        try:
            with transaction.atomic():
                open_case(order, kind, Actor.platform(order.platform), now=when)
        except OmsError:
            logger.warning("no %s case for order %s", kind, order.pk, exc_info=True)


# Order actions that can never end a case (the hot paths: shipping, printing, paying).
_IGNORED_ORDER_ACTIONS = frozenset(
    {"ship", "ship_part", "collect", "pay", "release_hold", "pass_risk_control",
     "deliver", "sign", "allow_shipping"}
)  # fmt: skip


def _opening_order_actions() -> frozenset[str]:
    """Order actions the platform takes when a buyer asks (the case opens with them)."""
    return frozenset(spec.order_action_on_open for spec in case_specs().values()) - {""}


def _target_of(spec: CaseSpec, case: Case, action: str) -> str | None:
    for transition in spec.transitions_from(case.native_status):
        if transition.action == action and transition.fits(case):
            return transition.target
    return None


# --- the deadline job --------------------------------------------------------------

# What each expiry means, written on both timelines.
EXPIRY_REASON = "Deadline passed: {action} as the platform does"
SWEEP_BATCH = 100
SWEEP_MAX_BATCHES = 50


def process_due_cases(now: datetime | None = None) -> tuple[dict, list]:
    """Apply the expiry action of every open case whose deadline has passed.

    Only due rows are read (partial index ``case_due_idx``), in bounded batches. A batch
    is one transaction: its orders are locked ``SKIP LOCKED`` in one query (a worker
    busy with one keeps it), its cases re-read under the lock (still open, still due),
    and each case is applied in its own savepoint, so concurrent or repeated runs never
    act twice and one refused case never undoes the others. A case whose expiry the
    machine refuses (e.g. the order shipped meanwhile) loses its deadline and gets an
    ``expiry_failed`` event instead of failing every minute.
    """
    now = now or timezone.now()
    counts = {"due": 0, "applied": 0, "skipped": 0, "failed": 0}
    errors: list[dict] = []
    seen: set[int] = set()
    actor = system_actor()
    for _ in range(SWEEP_MAX_BATCHES):
        due = list(
            Case.objects.filter(state=CaseState.OPEN, due_at__lte=now)
            .exclude(pk__in=seen)
            .order_by("due_at", "id")
            .values_list("pk", "order_id")[:SWEEP_BATCH]
        )
        if not due:
            break
        seen.update(case_id for case_id, _ in due)
        counts["due"] += len(due)
        try:
            _expire_batch(due, actor, now, counts, errors)
        except Exception as exc:  # a crash never stops the next batches
            logger.exception("after-sales sweep batch failed")
            counts["failed"] += len(due)
            errors.append({"cases": [c for c, _ in due], "error": repr(exc)[:500]})
    return counts, errors


def _expire_batch(
    due: list[tuple[int, int]],
    actor: Actor,
    now: datetime,
    counts: dict[str, int],
    errors: list[dict],
) -> None:
    with transaction.atomic():
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update(
                of=("self",), skip_locked=True, no_key=True
            )
            .select_related("shop")
            .filter(pk__in={order_id for _, order_id in due})
            .order_by("pk")
        }
        cases = list(
            Case.objects.select_for_update()
            .filter(
                pk__in=[case_id for case_id, order_id in due if order_id in orders],
                state=CaseState.OPEN,
                due_at__lte=now,
            )
            .exclude(due_action="")
            .order_by("due_at", "id")
        )
        counts["skipped"] += len(due) - len(cases)
        acted_on: set[int] = set()  # orders an earlier case of this batch moved
        for case in cases:
            order = orders[case.order_id]
            if order.pk in acted_on:
                # That case may have closed this one with the order (the hook): re-read.
                case.refresh_from_db()
                if not (case.is_open and case.due_action and case.due_at <= now):
                    counts["skipped"] += 1
                    continue
            acted_on.add(order.pk)
            action = case.due_action
            try:
                with transaction.atomic():
                    _act_locked(
                        order,
                        case,
                        action,
                        actor,
                        now,
                        reason=EXPIRY_REASON.format(action=action),
                    )
                counts["applied"] += 1
            except OmsError as exc:
                case.refresh_from_db()
                order.refresh_from_db()
                from_status = case.native_status
                case.due_at, case.due_action = None, ""
                commit_case(case, order, "expiry_failed", actor, now,
                            from_status=from_status, reason=exc.message,
                            data={"error": exc.as_dict()},
                            fields=["due_at", "due_action"])  # fmt: skip
                counts["failed"] += 1
                errors.append({"case": case.pk, "error": exc.as_dict()})
