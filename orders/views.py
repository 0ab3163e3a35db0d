"""The seller dashboard: the order workbench (list with tabs, order page, batch actions).

Views read through ``orders.selectors`` and change orders only through the services the
API uses; every page checks the member's organisation, role and shops on the server.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from logistics.selectors import shipping_panel
from oms.core.errors import OmsError
from oms.core.input import clean_text, page_number, whole_number
from orders import actions
from orders import permissions as p
from orders.choices import Channel, DeadlineState, Flag, Overlay, Stage
from orders.deadlines import running_deadlines
from orders.machine import allowed_actions
from orders.models import Membership, Order, OrderItem
from orders.platforms import get_spec, registry
from orders.selectors import filter_orders, orders_of
from orders.services import Actor, apply_event, apply_event_to_locked, policy_for

PAGE_SIZES = (20, 50, 100)
AT_RISK = timedelta(hours=6)
ATTENTION_OVERLAYS = (
    "cancel_requested",
    "refund_open",
    "in_dispute",
    "delivery_failed",
    "on_hold",
)
SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "deadline": ("next_deadline_at", "id"),
    "-total": ("-total", "-id"),
}
BATCH_ACTIONS = {
    "memo": p.MEMO,
    "flag": p.MEMO,
    "hold": p.HOLD,
    "release": p.RELEASE,
    "cancel": p.CANCEL,
}


@dataclass
class Workspace:
    """The signed-in member's organisation, role and shops for this request."""

    membership: Membership
    memberships: list[Membership]
    shop_ids: frozenset[int] | None

    @property
    def organisation(self):
        return self.membership.organisation

    @property
    def actor(self) -> Actor:
        return Actor.member(self.membership)

    @property
    def shops(self):
        """The shops this member may see, by name (for filters)."""
        shops = self.organisation.shops.order_by("name")
        return shops if self.shop_ids is None else shops.filter(pk__in=self.shop_ids)

    def can(self, permission: str) -> bool:
        return p.role_allows(self.membership.role, permission)

    @property
    def can_ship(self) -> bool:
        """Print labels and hand over (the warehouse pages and their nav link)."""
        return self.can(p.SHIP)

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(_("Your role may not do this."))


def workspace(request: HttpRequest) -> Workspace:
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("organisation", "user")
        .prefetch_related("shops")
        .order_by("organisation__name")
    )
    if not memberships:
        raise PermissionDenied(_("You are not a member of any organisation."))
    wanted = request.session.get("organisation")
    membership = next(
        (m for m in memberships if m.organisation.slug == wanted), memberships[0]
    )
    allowed = {shop.pk for shop in membership.shops.all()}
    return Workspace(membership, memberships, frozenset(allowed) if allowed else None)


def attention_q(now) -> Q:
    query = Q(next_deadline_at__lt=now + AT_RISK)
    for overlay in ATTENTION_OVERLAYS:
        query |= Q(**{overlay: True})
    return query


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("orders:list")


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    ws = workspace(request)
    now = timezone.now()
    params = request.GET.copy()
    tab = params.pop("tab", ["all"])[-1]
    sort = params.get("sort", "-created") if params.get("sort") in SORTS else "-created"
    try:
        size = int(params.get("size", 50))
    except ValueError:
        size = 50
    size = size if size in PAGE_SIZES else 50
    page = page_number(params.get("page"))
    for name in ("sort", "size", "page"):
        params.pop(name, None)
    _dates_to_times(params, ws)
    base = orders_of(ws.organisation, ws.shop_ids)
    error = None
    try:
        filtered = filter_orders(base, params)
    except OmsError as exc:
        filtered, error = base.none(), exc.details.get("fields") or exc.message
    counts = {
        row["stage"]: row["n"]
        for row in filtered.values("stage").annotate(n=Count("id")).order_by()
    }
    tabs = [{"key": "all", "label": _("All"), "count": sum(counts.values())}]
    tabs += [
        {"key": stage.value, "label": stage.label, "count": counts.get(stage.value, 0)}
        for stage in Stage
    ]
    tabs.append(
        {
            "key": "attention",
            "label": _("Needs attention"),
            "count": filtered.filter(attention_q(now)).count(),
        }
    )
    shown = filtered
    if tab in Stage.values:
        shown = filtered.filter(stage=tab)
    elif tab == "attention":
        shown = filtered.filter(attention_q(now))
    else:
        tab = "all"
    ordering = SORTS[sort]
    rows = list(
        shown.select_related("shop")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .order_by(*ordering)[(page - 1) * size : page * size + 1]
    )
    has_next = len(rows) > size
    rows = rows[:size]
    for order in rows:
        order.status_label = _(
            get_spec(order.platform).status(order.native_status).label
        )
        order.at_risk = (
            order.next_deadline_at is not None
            and order.next_deadline_at < now + AT_RISK
        )
    query = params.urlencode()
    context = {
        "ws": ws,
        "tabs": tabs,
        "tab": tab,
        "orders": rows,
        "page": page,
        "size": size,
        "sort": sort,
        "has_next": has_next,
        "query": query,
        "filter_error": error,
        "params": params,
        "platforms": [(code, spec.label) for code, spec in registry().items()],
        "shops": ws.shops,
        "stages": Stage.choices,
        "flags": Flag.choices,
        "overlays": Overlay.choices,
        "channels": Channel.choices,
        "page_sizes": PAGE_SIZES,
        "sorts": [
            ("-created", _("Newest")),
            ("created", _("Oldest")),
            ("deadline", _("Deadline")),
            ("-total", _("Total")),
        ],
        "batch_actions": [name for name, perm in BATCH_ACTIONS.items() if ws.can(perm)],
        "now": now,
    }
    template = (
        "orders/_table.html"
        if request.headers.get("HX-Request")
        else "orders/list.html"
    )
    return render(request, template, context)


