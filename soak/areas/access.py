"""Access: every operation x every principal x own shop / another shop / another organisation.

The expected outcome comes from the schema (``x-oms-permission``, ``x-oms-scope``; see
/work/wt/_notes/permission-contract.md) and ``orders.permissions.ROLE_PERMISSIONS``:

- a member whose role lacks the permission, or a key without the scope: 403 and nothing
  changes;
- an object of another organisation: 404 (403 for someone refused anyway), nothing changes;
- a member or key limited to some shops, on an object of another shop or one that
  CONTAINS an order of another shop (a print batch, a webhook delivery): 404, nothing
  changes; on an organisation-wide webhook subscription either a refusal or a reply
  without other shops' orders;
- otherwise the request is allowed: anything but 401/403/404 and 5xx (409, 400 … are the
  action's own answer);
- every 2xx JSON reply is searched for orders and cases (and /shops/ for shops): none
  may belong to another organisation, or (for a limited principal) to another shop.

An operation whose schema entry lacks ``x-oms-permission`` or ``x-oms-scope`` is a failure
of its own; the probe then falls back to ``FALLBACK_PERMISSIONS`` below and to the scope
the view declares, so the matrix still runs.
"""

import copy
import re
import uuid

from soak.result import AreaResult

# Used only while the schema does not carry x-oms-permission (the contract's names).
FALLBACK_PERMISSIONS = [
    (r"^/api/v1/webhooks/", "organisation.manage"),
    (r"/bulk-upsert/$|/cases/ingest/$", "orders.ingest"),
    (r"/memo/$|/notes/$", "orders.memo"),
    (r"/hold/$", "orders.hold"),
    (r"/release/$", "orders.release"),
    (r"/adjust-price/$", "orders.adjust_price"),
    (r"/address/$", "orders.edit_address"),
    (r"/orders/\{order_id\}/cancel/$", "orders.cancel"),
    (r"/orders/batch/\{action\}/$", "orders.memo"),  # probed with action=memo
    (r"/merge-groups/$|/merge/undo/$|/split/$|/split/undo/$", "orders.merge_split"),
    (r"/confirm_goods/$|/refuse_goods/$", "aftersales.confirm_return"),
    (r"^/api/v1/cases/.+/$", "aftersales.decide"),  # POST case actions and batches
    (r"/messages/$", "aftersales.decide"),
    (r"/ship/$|/print-batches/|/tracking-events/$|/redelivery/$", "logistics.ship"),
]
OBJECT_PARAMS = {
    "order_id": "order",
    "case_id": "case",
    "batch_id": "batch",
    "subscription_id": "subscription",
    "delivery_id": "delivery",
}
SHORT_PRINCIPALS = [
    "owner",
    "customer_service",
    "warehouse",
    "operator@A1",
    "key:orders:read",
    "key:all@A1",
]
DENIED_CODES = {"permission_denied", "missing_scope", "not_found"}


def fallback_permission(method: str, path: str) -> str:
    if method == "GET" and not path.startswith("/api/v1/webhooks/"):
        if "/print-batches/" in path:
            return "logistics.ship"
        return "orders.view"
    for pattern, permission in FALLBACK_PERMISSIONS:
        if re.search(pattern, path):
            return permission
    return "organisation.manage"


def view_scope(method: str, path: str) -> str:
    """The scope the view itself declares (the fallback for a missing x-oms-scope)."""
    from django.urls import resolve

    concrete = re.sub(r"\{action\}", "memo", re.sub(r"\{[a-z_]+\}", "1", path))
    view = resolve(concrete).func.view_class
    return view.scopes.get(method, view.scope) or ""


def example_body(operation: dict):
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or {}
    examples = media.get("examples") or {}
    if examples:
        return copy.deepcopy(next(iter(examples.values()))["value"])
    return {} if content else None


def fill_body(body, path: str, target, receiver: str):
    """The example body, pointed at ``target``'s objects."""
    if not isinstance(body, dict):
        return body
    order, case, shop = target.order, target.case, target.shop
    body.pop("version", None)
    body.pop("expected_version", None)
    if "url" in body:
        body["url"] = receiver  # never anything but the probe's own receiver
    if "ids" in body:
        body["ids"] = [case.pk] if path.startswith("/api/v1/cases/") else [order.pk]
    if "order_ids" in body:
        body["order_ids"] = [order.pk]
    for entry in body.get("tracking_numbers") or []:
        entry["id"] = order.pk
    for entry in body.get("orders") or []:
        entry["shop"] = shop.pk
        entry["platform_order_id"] = f"SOAK{uuid.uuid4().int % 10**15}"
    for entry in body.get("cases") or []:
        entry.update(shop=shop.pk, order_id=order.platform_order_id)
        entry["platform_case_id"] = f"SOAK{uuid.uuid4().int % 10**12}"
    return body


