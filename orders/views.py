"""The seller dashboard: the order workbench (list with tabs, order page, batch actions).

Views read through ``orders.selectors`` and change orders only through the services the
API uses; every page checks the member's organisation, role and shops on the server.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oms.core.errors import OmsError, VersionConflict
from oms.core.input import clean_text, page_number, whole_number
from oms.core.timeutils import parse_iso
from orders import actions, background
from orders import permissions as p
from orders.choices import (
    BackgroundJobKind,
    BackgroundJobStatus,
    Channel,
    DeadlineState,
    Flag,
    Overlay,
    Stage,
)
from orders.deadlines import running_deadlines
from orders.machine import allowed_actions
from orders.models import BackgroundJob, Membership, Order, OrderItem
from orders.panels import render_order_panels
from orders.platforms import get_spec, registry
from orders.selectors import (
    AT_RISK,
    TABS,
    attention_q,
    canonical_query,
    filter_orders,
    in_tab,
    matching,
    orders_of,
    split_tab,
)
from orders.services import apply_event, policy_for
from orders.workspace import Workspace, get_order, workspace

PAGE_SIZES = (20, 50, 100)
SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "deadline": ("next_deadline_at", "id"),
    "-total": ("-total", "-id"),
}
BATCH_ACTIONS = actions.BATCH_ACTIONS


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
    tab = tab if tab in TABS else "all"
    shown = in_tab(filtered, tab, now)  # the same tab rule as batches over a filter
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
        # what "apply to all matching" acts on: this tab with the search and filters
        "matching": next(t["count"] for t in tabs if t["key"] == tab),
        # the member's background jobs still going (a link back to their progress)
        "jobs": BackgroundJob.objects.filter(
            membership=ws.membership,
            status__in=(BackgroundJobStatus.PENDING, BackgroundJobStatus.RUNNING),
        )[:5],
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
    }


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    ws = workspace(request)
    order = get_order(ws, order_id)
    context = _detail_context(ws, order)
    # Shipments, after-sales, messages: the panels other apps register (orders.panels).
    context["panels"] = render_order_panels(request, ws, order, context)
    return render(request, "orders/detail.html", context)


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
    except VersionConflict as exc:
        if action not in CONFLICT_FIELDS:
            messages.error(request, f"{_('Refused')}: {exc.message}")
            return redirect("orders:detail", order_id=order.pk)
        return _conflict(request, ws, order.pk, action)
    except OmsError as exc:
        detail = exc.details.get("reason") or exc.details.get("fields") or ""
        messages.error(request, f"{_('Refused')}: {exc.message} {detail}".strip())
    return redirect("orders:detail", order_id=order.pk)


# The order-page forms that edit values: on a stale version each shows both values.
CONFLICT_FIELDS = {
    "memo": ("memo", "flag"),
    "adjust_price": ("total",),
    "edit_address": ACTION_FORMS["edit_address"][1],
    "cancel": ("reason",),
}


def _conflict(
    request: HttpRequest, ws: Workspace, order_id: int, action: str
) -> HttpResponse:
    """A submission built from an older version: nothing was saved. Show what is saved
    now (theirs) next to what was sent (yours), and offer to save mine with the version
    just shown (409)."""
    order = get_order(ws, order_id)
    labels = {
        "memo": _("Memo"), "flag": _("Flag"), "total": _("Total"),
        "country": _("Country"), "province": _("Province / state"), "city": _("City"),
        "district": _("District"), "street": _("Street"), "postcode": _("Postcode"),
        "reason": _("Status"),
    }  # fmt: skip
    flags = dict(Flag.choices)
    rows = []
    for name in CONFLICT_FIELDS[action]:
        if name not in request.POST:
            continue
        yours = request.POST[name]
        if name == "memo":
            theirs = order.seller_memo
        elif name == "flag":
            theirs, yours = flags.get(order.flag, ""), flags.get(yours, "")
        elif name == "total":
            theirs = str(order.total)
        elif name == "reason":  # cancelling: what matters is the status it has now
            theirs = _(get_spec(order.platform).status(order.native_status).label)
            yours = _("Cancel") + f" ({yours})"
        else:
            theirs = getattr(order, f"address_{name}")
        rows.append(
            {
                "name": name,
                "label": labels[name],
                "theirs": theirs,
                "yours": yours,
                "differs": str(theirs) != str(yours),
            }
        )
    if not any(row["differs"] for row in rows):
        # Someone saved exactly what this form sends: nothing is lost, nothing to do.
        messages.success(request, _("Already saved with the same values."))
        return redirect("orders:detail", order_id=order.pk)
    latest = (
        order.events.select_related("actor_user").order_by("-created_at", "-id").first()
    )
    context = {
        "ws": ws,
        "order": order,
        "action": action,
        "rows": rows,
        "latest": latest,
        "mine": [
            (name, request.POST[name])
            for name in CONFLICT_FIELDS[action]
            if name in request.POST and name != "memo"
        ],
        "memo": request.POST.get("memo") if "memo" in request.POST else None,
    }
    return render(request, "orders/conflict.html", context, status=409)


@login_required
@require_POST
def batch(request: HttpRequest) -> HttpResponse:
    """Batch memo, flag, hold, release or cancel on the selected rows or on every order
    matching the list's tab, search and filters: confirm the count first, then act (at
    once up to ``OMS_BATCH_SYNC_LIMIT``, beyond as a background job over the filter)."""
    ws = workspace(request)
    action = request.POST.get("action", "")
    if action not in BATCH_ACTIONS:
        raise Http404
    ws.require(BATCH_ACTIONS[action])
    base = orders_of(ws.organisation, ws.shop_ids)
    by_filter = request.POST.get("scope") == "filter"
    context = {"ws": ws, "action": action, "post": request.POST, "by_filter": by_filter}
    if by_filter:
        query = canonical_query(request.POST.get("query", ""))
        as_of = _posted_time(request.POST.get("as_of")) or timezone.now()
        try:
            selected = matching(base, query, now=as_of)
        except OmsError as exc:
            messages.error(request, f"{_('Check the filters:')} {exc.message}")
            return redirect(_back(request))
        max_pk = whole_number(request.POST.get("max_pk", ""))
        if max_pk is None:
            max_pk = selected.aggregate(last=Max("pk"))["last"] or 0
        selected = selected.filter(pk__lte=max_pk)
        count, ids = selected.count(), []
        context.update(
            {
                "query": query,
                "as_of": as_of.isoformat(),
                "max_pk": max_pk,
                "filter_words": describe_filter(ws, query),
            }
        )
    else:
        ids = [n for v in request.POST.getlist("ids") if (n := whole_number(v))][:500]
        selected, count = base.filter(pk__in=ids), len(ids)
    context.update(
        {
            "ids": ids,
            "count": count,
            "background": by_filter and count > settings.OMS_BATCH_SYNC_LIMIT,
            "flags": Flag.choices,
            "cancel_reasons": sorted({
                r for spec in registry().values() for t in spec.transitions
                if t.action == "cancel" for r in t.reasons
            }),
            "back": _back(request),
        }
    )  # fmt: skip
    if not count:
        messages.error(
            request,
            _("No order matches.") if by_filter else _("Select at least one order."),
        )
        return redirect(_back(request))
    confirmed = request.POST.get("confirm") == "yes"
    if by_filter and confirmed and request.POST.get("count") != str(count):
        context["changed"] = True
        confirmed = False
    if not confirmed:
        return render(request, "orders/batch_confirm.html", context)
    try:
        cleaned = actions.clean_batch(action, request.POST)
    except OmsError as exc:
        context["error"] = exc.details.get("fields") or exc.message
        return render(request, "orders/batch_confirm.html", context, status=400)
    if context["background"]:
        job = background.start(
            BackgroundJobKind.BATCH_ACTION,
            ws.membership,
            {
                "action": action,
                "filter": context["query"],
                "as_of": context["as_of"],
                "max_pk": context["max_pk"],
                **cleaned,
            },
            total=count,
        )
        return redirect("orders:job", job_id=job.pk)
    run = actions.run_batch(
        ws.actor,
        action,
        selected,
        expected_count=count if by_filter else None,
        **cleaned,
    )
    locked, outcomes = run.orders, run.outcomes  # outcomes None: the set changed
    if outcomes is None:
        context.update({"count": len(locked), "changed": True})
        return render(request, "orders/batch_confirm.html", context)
    results = []
    for order, outcome in zip(locked, outcomes, strict=True):
        ok = not isinstance(outcome, OmsError)
        reason = "" if ok else outcome.reason_text
        results.append({"order": order, "ok": ok, "reason": reason})
    context.update(
        {
            "results": results,
            "done": sum(r["ok"] for r in results),
            "missing": count - len(locked),
        }
    )
    return render(request, "orders/batch_result.html", context)


def _posted_time(value: str | None):
    """The time a confirmation page was counted at (None when missing or malformed)."""
    try:
        return parse_iso(value, field="as_of")
    except OmsError:
        return None


def describe_filter(ws: Workspace, query: str) -> list[tuple[str, str, str]]:
    """The list's tab, search and filters in words: (parameter, label, value)."""
    tab, params = split_tab(query)
    tab_labels = {
        "all": _("All"),
        "attention": _("Needs attention"),
        **dict(Stage.choices),
    }
    words = [("tab", _("Tab"), str(tab_labels[tab]))]
    labels = {
        "q": (_("Search"), None),
        "platform": (_("Platform"), {c: s.label for c, s in registry().items()}),
        "shop": (_("Shop"), {str(s.pk): s.name for s in ws.shops}),
        "stage": (_("Stage"), dict(Stage.choices)),
        "native_status": (_("Platform status"), None),
        "flag": (_("Flag"), dict(Flag.choices)),
        "overlay": (_("Badge"), dict(Overlay.choices)),
        "channel": (_("Channel"), dict(Channel.choices)),
        "created_from": (_("Ordered from"), None),
        "created_to": (_("Ordered until"), None),
        "paid_from": (_("Paid from"), None),
        "paid_to": (_("Paid until"), None),
    }  # fmt: skip
    for name, (label, names) in labels.items():
        values = [v for v in params.getlist(name) if v]
        if values:
            shown = [str(names.get(v, v)) if names else v for v in values]
            words.append((name, str(label), ", ".join(shown)))
    return words


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """A background job's progress and per-order results (htmx polls the progress)."""
    ws = workspace(request)
    job = _job(ws, job_id)
    results = job.results.order_by("ok", "id")[:500]
    context = {
        "ws": ws,
        "job": job,
        "results": results,
        "filter_words": describe_filter(ws, job.params.get("filter", ""))
        if job.kind == BackgroundJobKind.BATCH_ACTION
        else [],
    }
    if request.headers.get("HX-Request"):
        return render(request, "orders/_job.html", context)
    return render(request, "orders/job.html", context)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    ws = workspace(request)
    job = _job(ws, job_id)
    background.request_cancel(job)
    messages.success(request, _("Cancelling: the job stops before its next chunk."))
    return redirect("orders:job", job_id=job.pk)


def _job(ws: Workspace, job_id: int) -> BackgroundJob:
    """A job is seen by the member who started it, and by members of its organisation
    limited to no shop (it can hold any shop's orders)."""
    job = BackgroundJob.objects.filter(pk=job_id, organisation=ws.organisation).first()
    if job is None or (
        job.membership_id != ws.membership.pk and ws.shop_ids is not None
    ):
        raise Http404(_("No such job."))
    return job


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
