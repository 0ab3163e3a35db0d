"""The probe's world: two organisations, shops, members of every role, API keys, orders.

Everything is made through the project's own factories and services (orders through
ingest, cases through ``open_case``, print batches through ``print_labels``), so the
data has the shape production data has.
"""

import itertools
from dataclasses import dataclass, field

from soak.client import Api, Principal

APP_KEY, APP_SECRET = "soak_app_key", "soak_app_secret"
_tracking = itertools.count(10_000_000)


@dataclass
class Target:
    """Objects of one shop: what a probe points at (own shop, other shop, other org)."""

    name: str
    shop: object
    order: object = None
    case: object = None
    batch: object = None
    subscription: object = None
    delivery: object = None


@dataclass
class World:
    api: Api
    orgs: dict = field(default_factory=dict)
    shops: dict = field(default_factory=dict)
    principals: list[Principal] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    owner_b: Principal | None = None
    passwords: dict = field(default_factory=dict)

    def principal(self, name: str) -> Principal:
        return next(p for p in self.principals if p.name == name)


def _simulator(platform: str):
    from orders.sandbox import simulator

    return simulator(platform)


def sample_statuses(shop) -> tuple[str, ...]:
    """A few ordinary statuses of the shop's platform (its simulator's)."""
    return tuple(_simulator(shop.platform).SAMPLE_STATUSES)


def fresh_order(shop, status: str | None = None, **overrides):
    """An order of ``shop`` in ``status`` (default: paid, waiting to be shipped)."""
    from tests.factories import make_order

    status = status or _simulator(shop.platform).READY_TO_SHIP
    return make_order(shop, status, **overrides)


def awaiting(shop):
    return fresh_order(shop)


def fresh_case(shop):
    """A buyer's request on a fresh order: the first kind the platform's simulator
    opens on an order waiting to be shipped."""
    from aftersales.sandbox import scenarios_for
    from aftersales.services import open_case
    from orders.services import Actor

    order = awaiting(shop)
    kind = next(
        s.kind
        for s in scenarios_for(shop.platform)
        if order.native_status in s.order_statuses
    )
    return open_case(order, kind, Actor.platform(shop.platform))[0]


def shipped_batch(shop, actor, also=None):
    """A print batch holding one order of ``shop`` (and one of shop ``also``)."""
    from logistics.print_batches import print_labels

    order_ids = []
    for each in filter(None, (shop, also)):
        order = awaiting(each)
        order_ids.append(order.pk)
        _ship(order, actor)
    batch, _ = print_labels(
        organisation=shop.organisation,
        actor=actor,
        order_ids=order_ids,
        carrier_code="YUNDA",
    )
    return batch


def _ship(order, actor):
    from logistics.shipping import ship

    ship(
        order.pk,
        actor=actor,
        carrier_code="YUNDA",
        tracking_number=f"YD{next(_tracking)}",
    )


def fresh_subscription(organisation, url: str):
    from integrations.models import WebhookSubscription
    from integrations.webhooks import EVENT_TYPES

    return WebhookSubscription.objects.create(
        organisation=organisation, url=url, events=list(EVENT_TYPES)
    )


def quiet(*organisations) -> None:
    """Stop an organisation's subscriptions, so its later events queue no deliveries:
    the crash area measures deliveries in an organisation of its own, and a backlog of
    others' deliveries would only slow the worker down for the other areas."""
    from integrations.models import WebhookSubscription

    WebhookSubscription.objects.filter(organisation__in=organisations).update(
        is_active=False
    )