def _dates_to_times(params, ws: Workspace) -> None:
    """The date pickers (``created_from``/``_to``, ``paid_from``/``_to``) are days in the
    zone of the organisation's first shop."""
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    shop = ws.organisation.shops.order_by("pk").first()
    zone = ZoneInfo(shop.timezone if shop else "UTC")
    for field, target, shift in (
        ("created_from", "created_after", 0),
        ("created_to", "created_before", 1),
        ("paid_from", "paid_after", 0),
        ("paid_to", "paid_before", 1),
    ):
        value = params.get(field)
        if not value:
            continue
        try:
            day = date.fromisoformat(value) + timedelta(days=shift)
        except ValueError:
            continue
        params[target] = datetime.combine(day, time.min, tzinfo=zone).isoformat()


def get_order(ws: Workspace, order_id: int) -> Order:
    order = (
        orders_of(ws.organisation, ws.shop_ids)
        .select_related("shop")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order


def _detail_context(ws: Workspace, order: Order) -> dict:
    spec = get_spec(order.platform)
    policy = policy_for(order.shop, spec)
    machine = allowed_actions(spec, order, ws.actor.kind, policy)
    reasons = sorted(
        {
            r
            for t in spec.transitions_from(order.native_status)
            if t.action == "cancel"
            for r in t.reasons
        }
    )
    return {
        "ws": ws,
        "order": order,
        "status_label": _(spec.status(order.native_status).label),
        "deadlines": running_deadlines(order),
        "paused_deadlines": order.deadlines.filter(state=DeadlineState.PAUSED),
        "events": order.events.select_related("actor_user").order_by(
            "created_at", "id"
        ),
        "can_cancel": "cancel" in machine and ws.can(p.CANCEL),
        "cancel_reasons": reasons,
        "available": set(actions.available(order)),
        "can": {
            name: ws.can(perm)
            for name, perm in {
                "memo": p.MEMO,
                "adjust_price": p.ADJUST_PRICE,
                "edit_address": p.EDIT_ADDRESS,
                "hold": p.HOLD,
                "release": p.RELEASE,
            }.items()
        },
        "flags": Flag.choices,
        "machine_actions": machine,
        "shipping": shipping_panel(order, can_ship=ws.can(p.SHIP)),
    }


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    ws = workspace(request)
    return render(
        request, "orders/detail.html", _detail_context(ws, get_order(ws, order_id))
    )


ACTION_FORMS = {
    "memo": (p.MEMO, ("memo", "flag")),
    "adjust_price": (p.ADJUST_PRICE, ("total",)),
    "edit_address": (
        p.EDIT_ADDRESS,
        ("country", "province", "city", "district", "street", "postcode"),
    ),
    "hold": (p.HOLD, ()),
    "release": (p.RELEASE, ()),
}


@login_required
@require_POST
def order_action(request: HttpRequest, order_id: int, action: str) -> HttpResponse:
    """One action from the order page; a refusal is shown with its reason, nothing changes."""
    ws = workspace(request)
    order = get_order(ws, order_id)
    reason = request.POST.get("reason", "")
    version = request.POST.get("version")
    expected = whole_number(version)
    try:
        if action == "cancel":
            ws.require(p.CANCEL)
            apply_event(
                order.pk, "cancel", ws.actor, reason=reason, expected_version=expected
            )
        elif action in ACTION_FORMS:
            permission, fields = ACTION_FORMS[action]
            ws.require(permission)
            data = {name: request.POST[name] for name in fields if name in request.POST}
            if action == "edit_address":
                data = {"address": dict(data.items())}
            actions.perform(
                order.pk,
                action,
                ws.actor,
                expected_version=expected,
                reason=reason,
                **data,
            )
        else:
            raise Http404
        messages.success(request, _("Done."))
    except OmsError as exc:
        detail = exc.details.get("reason") or exc.details.get("fields") or ""
        messages.error(request, f"{_('Refused')}: {exc.message} {detail}".strip())
    return redirect("orders:detail", order_id=order.pk)


@login_required
@require_POST
def batch(request: HttpRequest) -> HttpResponse:
    """Batch memo, flag, hold, release or cancel: confirm first, then per-order results."""
    ws = workspace(request)
    action = request.POST.get("action", "")
    if action not in BATCH_ACTIONS:
        raise Http404
    ws.require(BATCH_ACTIONS[action])
    if request.POST.get("scope") == "filter":
        query = request.POST.get("query", "")
        from django.http import QueryDict

        params = QueryDict(query, mutable=True)
        tab = params.pop("tab", ["all"])[-1]
        selected = filter_orders(orders_of(ws.organisation, ws.shop_ids), params)
        if tab in Stage.values:
            selected = selected.filter(stage=tab)
        elif tab == "attention":
            selected = selected.filter(attention_q(timezone.now()))
        ids = list(selected.order_by("pk").values_list("pk", flat=True)[:500])
    else:
        ids = [n for v in request.POST.getlist("ids") if (n := whole_number(v))][:500]
    context = {
        "ws": ws,
        "action": action,
        "ids": ids,
        "count": len(ids),
        "post": request.POST,
    }
    if not ids:
        messages.error(request, _("Select at least one order."))
        return redirect(_back(request))
    if request.POST.get("confirm") != "yes":
        spec_reasons = sorted({
            r for spec in registry().values() for t in spec.transitions if t.action == "cancel" for r in t.reasons
        })  # fmt: skip
        context.update(
            {
                "flags": Flag.choices,
                "cancel_reasons": spec_reasons,
                "back": _back(request),
            }
        )
        return render(request, "orders/batch_confirm.html", context)
    reason = request.POST.get("reason", "")
    with transaction.atomic():
        locked = list(
            orders_of(ws.organisation, ws.shop_ids)
            .select_for_update(of=("self",))
            .select_related("shop")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        if action == "cancel":
            outcomes = apply_event_to_locked(locked, "cancel", ws.actor, reason=reason)
        elif action in ("memo", "flag"):
            data = {action: request.POST.get(action, "")}
            outcomes = _safe(
                lambda: actions.perform_on_locked(locked, "memo", ws.actor, data=data),
                locked,
            )
        else:
            outcomes = actions.perform_on_locked(
                locked, action, ws.actor, data={}, reason=reason
            )
    by_id = dict(zip([o.pk for o in locked], outcomes, strict=True))
    results = []
    for order in locked:
        outcome = by_id[order.pk]
        ok = not isinstance(outcome, OmsError)
        reason_text = (
            ""
            if ok
            else f"{outcome.message} {outcome.details.get('reason', '')}".strip()
        )
        results.append({"order": order, "ok": ok, "reason": reason_text})
    missing = len(ids) - len(locked)
    context.update(
        {"results": results, "done": sum(r["ok"] for r in results), "missing": missing}
    )
    return render(request, "orders/batch_result.html", context)


def _safe(call, locked):
    try:
        return call()
    except OmsError as exc:
        return [exc] * len(locked)


def _back(request: HttpRequest) -> str:
    back = (
        request.POST.get("back")
        or request.headers.get("Referer")
        or reverse("orders:list")
    )
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("orders:list")
    return back


@login_required
@require_POST
def switch_organisation(request: HttpRequest) -> HttpResponse:
    slug = clean_text(request.POST.get("organisation", ""))
    if Membership.objects.filter(user=request.user, organisation__slug=slug).exists():
        request.session["organisation"] = slug
    return redirect("orders:list")
