"""A cancel and the hand-over scan of the same parcel at once (PostgreSQL): exactly one
wins, never a deadlock, never a parcel both handed over and voided (issue 11, 13)."""

import pytest

from logistics import merging
from logistics import print_batches as pb
from logistics.models import NumberStatus, Package, PackageStatus
from oms.core.errors import InvalidTransition
from orders.choices import Role
from orders.models import Order
from orders.services import Actor, apply_event
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.logistics.test_shipping import make_pool
from tests.race import race

REASON = "seller_cancel_reason_out_of_stock"


def cancel(order, actor):
    def call():
        try:
            return apply_event(order.pk, "cancel", actor, reason=REASON)
        except InvalidTransition as exc:  # the scan won: the order is in transit
            return exc

    return call


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_scan_and_cancels_of_a_merged_parcel_at_once(carrier):
    shop = ShopFactory(platform="tiktok", market="MY")
    make_pool(shop.organisation, carrier, count=40)
    actor = Actor.member(
        MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    )
    for _round in range(8):
        first, second = (make_order(shop, "AWAITING_SHIPMENT") for _ in range(2))
        merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
        batch, _pdf = pb.print_labels(
            organisation=shop.organisation,
            actor=actor,
            order_ids=[first.pk, second.pk],
            carrier_code=carrier.code,
        )
        parcel = pb.entries_of(batch)[0].package

        def scan(batch=batch, parcel=parcel):
            return pb.scan(
                organisation=shop.organisation,
                actor=actor,
                batch=batch,
                tracking_number=parcel.tracking_number,
            )

        results = race(scan, cancel(first, actor), cancel(second, actor))

        errors = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(e, InvalidTransition) for e in errors), results
        parcel.refresh_from_db()
        statuses = dict(
            Order.objects.filter(pk__in=[first.pk, second.pk]).values_list(
                "pk", "native_status"
            )
        )
        inside = set(parcel.items.values_list("order_item__order_id", flat=True))
        number = parcel.tracking_record
        if results[0].outcome == pb.VOIDED:
            # both cancels came first: the parcel and its number are void
            assert set(statuses.values()) == {"CANCELLED"}
            assert parcel.status == PackageStatus.VOIDED
            assert parcel.scanned_at is None
            assert number.status == NumberStatus.VOID
        else:
            # the scan came before at least one cancel: the parcel left, for the
            # orders still in it, and every order in it is in transit
            assert results[0].outcome == pb.OK, results
            assert parcel.status == PackageStatus.HANDED_OVER
            assert number.status == NumberStatus.USED
            assert inside
            assert {statuses[o] for o in inside} == {"IN_TRANSIT"}
            for order_id, status in statuses.items():
                assert (status == "CANCELLED") == (order_id not in inside)
        assert Package.objects.filter(pk=parcel.pk).count() == 1
