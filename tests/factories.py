"""Factories for organisations, shops, members and orders.

Orders are made through the public ingest service (``orders.ingest.ingest_order``) so
every test order has the stage, overlays, deadlines and timeline the product would give it.
"""

import itertools
from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from orders.choices import ActorKind, Role
from orders.ingest import ingest_order
from orders.machine import RESUME
from orders.models import Membership, Order, Organisation, Shop
from orders.platforms import get_platform, get_spec, platform_codes
from orders.services import Actor, apply_event

_order_ids = itertools.count(1)

# What a shop gets when its platform declares no default (``Platform.shop_defaults``).
FALLBACK_SHOP = {"market": "", "timezone": "UTC", "currency": "USD"}


def shop_default(platform: str, name: str) -> str:
    """The platform's default ``name`` (market, timezone, currency) for a new shop."""
    defaults = get_platform(platform).shop_defaults
    return defaults.get(name, FALLBACK_SHOP[name])


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Seller {n}")
    slug = factory.Sequence(lambda n: f"seller-{n}")


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    organisation = factory.SubFactory(OrganisationFactory)
    # The first installed platform (settings.OMS_PLATFORMS), unless a test names one.
    platform = factory.LazyFunction(lambda: platform_codes()[0])
    name = factory.Sequence(lambda n: f"Shop {n}")
    market = factory.LazyAttribute(lambda o: shop_default(o.platform, "market"))
    timezone = factory.LazyAttribute(lambda o: shop_default(o.platform, "timezone"))
    currency = factory.LazyAttribute(lambda o: shop_default(o.platform, "currency"))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.OWNER


def order_payload(shop: Shop, status: str, **overrides: Any) -> dict[str, Any]:
    """A unified-shape payload for ``shop`` in native ``status``."""
    now = timezone.now()
    payload = {
        "platform_order_id": f"{next(_order_ids):018d}",
        "native_status": status,
        "platform_updated_at": now.isoformat(),
        "created_at": (now - timedelta(hours=1)).isoformat(),
        "buyer": {
            "nick": "buyer_nick",
            "name": "张三",
            "phone": "13812345678",
            "email": "",
        },
        "address": {
            "country": "CN",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "street": "文三路 100 号",
            "postcode": "310000",
        },
        "items": [
            {
                "sku": "SKU-1",
                "title": "T-shirt",
                "spec": "Black, L",
                "quantity": 2,
                "unit_price": "49.90",
                "discount": "0",
            },
        ],
        "currency": shop.currency,
        "shipping_fee": "8.00",
        "discount": "0",
        "total": "107.80",
        "buyer_message": "",
        "channel": "organic_search",
    }
    payload.update(overrides)
    return payload


def make_order(shop: Shop, status: str, **overrides: Any) -> Order:
    """An order of ``shop`` in ``status``, created through ingest."""
    result = ingest_order(
        shop=shop,
        payload=order_payload(shop, status, **overrides),
        actor=Actor.platform(shop.platform),
    )
    return result.order


def is_resumable(spec, status: str) -> bool:
    return any(t.target == RESUME for t in spec.transitions_from(status))


def order_in(shop: Shop, status: str) -> Order:
    """An order in ``status`` reached the way the platform reaches it.

    Statuses that interrupt another one (AliExpress IN_ISSUE …) are entered by their
    transition from an ordinary status, so the order knows where it will return to.
    """
    spec = get_spec(shop.platform)
    if not is_resumable(spec, status):
        return make_order(shop, status)
    for transition in spec.transitions:
        sources = [s for s in sorted(transition.sources) if not is_resumable(spec, s)]
        if transition.target == status and sources:
            order = make_order(shop, sources[0])
            actor_kind = next(iter(sorted(transition.actors)))
            return apply_event(order, transition.action, actor_for(actor_kind, shop))
    raise AssertionError(f"no way into {status}")


def actor_for(kind: str, shop: Shop) -> Actor:
    if kind == ActorKind.MEMBER:
        membership = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
        return Actor.member(membership)
    if kind == ActorKind.API_CLIENT:
        return Actor.api_client("erp", organisation_id=shop.organisation_id)
    if kind == ActorKind.PLATFORM:
        return Actor.platform(shop.platform)
    return Actor.system("test")