def seed(api: Api, receiver_url: str, *, orders_per_status: int = 2) -> World:
    from django.contrib.auth import get_user_model

    from integrations.models import ApiKey, Scope, WebhookDelivery
    from orders.choices import Role
    from orders.models import Membership
    from orders.services import Actor
    from tests.factories import OrganisationFactory, ShopFactory, make_order

    world = World(api=api)
    org_a = OrganisationFactory(name="Soak A", slug="soak-a")
    org_b = OrganisationFactory(name="Soak B", slug="soak-b")
    world.orgs = {"A": org_a, "B": org_b}
    # Subscriptions first, so every order event below fans out into deliveries.
    subs = {
        "A": fresh_subscription(org_a, receiver_url),
        "B": fresh_subscription(org_b, receiver_url),
    }
    keys = {"app_key": APP_KEY, "app_secret": APP_SECRET}
    world.shops = {
        "A1": ShopFactory(organisation=org_a, platform="taobao", name="A1 taobao"),
        "A2": ShopFactory(organisation=org_a, platform="taobao", name="A2 taobao"),
        "A3": ShopFactory(
            organisation=org_a, platform="tiktok", name="A3 tiktok", **keys
        ),
        "A4": ShopFactory(
            organisation=org_a, platform="aliexpress", name="A4 aliexpress", **keys
        ),
        "B1": ShopFactory(organisation=org_b, platform="taobao", name="B1 taobao"),
        "B2": ShopFactory(
            organisation=org_b, platform="tiktok", name="B2 tiktok", **keys
        ),
    }
    for shop in world.shops.values():
        for status in sample_statuses(shop):
            for _ in range(orders_per_status):
                make_order(shop, status)

    # Members of every role (and shop-limited ones), then API keys.
    user_model = get_user_model()

    def member(org, role, name, shops=()):
        password = f"soak-{name}-Pw-2026!"
        user = user_model.objects.create_user(
            username=f"soak-{name}", password=password
        )
        membership = Membership.objects.create(user=user, organisation=org, role=role)
        membership.shops.set(shops)
        world.passwords[user.username] = password
        return Principal.member(api, name, user, role, shops=[s.pk for s in shops])

    a1 = world.shops["A1"]
    for role in (Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE, Role.WAREHOUSE):
        world.principals.append(member(org_a, role, str(role)))
    world.principals.append(member(org_a, Role.OPERATOR, "operator@A1", [a1]))
    world.principals.append(member(org_a, Role.WAREHOUSE, "warehouse@A1", [a1]))
    world.owner_b = member(org_b, Role.OWNER, "owner-B")

    def key(org, name, scopes, shops=()):
        api_key, raw = ApiKey.issue(
            organisation=org, name=f"soak {name}", scopes=scopes,
            rate_limit_per_minute=1_000_000,
        )  # fmt: skip
        if shops:
            api_key.shops.set(shops)
        return Principal.key(api, name, raw, scopes, shops=[s.pk for s in shops])

    world.principals.append(key(org_a, "key:all", list(Scope.values)))
    for scope in Scope.values:
        world.principals.append(key(org_a, f"key:{scope}", [scope]))
    world.principals.append(key(org_a, "key:all@A1", list(Scope.values), [a1]))

    # One target per shop the probes point at: own shop, another shop, another org.
    owner_actor = {
        "A": Actor.member(Membership.objects.get(user__username="soak-owner")),
        "B": Actor.member(Membership.objects.get(user__username="soak-owner-B")),
    }
    for name, shop_key in (("own", "A1"), ("other_shop", "A2"), ("other_org", "B1")):
        shop = world.shops[shop_key]
        org = "B" if shop_key.startswith("B") else "A"
        target = Target(name=name, shop=shop)
        target.order = awaiting(shop)
        target.case = fresh_case(shop)
        # Another shop's batch also holds an order of the own shop: a principal limited
        # to the own shop must still not see it (it contains another shop's order).
        also = world.shops["A1"] if name == "other_shop" else None
        target.batch = shipped_batch(shop, owner_actor[org], also)
        target.subscription = subs[org]
        target.delivery = WebhookDelivery.objects.filter(
            subscription=subs[org], payload__data__order__id=target.order.pk
        ).first()
        world.targets[name] = target
    quiet(org_a, org_b)  # the targets' deliveries exist now
    return world