def digest(shop=None, organisation=None) -> tuple:
    """What a refused request must not change, for one shop or a whole organisation."""
    from django.db.models import Count, Max, Sum

    from aftersales.models import Case, Message, Note
    from integrations.models import WebhookSubscription
    from logistics.models import MergeGroup, Package, PrintBatchPackage, TrackingEvent
    from orders.models import Order, OrderEvent

    where = {"shop": shop} if shop else {"organisation": organisation}
    org = shop.organisation if shop else organisation
    orders = Order.objects.filter(**where)
    subscriptions = []
    if not shop:  # organisation-wide things only when guarding a whole organisation
        subscriptions = sorted(
            WebhookSubscription.objects.filter(organisation=org).values_list(
                "id", "url", "is_active"
            )
        )
    return (
        orders.aggregate(n=Count("id"), v=Sum("version"), m=Max("id")),
        OrderEvent.objects.filter(order__in=orders).count(),
        Case.objects.filter(**where).aggregate(n=Count("id"), v=Sum("version")),
        Message.objects.filter(order__in=orders).count(),
        Note.objects.filter(order__in=orders).count(),
        Package.objects.filter(order__in=orders).count(),
        TrackingEvent.objects.filter(package__order__in=orders).count(),
        PrintBatchPackage.objects.filter(package__order__in=orders).count(),
        MergeGroup.objects.filter(**where).count(),
        subscriptions,
    )


