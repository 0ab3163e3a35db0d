"""The order simulators: every native status ingests as itself, and seed_demo works."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from oms.core.timeutils import parse_local
from orders.choices import Role
from orders.ingest import ingest_native
from orders.models import Membership, Order, Organisation, Shop
from orders.platforms import registry
from orders.sandbox import simulator, simulators

NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
SHOP_SETTINGS = {
    "taobao": {"market": "", "timezone": "Asia/Shanghai", "currency": "CNY"},
    "aliexpress": {"market": "", "timezone": "Asia/Shanghai", "currency": "USD"},
    "tiktok": {"market": "GB", "timezone": "Europe/London", "currency": "GBP"},
}
CASES = [
    (platform, status.code)
    for platform, spec in registry().items()
    for status in spec.statuses
]


@pytest.fixture
def org():
    return Organisation.objects.create(name="Sandbox Ltd", slug="sandbox")


@pytest.fixture
def shops(org):
    return {
        platform: Shop.objects.create(
            organisation=org, platform=platform, name=f"{platform} shop", **settings
        )
        for platform, settings in SHOP_SETTINGS.items()
    }


def test_every_platform_has_a_simulator_covering_its_statuses():
    assert set(simulators()) == set(registry())
    for platform, spec in registry().items():
        assert set(simulator(platform).STATUS_WEIGHTS) == set(spec.codes)
        assert all(w > 0 for w in simulator(platform).STATUS_WEIGHTS.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("platform", "status"), CASES)
def test_simulated_status_ingests_as_itself(shops, platform, status):
    spec = registry()[platform]
    rng = random.Random(f"{platform}:{status}")
    for attempt in range(5):
        sim = simulator(platform).simulate(status=status, now=NOW, rng=rng)
        result = ingest_native(
            shop=shops[platform], payload=sim.payload, channel=sim.channel
        )
        assert result.outcome == "created", attempt
        order = Order.objects.get(pk=result.order.pk)
        assert order.native_status == spec.normalise(status)
        assert order.channel == sim.channel
        items = list(order.items.all())
        assert items
        assert order.total > 0
        for amount in (order.total, order.items_total, order.shipping_fee):
            assert isinstance(amount, Decimal)
        assert all(isinstance(item.unit_price, Decimal) for item in items)
        # Totals add up: items − discount + shipping + tax.
        assert order.total == (
            order.items_total - order.discount + order.shipping_fee + order.tax
        )
        for moment in (order.created_at, order.paid_at, order.shipped_at,
                       order.completed_at, order.closed_at):  # fmt: skip
            assert moment is None or moment <= NOW
        assert order.created_at >= NOW - timedelta(days=91)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "status"),
    [(p, s) for p, module in simulators().items() for s in module.DUE_SOON],
)
def test_due_soon_puts_the_deadline_one_to_six_hours_ahead(shops, platform, status):
    sim = simulator(platform).simulate(
        status=status, now=NOW, rng=random.Random(7), due_soon=True
    )
    order = ingest_native(shop=shops[platform], payload=sim.payload).order
    assert order.next_deadline_kind in ("pay_by", "ship_by")
    assert (
        NOW + timedelta(hours=1) <= order.next_deadline_at <= NOW + timedelta(hours=6)
    )


def test_same_seed_same_payloads():
    for platform, module in simulators().items():
        first = [
            s.payload for s in module.stream(count=30, now=NOW, rng=random.Random(5))
        ]
        again = [
            s.payload for s in module.stream(count=30, now=NOW, rng=random.Random(5))
        ]
        other = [
            s.payload for s in module.stream(count=30, now=NOW, rng=random.Random(6))
        ]
        assert first == again, platform
        assert first != other, platform


def test_native_formats():
    rng = random.Random(3)
    trade = simulators()["taobao"].simulate(status="TRADE_FINISHED", now=NOW, rng=rng)
    assert len(trade.payload["tid"]) == 19
    assert trade.payload["tid"].isdigit()
    datetime.strptime(trade.payload["created"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    ae = simulators()["aliexpress"].simulate(status="FINISH", now=NOW, rng=rng)
    assert len(ae.payload["id"]) == 16
    assert ae.payload["order_end_reason"]
    assert set(ae.payload["order_amount"]) == {"amount", "currency_code"}
    tt = simulators()["tiktok"].simulate(
        status="COMPLETED", now=NOW, rng=rng, market="VN"
    )
    assert len(tt.payload["id"]) == 18
    assert isinstance(tt.payload["create_time"], int)
    assert "." not in tt.payload["payment"]["total_amount"]  # VND has no decimals
    assert all(
        isinstance(line["original_price"], str) for line in tt.payload["line_items"]
    )


def test_tiktok_lines_are_units_and_unpaid_has_no_address():
    rng = random.Random(11)
    for _ in range(20):
        sim = simulators()["tiktok"].simulate(status="UNPAID", now=NOW, rng=rng)
        assert "name" not in sim.payload["recipient_address"]
        if "cancel_order_sla_time" in sim.payload:
            deadline = sim.payload["cancel_order_sla_time"]
            assert deadline - sim.payload["create_time"] == 48 * 3600
        assert all("quantity" not in line for line in sim.payload["line_items"])


def test_stream_respects_days():
    sims = list(
        simulators()["taobao"].stream(count=200, now=NOW, rng=random.Random(1), days=10)
    )
    assert len(sims) == 200
    assert len({s.payload["tid"] for s in sims}) == 200
    oldest = min(parse_local(s.payload["created"], "Asia/Shanghai") for s in sims)
    assert oldest >= NOW - timedelta(days=10, minutes=1)


@pytest.mark.django_db
def test_seed_demo_creates_shops_members_orders_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", orders=60, seed=3, stdout=out)
    org = Organisation.objects.get(slug="demo")
    assert org.name == "Demo Trading Co."
    shops = {(s.platform, s.market): s for s in org.shops.all()}
    assert set(shops) == {
        ("taobao", ""),
        ("aliexpress", ""),
        ("tiktok", "GB"),
        ("tiktok", "MY"),
    }
    assert shops[("tiktok", "GB")].currency == "GBP"
    assert shops[("tiktok", "MY")].timezone == "Asia/Kuala_Lumpur"
    roles = dict(
        Membership.objects.filter(organisation=org).values_list(
            "user__username", "role"
        )
    )
    assert roles == {
        "owner": Role.OWNER,
        "operator": Role.OPERATOR,
        "service": Role.CUSTOMER_SERVICE,
        "warehouse": Role.WAREHOUSE,
    }
    owner = get_user_model().objects.get(username="owner")
    assert owner.is_superuser
    assert owner.check_password("demo")
    assert Order.objects.filter(organisation=org).count() == 60
    assert all(s.orders.exists() for s in shops.values())
    assert "demo data only" in out.getvalue()

    call_command("seed_demo", if_empty=True, orders=60, stdout=StringIO())
    assert Order.objects.count() == 60
    assert Organisation.objects.count() == 1

    with pytest.raises(CommandError, match="--if-empty"):
        call_command("seed_demo", orders=5, stdout=StringIO())

    call_command("seed_demo", reset=True, orders=20, stdout=StringIO())
    assert Order.objects.filter(organisation=org).count() == 20
