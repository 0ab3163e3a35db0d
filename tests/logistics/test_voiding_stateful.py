"""Random sequences of merging, printing, partial shipping, hand-over scans, carrier
events and every kind of cancellation on TikTok Shop orders (hypothesis stateful).

After every step (RELIABILITY.md C9, "cancelled ⇒ 0 active shipments"): no parcel still
with the seller holds a closed order's items; a voided parcel was never handed over,
holds only closed orders and its number is void; every other parcel's number is used;
the pool counts one used number per live parcel and one void per voided parcel.
"""

import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from logistics import merging, shipping
from logistics import print_batches as pb
from logistics.models import Carrier, NumberStatus, Package, PackageStatus
from logistics.selectors import pool_stats
from logistics.services import pool_create_from_range
from logistics.tracking import ingest_tracking_events
from oms.core.errors import OmsError
from orders.choices import Role, Stage
from orders.ingest import ingest_order
from orders.models import Order
from orders.services import Actor, apply_event
from tests.factories import MembershipFactory, ShopFactory, make_order, order_payload

STATEFUL = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ITEMS = [
    {"sku": "A", "title": "A", "quantity": 1, "unit_price": "10", "discount": "0"},
    {"sku": "B", "title": "B", "quantity": 1, "unit_price": "10", "discount": "0"},
]
WHO = st.integers(min_value=0, max_value=2)
CANCELS = ("seller", "platform_status", "ship_timeout", "approve_cancel")


class ParcelMachine(RuleBasedStateMachine):
    @initialize()
    def create(self):
        self.shop = ShopFactory(platform="tiktok", market="MY")
        organisation = self.shop.organisation
        self.carrier, _ = Carrier.objects.get_or_create(
            code="YUNDA", defaults={"name": "韵达快递"}
        )
        self.pool = pool_create_from_range(
            organisation=organisation, carrier=self.carrier,
            prefix=f"S{self.shop.pk}X", start=1, end=60, width=4, price="0.80",
            currency="CNY", expires_at=None, name="stateful",
        )  # fmt: skip
        self.actor = Actor.member(
            MembershipFactory(organisation=organisation, role=Role.OWNER)
        )
        self.orders = [
            make_order(self.shop, "AWAITING_SHIPMENT", items=ITEMS, total="28.00")
            for _ in range(3)
        ]
        self.batches = []

    def order(self, index: int) -> Order:
        return Order.objects.get(pk=self.orders[index].pk)

    @rule()
    def merge_first_two(self):
        with contextlib.suppress(OmsError):
            merging.merge_orders(
                order_ids=[o.pk for o in self.orders[:2]], actor=self.actor
            )

    @rule(who=st.sets(WHO, min_size=1))
    def print_labels(self, who):
        batch, _pdf = pb.print_labels(
            organisation=self.shop.organisation,
            actor=self.actor,
            order_ids=[self.orders[i].pk for i in sorted(who)],
            carrier_code=self.carrier.code,
        )
        self.batches.append(batch)

    @rule(who=WHO)
    def ship_first_item(self, who):
        order = self.order(who)
        with contextlib.suppress(OmsError):
            shipping.ship(
                order.pk,
                actor=self.actor,
                carrier_code=self.carrier.code,
                allocate=True,
                items=[{"item": order.items.order_by("id")[0].pk, "quantity": 1}],
            )

    @rule(who=WHO, batch=st.integers(min_value=0, max_value=9))
    def scan(self, who, batch):
        if not self.batches:
            return
        batch = self.batches[batch % len(self.batches)]
        for package in (entry.package for entry in pb.entries_of(batch)):
            if self.orders[who].pk in _orders_in(package):
                pb.scan(
                    organisation=self.shop.organisation,
                    actor=self.actor,
                    batch=batch,
                    tracking_number=package.tracking_number,
                )

    @rule(who=WHO)
    def carrier_accepts(self, who):
        for package in Package.objects.filter(order=self.orders[who]):
            ingest_tracking_events(
                organisation=self.shop.organisation,
                events=[
                    {
                        "carrier": self.carrier.code,
                        "tracking_number": package.tracking_number,
                        "occurred_at": timezone.now().isoformat(),
                        "code": "accepted",
                    }
                ],
            )

    @rule(who=WHO, how=st.sampled_from(CANCELS))
    def cancel(self, who, how):
        order = self.order(who)
        try:
            if how == "seller":
                apply_event(
                    order, "cancel", self.actor,
                    reason="seller_cancel_reason_out_of_stock",
                )  # fmt: skip
            elif how == "platform_status":
                ingest_order(
                    shop=self.shop,
                    payload=order_payload(
                        self.shop, "CANCELLED",
                        platform_order_id=order.platform_order_id,
                        platform_updated_at=(
                            order.platform_updated_at + timedelta(seconds=1)
                        ).isoformat(),
                        created_at=order.created_at.isoformat(),
                        items=ITEMS, total="28.00",
                    ),
                )  # fmt: skip
            else:
                apply_event(order, how, Actor.system("stateful"))
        except OmsError:
            pass

    @invariant()
    def no_live_parcel_of_a_closed_order(self):
        if not hasattr(self, "orders"):
            return
        stages = dict(
            Order.objects.filter(pk__in=[o.pk for o in self.orders]).values_list(
                "pk", "stage"
            )
        )
        packages = list(
            Package.objects.filter(organisation=self.shop.organisation)
            .select_related("tracking_record")
            .order_by("id")
        )
        for package in packages:
            inside = _orders_in(package)
            number = package.tracking_record
            if package.status == PackageStatus.VOIDED:
                assert package.scanned_at is None
                assert package.handed_over_at is None
                assert number.status == NumberStatus.VOID
                assert {stages[o] for o in inside | {package.order_id}} == {
                    Stage.CLOSED
                }
                continue
            assert number.status == NumberStatus.USED
            if package.status == PackageStatus.CREATED:
                assert inside, package
                assert all(stages[o] != Stage.CLOSED for o in inside), (
                    package,
                    stages,
                )
                assert stages[package.order_id] != Stage.CLOSED
        stats = pool_stats(self.pool)
        voided = sum(p.status == PackageStatus.VOIDED for p in packages)
        assert (stats.used, stats.void) == (len(packages) - voided, voided)
        assert stats.reserved == 0


def _orders_in(package: Package) -> set[int]:
    return set(package.items.values_list("order_item__order_id", flat=True))


@pytest.mark.django_db
def test_random_parcel_histories_never_leave_a_closed_order_a_live_parcel(db):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(ParcelMachine, settings=STATEFUL)