def shops_in(value, path: str) -> set[int]:
    """Shops of the orders and cases (dicts with ``platform_order_id`` and ``shop``) in a
    reply, and of the shops listed by /shops/."""
    found = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "platform_order_id" in item and isinstance(item.get("shop"), int):
                found.add(item["shop"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if path == "/api/v1/shops/" and isinstance(value, dict):
        found |= {
            s["id"]
            for s in value.get("results", [])
            if isinstance(s, dict) and "id" in s
        }
    return found


def leaks(principal, organisation, reply, path) -> list[int]:
    """Shops whose orders (or which) the reply shows but the principal may not see."""
    from orders.models import Shop

    shops = shops_in(reply, path)
    if not shops:
        return []
    own = set(
        Shop.objects.filter(organisation=organisation).values_list("pk", flat=True)
    )
    allowed = set(principal.shops) if principal.limited else own
    return sorted(shops - allowed)


def _missing_message(principal, method, path, body) -> str | None:
    """The 404 message this operation gives for an object that does not exist (id 0)."""
    nowhere = re.sub(r"/\d+/", "/0/", path)
    response = principal.request(method, nowhere, json=body)
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None


def _is_not_found_deny(principal, method, path, body, reply) -> bool:
    """A 404 on an allowed, reachable object is a wrong deny when it says what a missing
    object says; a 404 about something else ("This order is not merged.") is the
    action's own answer."""
    try:
        message = reply["error"]["message"]
    except (KeyError, TypeError):
        return True
    return message == _missing_message(principal, method, path, body)


def run(ctx, result: AreaResult) -> AreaResult:
    from orders.permissions import role_allows
    from soak import seed

    world = ctx.world
    org_a = world.orgs["A"]
    receiver = ctx.stack.receiver.url
    schema = (
        world.principal("key:all").request("GET", "/api/v1/schema/?format=json").json()
    )
    names = SHORT_PRINCIPALS if ctx.short else [p.name for p in world.principals]
    principals = [world.principal(n) for n in names]
    operations = []
    for path, methods in schema["paths"].items():
        if "/platforms/{shop_id}/webhook/" in path:
            continue  # the platforms' own door: no member, no key (see area replays)
        for method, operation in methods.items():
            method = method.upper()
            permission = operation.get("x-oms-permission")
            scope = operation.get("x-oms-scope")
            if not permission or not scope:
                result.fail(
                    f"{method} {path}: the schema lacks x-oms-permission/x-oms-scope"
                )
            operations.append(
                (
                    method,
                    path,
                    operation,
                    permission or fallback_permission(method, path),
                    scope or view_scope(method, path),
                )
            )
    # Deletions last, on a subscription of their own each time.
    operations.sort(key=lambda op: op[0] == "DELETE")
    ctx.log(f"    {len(operations)} operations x {len(principals)} principals")
    for method, path, operation, permission, scope in operations:
        params = re.findall(r"\{([a-z_]+)\}", path)
        object_op = any(p in OBJECT_PARAMS for p in params)
        collection = method == "GET" and not params
        for principal in principals:
            if principal.kind == "member":
                allowed = role_allows(principal.role, permission)
            else:
                allowed = scope in principal.scopes
            for target_name in ("own", "other_shop", "other_org"):
                if collection and target_name != "own":
                    continue
                if ctx.short and target_name == "other_shop" and not principal.limited:
                    continue  # for an unlimited principal another shop is its own
                if (
                    ctx.short
                    and target_name == "other_org"
                    and principal.name
                    not in (
                        "owner",
                        "key:all@A1",
                    )
                ):
                    continue
                target = world.targets[target_name]
                reachable = target_name == "own" or (
                    target_name == "other_shop" and not principal.limited
                )
                _probe(
                    ctx, result, principal, method, path, operation, target, allowed,
                    reachable, object_op, org_a, receiver,
                )  # fmt: skip
            if method in ("POST", "PATCH") and "/webhooks/" in path:
                seed.quiet(
                    *world.orgs.values()
                )  # subscriptions the probes made or woke
    return result


def _probe(ctx, result, principal, method, path, operation, target, allowed,
           reachable, object_op, org_a, receiver):  # fmt: skip
    from soak import seed

    concrete = path
    for name in re.findall(r"\{([a-z_]+)\}", path):
        if name == "action":
            value = "agree" if path.startswith("/api/v1/cases/") else "memo"
        elif name == "shop_id":
            value = target.shop.pk
        else:
            attribute = OBJECT_PARAMS[name]
            obj = getattr(target, attribute)
            if method == "DELETE" and attribute == "subscription":
                obj = seed.fresh_subscription(target.shop.organisation, receiver)
                seed.quiet(target.shop.organisation)
            value = obj.pk if obj is not None else 0
        concrete = concrete.replace("{" + name + "}", str(value))
    body = fill_body(example_body(operation), path, target, receiver)
    if method == "GET":
        body = None
    write = method != "GET"
    guard = {"shop": target.shop} if target.name != "own" else {"organisation": org_a}
    if target.name == "other_org":
        guard = {"organisation": target.shop.organisation}
    before = digest(**guard) if write else None
    label = f"{principal.name} {method} {concrete} [{target.name}]"
    try:
        response = principal.request(method, concrete, json=body)
    except Exception as exc:
        result.fail(f"{label}: {exc!r}")
        return
    status = response.status_code
    try:
        reply = response.json()
    except ValueError:
        reply = None
    code = (
        (reply or {}).get("error", {}).get("code") if isinstance(reply, dict) else None
    )
    problems = []
    if status >= 500:
        problems.append(f"server error {status}")
    # Webhooks belong to the organisation, not to a shop: a shop-limited principal is
    # refused them outright (403, whatever the object), or, on its own organisation's,
    # shown them without other shops' orders (checked below); never another's.
    org_level = principal.limited and path.startswith("/api/v1/webhooks/")
    if org_level:
        if status not in (403, 404) and not (
            200 <= status < 300 and target.name != "other_org"
        ):
            problems.append(f"shop-limited on webhooks: {status} {code}")
    elif not allowed:
        if status != 403 and not (status == 404 and not reachable):
            problems.append(f"wrong allow: {status} (role/scope lacks it)")
        elif code not in DENIED_CODES:
            problems.append(f"{status} without the error shape ({code})")
    elif not reachable:
        if object_op and status != 404:
            problems.append(f"expected 404, got {status}")
        elif not object_op and 200 <= status < 300 and method == "GET":
            pass  # lists: checked for leaks below
    elif status in (401, 403) or (
        status == 404 and _is_not_found_deny(principal, method, concrete, body, reply)
    ):
        problems.append(f"wrong deny: {status} {code}")
    if 200 <= status < 300 and reply is not None:
        leaked = leaks(principal, org_a, reply, concrete.split("?")[0])
        if leaked:
            problems.append(f"reply shows shops it must not show: {leaked[:5]}")
    refused = status in (403, 404) or not (200 <= status < 300)
    if write and (
        (org_level and refused) or (not org_level and (not allowed or not reachable))
    ):
        after = digest(**guard)
        if after != before:
            problems.append("a refused request changed data")
    kind = re.sub(r"\d+", "N", f"{method} {path}: {'; '.join(problems)}")
    result.check(not problems, f"{label}: {'; '.join(problems)}", kind=kind)
