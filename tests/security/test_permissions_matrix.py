"""The role × action matrix, generated from the one permission table
(``orders.permissions.ROLE_PERMISSIONS``).

Every permission of the table has one or more ``Exercise``s (one per action it covers:
``logistics.ship`` is shipping, printing a batch, its PDFs, reprint, scan and tracking
events): the API call and the dashboard form that perform it, on an object made for the
purpose, and how to tell the change happened. For every role × permission, through the API (a signed-in member's session)
and through the page: allowed → not 403 and the change happens; refused → 403 (the
API's JSON error shape, ``permission_denied``) and nothing changes. Through the API, an
API key with the route's declared scope may, one without it gets ``missing_scope``.

A permission added to the table without an exercise fails ``test_every_permission_has_
an_exercise``. A surface a permission has no way through today (no page for API keys'
ingest, no export or analytics yet) is declared ``Absent`` with the reason, and the
matrix checks that no view of that surface checks the permission.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

import aftersales.views
import logistics.views
import orders.views
from aftersales import services as case_services
from aftersales.choices import CaseKind, CaseState
from aftersales.models import Note
from integrations.api.checks import api_views
from integrations.models import ApiKey, Scope, WebhookSubscription
from logistics import merging, print_batches
from logistics.models import Carrier, Package, PrintBatch, TrackingEvent
from orders import actions
from orders import permissions as p
from orders.choices import Role, Stage
from orders.models import Order
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order, order_payload
from tests.logistics.test_shipping import make_pool

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE, Role.WAREHOUSE]
DASHBOARD_VIEWS = (orders.views, logistics.views, aftersales.views)
ERROR_KEYS = {"code", "message", "details"}


@dataclass(frozen=True)
class Absent:
    """No way through this surface today, and why."""

    reason: str


@dataclass(frozen=True)
class Call:
    method: str
    path: Callable[[Any], str]
    body: Callable[[Any], dict] = lambda obj: {}


@dataclass(frozen=True)
class Exercise:
    name: str
    setup: Callable[[Any], Any]  # shop → the object acted on
    api: Call | Absent
    page: Call | Absent
    done: Callable[[Any], bool]  # the change happened (a read: always True)
    read: bool = False


def reload(obj):
    obj.refresh_from_db()
    return obj


def owner(shop) -> Actor:
    return Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    )


def held(shop) -> Order:
    order = make_order(shop, "WAIT_SELLER_SEND_GOODS")
    actions.perform(order.pk, "hold", owner(shop), reason="check")
    return reload(order)


def mergeable(shop) -> list[Order]:
    return [make_order(shop, "WAIT_SELLER_SEND_GOODS") for _ in range(2)]


def shippable(shop) -> Order:
    Carrier.objects.get_or_create(
        code="YUNDA",
        defaults={"name": "韵达快递", "platform_codes": {"taobao": "YUNDA"}},
    )
    return make_order(shop, "WAIT_SELLER_SEND_GOODS")


def refund_case(shop):
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    case, _ = case_services.open_case(order, CaseKind.REFUND, Actor.platform("taobao"))
    return case


def return_case(shop):
    order = make_order(shop, "WAIT_BUYER_CONFIRM_GOODS")
    case, _ = case_services.open_case(
        order,
        CaseKind.RETURN,
        Actor.platform("taobao"),
        status="WAIT_SELLER_CONFIRM_GOODS",
    )
    return case


def observation(order) -> dict:
    payload = order_payload(
        order.shop,
        order.native_status,
        platform_order_id=order.platform_order_id,
        platform_updated_at=(
            order.platform_updated_at + timedelta(minutes=1)
        ).isoformat(),
        buyer_message="seen by the platform",
    )
    return {"orders": [{**payload, "shop": order.shop_id}]}


def subscription(shop) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        organisation=shop.organisation, url="https://erp.invalid/hook", events=["*"]
    )


def printed(shop) -> PrintBatch:
    """A batch of one order, printed by an owner (numbers from a pool)."""
    order = shippable(shop)
    make_pool(shop.organisation, Carrier.objects.get(code="YUNDA"), count=5)
    batch, _ = print_batches.print_labels(
        organisation=shop.organisation,
        actor=owner(shop),
        order_ids=[order.pk],
        carrier_code="YUNDA",
    )
    return batch


def parcel(batch: PrintBatch) -> Package:
    return print_batches.entries_of(batch)[0].package


def to_print(shop) -> Order:
    order = shippable(shop)
    make_pool(shop.organisation, Carrier.objects.get(code="YUNDA"), count=5)
    return order


def delivered_event(batch: PrintBatch) -> dict:
    return {
        "events": [
            {
                "carrier": "YUNDA",
                "tracking_number": parcel(batch).tracking_number,
                "occurred_at": timezone.now().isoformat(),
                "code": "in_transit",
            }
        ]
    }


def batch_url(suffix: str = "") -> Callable[[PrintBatch], str]:
    return lambda batch: f"/api/v1/print-batches/{batch.pk}/{suffix}"


def batch_page(suffix: str) -> Callable[[PrintBatch], str]:
    return lambda batch: f"/warehouse/batches/{batch.pk}/{suffix}"


def order_url(suffix: str = "") -> Callable[[Order], str]:
    return lambda order: f"/api/v1/orders/{order.pk}/{suffix}"


def page_url(action: str) -> Callable[[Order], str]:
    return lambda order: f"/orders/{order.pk}/{action}/"


NO_PAGE_FOR_ORGANISATION = Absent(
    "shops, members, policies, API keys and webhooks have no dashboard page yet "
    "(webhooks through the API, the rest in the Django admin, staff only)"
)

EXERCISES: dict[str, list[Exercise]] = {
    p.VIEW_ORDERS: [
        Exercise(
            name="view_orders",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call("get", order_url()),
            page=Call("get", lambda order: f"/orders/{order.pk}/"),
            done=lambda order: True,
            read=True,
        )
    ],
    p.MEMO: [
        Exercise(
            name="memo",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call("post", order_url("memo/"), lambda order: {"memo": "matrix"}),
            page=Call("post", page_url("memo"), lambda order: {"memo": "matrix"}),
            done=lambda order: reload(order).seller_memo == "matrix",
        ),
        Exercise(
            name="note",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call("post", order_url("notes/"), lambda order: {"body": "matrix"}),
            page=Absent("notes are written through the API only"),
            done=lambda order: Note.objects.filter(body="matrix").exists(),
        ),
    ],
    p.HOLD: [
        Exercise(
            name="hold",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call("post", order_url("hold/"), lambda order: {"reason": "matrix"}),
            page=Call("post", page_url("hold"), lambda order: {"reason": "matrix"}),
            done=lambda order: reload(order).on_hold,
        )
    ],
    p.RELEASE: [
        Exercise(
            name="release",
            setup=held,
            api=Call("post", order_url("release/")),
            page=Call("post", page_url("release")),
            done=lambda order: not reload(order).on_hold,
        )
    ],
    p.ADJUST_PRICE: [
        Exercise(
            name="adjust_price",
            setup=lambda shop: make_order(shop, "WAIT_BUYER_PAY"),
            api=Call(
                "post", order_url("adjust-price/"), lambda order: {"total": "88.00"}
            ),
            page=Call(
                "post", page_url("adjust_price"), lambda order: {"total": "88.00"}
            ),
            done=lambda order: reload(order).total == Decimal("88.00"),
        )
    ],
    p.CANCEL: [
        Exercise(
            name="cancel",
            setup=lambda shop: make_order(shop, "WAIT_BUYER_PAY"),
            api=Call("post", order_url("cancel/"), lambda order: {"reason": "缺货"}),
            page=Call("post", page_url("cancel"), lambda order: {"reason": "缺货"}),
            done=lambda order: reload(order).stage == Stage.CLOSED,
        )
    ],
    p.EDIT_ADDRESS: [
        Exercise(
            name="edit_address",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call(
                "post",
                order_url("address/"),
                lambda order: {"address": {"street": "Matrix 1"}},
            ),
            page=Call(
                "post", page_url("edit_address"), lambda order: {"street": "Matrix 1"}
            ),
            done=lambda order: reload(order).address_street == "Matrix 1",
        )
    ],
    p.MERGE_SPLIT: [
        Exercise(
            name="merge_split",
            setup=mergeable,
            api=Call(
                "post",
                lambda orders: "/api/v1/merge-groups/",
                lambda orders: {"order_ids": [o.pk for o in orders]},
            ),
            page=Call(
                "post",
                lambda orders: "/warehouse/merge/",
                lambda orders: {"ids": [o.pk for o in orders]},
            ),
            done=lambda orders: merging.group_orders(orders[0].pk) is not None,
        )
    ],
    p.SHIP: [
        Exercise(
            name="ship",
            setup=shippable,
            api=Call(
                "post",
                order_url("ship/"),
                lambda order: {"carrier": "YUNDA", "tracking_number": "YD9000000001"},
            ),
            page=Call(
                "post",
                lambda order: f"/orders/{order.pk}/ship/",
                lambda order: {"carrier": "YUNDA", "tracking_number": "YD9000000001"},
            ),
            done=lambda order: Package.objects.filter(order=order).exists(),
        ),
        Exercise(
            name="print_batch",
            setup=to_print,
            api=Call(
                "post",
                lambda order: "/api/v1/print-batches/",
                lambda order: {"order_ids": [order.pk], "carrier": "YUNDA"},
            ),
            page=Call(
                "post",
                lambda order: "/warehouse/print/",
                lambda order: {"ids": [order.pk], "carrier": "YUNDA"},
            ),
            done=lambda order: Package.objects.filter(order=order).exists(),
        ),
        Exercise(
            name="batch_detail",
            setup=printed,
            api=Call("get", batch_url()),
            page=Call("get", batch_page("")),
            done=lambda batch: True,
            read=True,
        ),
        Exercise(
            name="labels",
            setup=printed,
            api=Call("get", batch_url("labels.pdf")),
            page=Call("get", batch_page("labels.pdf")),
            done=lambda batch: True,
            read=True,
        ),
        Exercise(
            name="packing_slips",
            setup=printed,
            api=Call("get", batch_url("packing-slips.pdf")),
            page=Call("get", batch_page("packing-slips.pdf")),
            done=lambda batch: True,
            read=True,
        ),
        Exercise(
            name="pick_list",
            setup=printed,
            api=Call("get", batch_url("pick-list.pdf")),
            page=Call("get", batch_page("pick-list.pdf")),
            done=lambda batch: True,
            read=True,
        ),
        Exercise(
            name="reprint",
            setup=printed,
            api=Call("post", batch_url("reprint/")),
            page=Call("post", batch_page("labels.pdf")),
            done=lambda batch: reload(batch).times_printed == 2,
        ),
        Exercise(
            name="scan",
            setup=printed,
            api=Call(
                "post",
                batch_url("scan/"),
                lambda batch: {"tracking_number": parcel(batch).tracking_number},
            ),
            page=Call(
                "post",
                batch_page("scan/"),
                lambda batch: {"tracking_number": parcel(batch).tracking_number},
            ),
            done=lambda batch: reload(parcel(batch)).scanned_at is not None,
        ),
        Exercise(
            name="tracking_events",
            setup=printed,
            api=Call("post", lambda batch: "/api/v1/tracking-events/", delivered_event),
            page=Absent(
                "tracking events are pushed by carriers and integrations, no page"
            ),
            done=lambda batch: TrackingEvent.objects.filter(
                package=parcel(batch)
            ).exists(),
        ),
    ],
    p.DECIDE_AFTERSALES: [
        Exercise(
            name="decide_aftersales",
            setup=refund_case,
            api=Call("post", lambda case: f"/api/v1/cases/{case.pk}/agree/"),
            page=Call(
                "post",
                lambda case: f"/aftersales/cases/{case.pk}/act/",
                lambda case: {"action": "agree", "version": "1"},
            ),
            done=lambda case: reload(case).state != CaseState.OPEN,
        )
    ],
    p.CONFIRM_RETURN: [
        Exercise(
            name="confirm_return",
            setup=return_case,
            api=Call("post", lambda case: f"/api/v1/cases/{case.pk}/confirm_goods/"),
            page=Call(
                "post",
                lambda case: f"/aftersales/cases/{case.pk}/act/",
                lambda case: {"action": "confirm_goods", "version": "1"},
            ),
            done=lambda case: reload(case).native_status == "SUCCESS",
        )
    ],
    p.INGEST: [
        Exercise(
            name="ingest",
            setup=lambda shop: make_order(shop, "WAIT_SELLER_SEND_GOODS"),
            api=Call("post", lambda order: "/api/v1/orders/bulk-upsert/", observation),
            page=Absent(
                "platform observations come from platforms and integrations only"
            ),
            done=lambda order: reload(order).buyer_message == "seen by the platform",
        )
    ],
    p.MANAGE_ORGANISATION: [
        Exercise(
            name="manage_organisation",
            setup=subscription,
            api=Call("delete", lambda sub: f"/api/v1/webhooks/{sub.pk}/"),
            page=NO_PAGE_FOR_ORGANISATION,
            done=lambda sub: not WebhookSubscription.objects.filter(pk=sub.pk).exists(),
        )
    ],
    p.EXPORT_PERSONAL_DATA: [
        Exercise(
            name="export_personal_data",
            setup=lambda shop: None,
            api=Absent("exports are not built yet (no export endpoint)"),
            page=Absent("exports are not built yet (no export page)"),
            done=lambda obj: True,
        )
    ],
    p.ANALYTICS: [
        Exercise(
            name="analytics",
            setup=lambda shop: None,
            api=Absent("analytics is not built yet (the app is empty)"),
            page=Absent("analytics is not built yet (the app is empty)"),
            done=lambda obj: True,
        )
    ],
}


def test_every_permission_has_an_exercise():
    assert set(EXERCISES) == p.ALL_PERMISSIONS


def test_every_role_of_the_product_is_in_the_table():
    assert set(p.ROLE_PERMISSIONS) == set(Role.values) == set(ROLES)


MISSING = Exercise(
    name="missing",
    setup=lambda shop: None,
    api=Absent("no exercise"),
    page=Absent("no exercise"),
    done=lambda obj: False,
)
# Every permission of the table × each of its exercises ("missing" when it has none,
# which fails: a new permission needs a way to exercise it).
CASES = [
    pytest.param(permission, index, id=f"{permission}-{exercise.name}")
    for permission in sorted(p.ALL_PERMISSIONS)
    for index, exercise in enumerate(EXERCISES.get(permission) or [MISSING])
]


def exercise_of(permission: str, index: int) -> Exercise:
    """The exercise; fails for a permission without one."""
    exercises = EXERCISES.get(permission)
    assert exercises, f"{permission} has no exercise in the matrix"
    return exercises[index]


@pytest.fixture
def shop():
    return ShopFactory(platform="taobao")


def member_client(shop, role) -> APIClient:
    client = APIClient()
    client.force_login(
        MembershipFactory(organisation=shop.organisation, role=role).user
    )
    return client


def send(client, call: Call, obj):
    return getattr(client, call.method)(call.path(obj), call.body(obj), format="json")


def send_form(client, call: Call, obj):
    if call.method == "get":
        return client.get(call.path(obj))
    return getattr(client, call.method)(call.path(obj), call.body(obj))


def declared(call: Call, obj) -> tuple[str | None, str | None]:
    """The permission and scope the API route declares (``OmsApiView``)."""
    view = resolve(call.path(obj)).func.view_class
    return view.permission_for(call.method), view.scope_for(call.method)


@pytest.mark.parametrize("permission", sorted(p.ALL_PERMISSIONS))
def test_a_surface_without_an_exercise_really_has_no_way_through(permission):
    """A permission no API exercise reaches is declared by no API view; one no page
    exercise reaches is checked by no dashboard view."""
    exercises = EXERCISES.get(permission, [])
    if all(isinstance(exercise.api, Absent) for exercise in exercises):
        for _route, view in api_views():
            methods = ("get", "post", "patch", "delete")
            assert permission not in {view.permission_for(m) for m in methods}, (
                f"{view.__name__} declares {permission}: give it an exercise"
            )
    if all(isinstance(exercise.page, Absent) for exercise in exercises):
        name = next(n for n, v in vars(p).items() if v == permission and n.isupper())
        for module in DASHBOARD_VIEWS:
            assert f"p.{name}" not in inspect.getsource(module), (
                f"{module.__name__} checks {permission}: give it an exercise"
            )


@pytest.mark.parametrize(("permission", "index"), CASES)
@pytest.mark.parametrize("role", ROLES)
def test_api_member(shop, role, permission, index):
    exercise = exercise_of(permission, index)
    if isinstance(exercise.api, Absent):
        return  # test_a_surface_without_an_exercise_really_has_no_way_through
    obj = exercise.setup(shop)
    assert declared(exercise.api, obj)[0] == permission
    response = send(member_client(shop, role), exercise.api, obj)
    if p.role_allows(role, permission):
        assert response.status_code in (200, 201, 204), response.content
        assert exercise.done(obj)
    else:
        assert response.status_code == 403, response.content
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == ERROR_KEYS
        assert body["error"]["code"] == "permission_denied"
        assert exercise.read or not exercise.done(obj)


@pytest.mark.parametrize(("permission", "index"), CASES)
@pytest.mark.parametrize("role", ROLES)
def test_page(shop, role, permission, index):
    exercise = exercise_of(permission, index)
    if isinstance(exercise.page, Absent):
        return  # test_a_surface_without_an_exercise_really_has_no_way_through
    obj = exercise.setup(shop)
    response = send_form(member_client(shop, role), exercise.page, obj)
    if p.role_allows(role, permission):
        assert response.status_code in (200, 302), response.status_code
        assert exercise.done(obj)
    else:
        assert response.status_code == 403
        assert exercise.read or not exercise.done(obj)


@pytest.mark.parametrize(("permission", "index"), CASES)
@pytest.mark.parametrize("with_scope", [True, False], ids=["scope", "no-scope"])
def test_api_key(shop, permission, index, with_scope):
    exercise = exercise_of(permission, index)
    if isinstance(exercise.api, Absent):
        return  # test_a_surface_without_an_exercise_really_has_no_way_through
    obj = exercise.setup(shop)
    _, scope = declared(exercise.api, obj)
    scopes = [scope] if with_scope else [s for s in Scope.values if s != scope]
    _, raw = ApiKey.issue(organisation=shop.organisation, name="matrix", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = send(client, exercise.api, obj)
    if with_scope:
        assert response.status_code in (200, 201, 204), response.content
        assert exercise.done(obj)
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["details"] == {"reason": "missing_scope"}
        assert exercise.read or not exercise.done(obj)
