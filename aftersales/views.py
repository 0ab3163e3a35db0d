"""The after-sales dashboard: one inbox across platforms, the case page, batch decisions.

Views read through ``aftersales.services.cases_for`` (the member's organisation and
shops) and change cases only through ``services.act``, the door the API and the jobs use;
the role of each action is checked there too. A refusal is shown with its reason and
changes nothing.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from aftersales import services
from aftersales.choices import CaseKind, CaseState, SellerTask
from aftersales.machine import APPROVE, REJECT, CaseTransition
from aftersales.models import Case
from aftersales.templatetags.aftersales import status_label
from oms.core.errors import NotFound, OmsError
from oms.core.input import page_number, whole_number
from orders import permissions as p
from orders.choices import ActorKind
from orders.platforms import platform_choices
from orders.workspace import Workspace, workspace

PAGE_SIZES = (20, 50, 100)
BATCH_MAX = 200
# The inbox's two batch verbs: the roles each case table names its action for.
BATCH_VERBS = frozenset({APPROVE, REJECT})
# What each case action is called on the dashboard.
ACTION_LABELS = {
    "approve": gettext_lazy("Approve"),
    "agree": gettext_lazy("Agree"),
    "accept": gettext_lazy("Accept"),
    "reject": gettext_lazy("Reject"),
    "refuse": gettext_lazy("Refuse"),
    "respond": gettext_lazy("Send the response"),
    "escalate": gettext_lazy("Escalate to the platform"),
    "refund_instead": gettext_lazy("Refund instead"),
    "confirm_goods": gettext_lazy("Confirm the returned goods"),
    "confirm_receipt": gettext_lazy("Confirm the returned goods"),
    "refuse_goods": gettext_lazy("Refuse the returned goods"),
    "reject_receipt": gettext_lazy("Refuse the returned goods"),
    "extend_confirm": gettext_lazy("Extend the inspection period"),
}
DANGER = frozenset({"reject", "refuse", "refuse_goods", "reject_receipt"})
# Actions that carry the seller's evidence; disputes carry a proposal too.
WITH_EVIDENCE = frozenset({"refuse", "respond", "refuse_goods", "reject_receipt"})


def _cases(ws: Workspace):
    return services.cases_for(ws.actor)


# --- the inbox ----------------------------------------------------------------------------


def _filters(params: QueryDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The inbox filters as ORM lookups, and the bad values by name."""
    lookups: dict[str, Any] = {}
    errors: dict[str, str] = {}
    platform = params.get("platform", "")
    if platform:
        if platform in dict(platform_choices()):
            lookups["platform"] = platform
        else:
            errors["platform"] = platform
    shop = params.get("shop", "")
    if shop:
        if whole_number(shop) is not None:
            lookups["shop_id"] = whole_number(shop)
        else:
            errors["shop"] = shop
    for name, lookup, allowed in (
        ("type", "kind", CaseKind.values),
        ("task", "task", SellerTask.values),
    ):
        value = params.get(name, "")
        if value and value in allowed:
            lookups[lookup] = value
        elif value:
            errors[name] = value
    if params.get("reason"):
        lookups["reason"] = params["reason"]
    return lookups, errors


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Open cases of every platform, soonest deadline first (no deadline last)."""
    ws = workspace(request)
    ws.require(p.VIEW_ORDERS)
    now = timezone.now()
    params = request.GET.copy()
    size = _int(params.pop("size", ["50"])[-1], 50)
    size = size if size in PAGE_SIZES else 50
    page = page_number(params.pop("page", ["1"])[-1])
    lookups, errors = _filters(params)
    open_cases = _cases(ws).filter(state=CaseState.OPEN)
    kind = lookups.pop("kind", "")
    filtered = open_cases.filter(**lookups)
    counts = {
        row["kind"]: row["n"]
        for row in filtered.values("kind").annotate(n=Count("id")).order_by()
    }
    types = [{"key": "", "label": _("All"), "count": sum(counts.values())}]
    types += [
        {"key": k.value, "label": k.label, "count": counts.get(k.value, 0)}
        for k in CaseKind
    ]
    shown = filtered.filter(kind=kind) if kind else filtered
    if errors:
        shown = shown.none()
    rows = list(
        shown.select_related("order", "shop").order_by(
            F("due_at").asc(nulls_last=True), "id"
        )[(page - 1) * size : page * size + 1]
    )
    has_next = len(rows) > size
    rows = rows[:size]
    can_decide = ws.can(p.DECIDE_AFTERSALES)
    for case in rows:
        case.status_label = status_label(case)
        case.batchable = (
            can_decide
            and case.kind != CaseKind.DISPUTE
            and bool(_batch_action(case, "approve") or _batch_action(case, "reject"))
        )
    params.pop("type", None)
    context = {
        "ws": ws,
        "cases": rows,
        "types": types,
        "type": kind,
        "params": request.GET,
        "query": params.urlencode(),
        "filter_error": ", ".join(f"{k}={v}" for k, v in errors.items()),
        "page": page,
        "size": size,
        "has_next": has_next,
        "page_sizes": PAGE_SIZES,
        "platforms": platform_choices(),
        "shops": ws.shops,
        "tasks": SellerTask.choices,
        "reasons": list(
            open_cases.exclude(reason="")
            .order_by("reason")
            .values_list("reason", flat=True)
            .distinct()[:100]
        ),
        "can_decide": can_decide,
        "any_batchable": any(case.batchable for case in rows),
        "now": now,
    }
    return render(request, "aftersales/inbox.html", context)


def _batch_action(case: Case, verb: str) -> str | None:
    action = services.spec_of(case).action_for(verb)
    return action if action and action in services.actions_for(case) else None


@login_required
@require_POST
def batch(request: HttpRequest) -> HttpResponse:
    """Approve or reject the selected cases, each on its own: per-case results."""
    ws = workspace(request)
    ws.require(p.DECIDE_AFTERSALES)
    verb = request.POST.get("action", "")
    if verb not in BATCH_VERBS:
        raise Http404
    reason = request.POST.get("reason", "").strip()
    ids = [n for v in request.POST.getlist("ids") if (n := whole_number(v))][:BATCH_MAX]
    back = _back(request)
    if not ids:
        messages.error(request, _("Select at least one case."))
        return redirect(back)
    if verb == "reject" and not reason:
        messages.error(request, _("Give a reason: the platform shows it to the buyer."))
        return redirect(back)
    cases = list(
        _cases(ws)
        .filter(pk__in=ids)
        .select_related("order", "shop")
        .order_by(F("due_at").asc(nulls_last=True), "id")
    )
    results = []
    for case in cases:
        action = _batch_action(case, verb) if case.is_open else None
        if case.kind == CaseKind.DISPUTE:
            results.append(_result(case, None, _("Answer disputes on the case page, with a proposal and evidence.")))  # fmt: skip
            continue
        if action is None:
            results.append(_result(case, None, _("Not possible on this case now.")))
            continue
        try:
            # Each case in its own transaction: a refusal does not stop the others.
            done = services.act(case.pk, action, ws.actor, reason=reason)
        except OmsError as exc:
            results.append(_result(case, None, _refusal(exc)))
        else:
            done.order, done.shop = case.order, case.shop
            results.append(_result(done, action, ""))
    context = {
        "ws": ws,
        "verb": verb,
        "results": results,
        "count": len(ids),
        "done": sum(1 for r in results if r["ok"]),
        "missing": len(ids) - len(cases),
        "back": back,
    }
    return render(request, "aftersales/batch_result.html", context)


def _result(case: Case, action: str | None, reason: str) -> dict[str, Any]:
    case.status_label = status_label(case)
    return {
        "case": case,
        "ok": action is not None,
        "action": ACTION_LABELS.get(action, action) if action else "",
        "reason": reason,
    }


def _refusal(exc: OmsError) -> str:
    fields = exc.details.get("fields")
    detail = (
        "; ".join(f"{k}: {v}" for k, v in fields.items())
        if isinstance(fields, dict)
        else ""
    )
    return f"{exc.message} {detail}".strip()


def _back(request: HttpRequest) -> str:
    back = request.POST.get("back") or reverse("aftersales:inbox")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("aftersales:inbox")
    return back


# --- the case page ------------------------------------------------------------------------


@dataclass
class Decision:
    """One action the seller may take on the case now, as a form."""

    action: str
    transition: CaseTransition
    allowed: bool  # the member's role may take it
    dispute: bool
    label: str = ""
    error: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def needs_reason(self) -> bool:
        return self.transition.needs_reason

    @property
    def danger(self) -> bool:
        return self.action in DANGER

    @property
    def proposal(self) -> bool:
        return self.dispute and self.action in ("refuse", "respond")

    @property
    def evidence(self) -> bool:
        return self.action in WITH_EVIDENCE


def _decisions(ws: Workspace, case: Case) -> list[Decision]:
    spec = services.spec_of(case)
    out = []
    for action in services.actions_for(case):
        transition = spec.plan(
            case.native_status, action, ActorKind.MEMBER, has_return=case.has_return
        )
        if transition.extends_due and case.due_extended:
            continue  # once only: the service would refuse it
        out.append(
            Decision(
                action=action,
                transition=transition,
                allowed=not transition.permission or ws.can(transition.permission),
                dispute=case.kind == CaseKind.DISPUTE,
                label=str(ACTION_LABELS.get(action, action)),
            )
        )
    return out


def _links(files: list[Any]) -> list[dict[str, str]]:
    """Evidence as ``{"name", "url"}``; only http(s) addresses become links."""
    out = []
    for item in files or []:
        if isinstance(item, dict):
            url, name = str(item.get("url") or ""), str(item.get("name") or "")
        else:
            url, name = str(item), ""
        safe = url.startswith(("https://", "http://"))
        out.append(
            {"url": url if safe else "", "name": name or url.rsplit("/", 1)[-1] or url}
        )
    return out


def _get_case(ws: Workspace, case_id: int) -> Case:
    try:
        return services.get_case(ws.actor, case_id)
    except NotFound:
        raise Http404(_("No such after-sales case.")) from None


def _case_context(ws: Workspace, case: Case, decisions: list[Decision]) -> dict:
    spec = services.spec_of(case)
    status = spec.status(case.native_status)
    case.status_label = _(status.label)
    return {
        "ws": ws,
        "case": case,
        "order": case.order,
        "shop": case.shop,
        # The machines' wording of what happens at the deadline, in the reader's language.
        "due_doc": _(status.due.doc) if status.due and case.due_at else "",
        "items": case.items.select_related("order_item").order_by("id"),
        "evidence": _links(case.evidence),
        "seller_evidence": _links(case.seller_evidence),
        "events": case.events.order_by("created_at", "id"),
        "decisions": decisions,
        "now": timezone.now(),
    }


@login_required
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    ws = workspace(request)
    ws.require(p.VIEW_ORDERS)
    case = _get_case(ws, case_id)
    return render(
        request, "aftersales/case.html", _case_context(ws, case, _decisions(ws, case))
    )


def _evidence_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@login_required
@require_POST
def case_action(request: HttpRequest, case_id: int) -> HttpResponse:
    """One action from the case page. A refusal re-renders the page with the form's
    errors (and the member's input); nothing changes."""
    ws = workspace(request)
    ws.require(p.VIEW_ORDERS)
    case = _get_case(ws, case_id)
    action = request.POST.get("action", "")
    version = request.POST.get("version", "")
    post = request.POST
    proposal: dict[str, Any] = {}
    if case.kind == CaseKind.DISPUTE and action in ("refuse", "respond"):
        if post.get("proposal_amount", "").strip():
            proposal["amount"] = post["proposal_amount"].strip()
        proposal["return"] = post.get("proposal_return") == "on"
        if post.get("proposal_note", "").strip():
            proposal["note"] = post["proposal_note"].strip()
    try:
        services.act(
            case.pk,
            action,
            ws.actor,
            reason=post.get("reason", ""),
            expected_version=whole_number(version),
            proposal=proposal or None,
            evidence=_evidence_lines(post.get("evidence", "")),
        )
    except OmsError as exc:
        decisions = _decisions(ws, case)
        fields = exc.details.get("fields")
        fields = fields if isinstance(fields, dict) else {}
        target = next((d for d in decisions if d.action == action), None)
        message = _refusal(exc) if target is None else exc.message
        if target is None:
            messages.error(request, f"{_('Refused')}: {message}")
        else:
            target.error = message
            target.errors = {
                _field_name(name): str(value) for name, value in fields.items()
            }
            target.values = {
                name: post.get(name, "")
                for name in (
                    "reason",
                    "proposal_amount",
                    "proposal_note",
                    "proposal_return",
                    "evidence",
                )
            }
        context = _case_context(ws, case, decisions)
        return render(request, "aftersales/case.html", context, status=exc.http_status)
    messages.success(request, _("Done."))
    return redirect("aftersales:case", case_id=case.pk)


def _field_name(name: str) -> str:
    """The form field a service error names (``proposal.amount``, ``evidence[2]``)."""
    if name.startswith("evidence"):
        return "evidence"
    return {"proposal.amount": "proposal_amount"}.get(name, name)
