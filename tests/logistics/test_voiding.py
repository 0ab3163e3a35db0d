"""A closed order's packages not yet handed over are voided, whatever closed it (issue 11,
failure 13): the seller's cancel, an approved cancel request, the platform's own status
(ingest) and the deadline sweep. The package shows as voided on the order page and in
the API, its tracking number is void (never handed out again) and no longer counts as
used, its label is refused by the hand-over scan and by printing, and the order's
timeline records it. Packages already with the carrier are left alone; a merged parcel
keeps going for the orders still live in it."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import services as aftersales
from logistics import merging, shipping
from logistics import print_batches as pb
from logistics.models import (
    MergeGroupOrder,
    NumberStatus,
    Package,
    PackageStatus,
    TrackingNumber,
)
from logistics.selectors import pool_stats
from logistics.tracking import ingest_tracking_events
from orders.choices import EventType, Role
from orders.deadlines import process_due_deadlines
from orders.ingest import ingest_order
from orders.models import Notification, Order
from orders.services import Actor, apply_event
from tests.api.conftest import key_client
from tests.factories import MembershipFactory, ShopFactory, make_order, order_payload
from tests.logistics.test_shipping import make_pool

pytestmark = pytest.mark.django_db

SELLER_REASON = "seller_cancel_reason_out_of_stock"


@pytest.fixture
def no_broker(monkeypatch):
    """Inbound pushes are processed here, not sent to a broker."""
    from integrations.tasks import process_inbound_event_task

    monkeypatch.setattr(process_inbound_event_task, "delay", lambda *a: None)


VOIDED_NOTE = "voided: order cancelled"


@pytest.fixture
def tiktok(db):
    return ShopFactory(platform="tiktok", market="MY")


@pytest.fixture
def owner(tiktok):
    return MembershipFactory(organisation=tiktok.organisation, role=Role.OWNER)


@pytest.fixture
def pool(tiktok, carrier):
    return make_pool(tiktok.organisation, carrier, count=120)


def printed(shop, carrier, orders, owner=None):
    """Print labels for ``orders`` (TikTok: they go awaiting collection)."""
    actor = Actor.member(
        owner or MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    )
    batch, _pdf = pb.print_labels(
        organisation=shop.organisation,
        actor=actor,
        order_ids=[o.pk for o in orders],
        carrier_code=carrier.code,
    )
    assert not batch.failures, batch.failures
    return batch


def awaiting_collection(shop, carrier, owner, n=1):
    orders = [make_order(shop, "AWAITING_SHIPMENT") for _ in range(n)]
    batch = printed(shop, carrier, orders, owner)
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "native_status", flat=True
        )
    ) == {"AWAITING_COLLECTION"}
    return orders, batch


def assert_voided(order, pool):
    """The order's one package is voided, its number void, the timeline says so."""
    (package,) = Package.objects.filter(order=order)
    assert package.status == PackageStatus.VOIDED
    assert package.voided_at is not None
    assert package.void_reason == "order cancelled"
    number = TrackingNumber.objects.get(pk=package.tracking_record_id)
    assert number.status == NumberStatus.VOID
    assert number.voided_at is not None
    assert number.order_id == order.pk  # kept for the record
    (event,) = order.events.filter(type=EventType.PACKAGE_VOIDED)
    assert event.data["package"] == package.pk
    assert event.data["tracking_number"] == package.tracking_number
    assert event.reason == VOIDED_NOTE
    return package


# --- every way an order is closed -------------------------------------------------------


def test_the_sellers_cancel_voids_the_package_and_its_number(
    tiktok, carrier, owner, pool
):
    (order,), batch = awaiting_collection(tiktok, carrier, owner)
    assert pool_stats(pool).used == 1

    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)

    package = assert_voided(order, pool)
    stats = pool_stats(pool)
    assert (stats.used, stats.void, stats.available) == (0, 1, 119)
    # the hand-over scan refuses the label and changes nothing
    result = pb.scan(
        organisation=tiktok.organisation,
        actor=Actor.member(owner),
        batch=batch,
        tracking_number=package.tracking_number,
    )
    assert (result.outcome, result.note) == (pb.VOIDED, VOIDED_NOTE)
    package.refresh_from_db()
    assert (package.scanned_at, package.status) == (None, PackageStatus.VOIDED)
    assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"
    assert pb.unscanned(batch) == []


def test_an_approved_cancel_request_voids_the_package(tiktok, carrier, owner, pool):
    (order,), _batch = awaiting_collection(tiktok, carrier, owner)
    case, _ = aftersales.open_case(order, "cancel", Actor.platform("tiktok"))
    aftersales.act(case, "approve", Actor.member(owner))
    assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"
    assert_voided(order, pool)


def test_the_platforms_cancelled_status_voids_the_package(tiktok, carrier, owner, pool):
    (order,), _batch = awaiting_collection(tiktok, carrier, owner)
    ingest_order(
        shop=tiktok,
        payload=order_payload(
            tiktok,
            "CANCELLED",
            platform_order_id=order.platform_order_id,
            platform_updated_at=(timezone.now() + timedelta(minutes=1)).isoformat(),
            created_at=order.created_at.isoformat(),
        ),
    )
    assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"
    assert_voided(order, pool)
    assert pool_stats(pool).used == 0


def sweep_queries(shop, carrier, owner, n: int) -> tuple[int, list[Order]]:
    orders, _batch = awaiting_collection(shop, carrier, owner, n)
    later = timezone.now() + timedelta(hours=73)  # past the 72 h ship window
    with (
        time_machine.travel(later, tick=False),
        CaptureQueriesContext(connection) as ctx,
    ):
        result = process_due_deadlines(now=later)
    assert result.errors == []
    return len(ctx.captured_queries), orders


def test_the_ship_deadline_sweep_voids_every_package_in_bulk(
    tiktok, carrier, owner, pool
):
    one, (single,) = sweep_queries(tiktok, carrier, owner, 1)
    other = ShopFactory(
        platform="tiktok", market="MY", organisation=tiktok.organisation
    )
    fifty, many = sweep_queries(other, carrier, owner, 50)

    assert fifty == one  # no query per order
    for order in [single, *many]:
        assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"
    assert Package.objects.filter(status=PackageStatus.VOIDED).count() == 51
    assert not Package.objects.exclude(status=PackageStatus.VOIDED).exists()
    stats = pool_stats(pool)
    assert (stats.used, stats.void, stats.available) == (0, 51, 69)
    assert_voided(many[7], pool)


def test_an_order_closed_without_a_package_costs_three_queries(tiktok, owner):
    order = make_order(tiktok, "AWAITING_SHIPMENT")
    with CaptureQueriesContext(connection) as plain:
        apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    # numbers reserved for it, its own packages, parcels holding its items
    assert sum('"logistics_' in q["sql"] for q in plain.captured_queries) == 3


# --- what is left alone ---------------------------------------------------------------


def test_only_the_parcel_not_yet_with_the_carrier_is_voided(
    tiktok, carrier, owner, pool
):
    order = make_order(
        tiktok,
        "AWAITING_SHIPMENT",
        items=[
            {
                "sku": "A",
                "title": "A",
                "quantity": 1,
                "unit_price": "10",
                "discount": "0",
            },
            {
                "sku": "B",
                "title": "B",
                "quantity": 1,
                "unit_price": "10",
                "discount": "0",
            },
        ],
        total="28.00",
    )
    actor = Actor.member(owner)
    first_item, _second_item = order.items.order_by("id")
    first = shipping.ship(
        order.pk,
        actor=actor,
        carrier_code=carrier.code,
        allocate=True,
        items=[{"item": first_item.pk, "quantity": 1}],
    )
    results = ingest_tracking_events(
        organisation=tiktok.organisation,
        events=[
            {
                "carrier": carrier.code,
                "tracking_number": first.tracking_number,
                "occurred_at": timezone.now().isoformat(),
                "code": "accepted",
            }
        ],
    )
    assert results[0]["outcome"] == "created", results
    second = shipping.ship(
        order.pk, actor=actor, carrier_code=carrier.code, allocate=True
    )
    assert Order.objects.get(pk=order.pk).native_status == "AWAITING_COLLECTION"

    apply_event(order, "cancel", actor, reason=SELLER_REASON)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == PackageStatus.IN_TRANSIT
    assert first.tracking_record.status == NumberStatus.USED
    assert second.status == PackageStatus.VOIDED
    assert TrackingNumber.objects.get(pk=second.tracking_record_id).status == (
        NumberStatus.VOID
    )
    assert order.events.filter(type=EventType.PACKAGE_VOIDED).count() == 1


def test_a_delivered_order_closed_by_a_refund_keeps_its_package(
    tiktok, carrier, owner, pool
):
    (order,), _batch = awaiting_collection(tiktok, carrier, owner)
    package = Package.objects.get(order=order)
    Package.objects.filter(pk=package.pk).update(
        status=PackageStatus.DELIVERED, handed_over_at=timezone.now()
    )
    apply_event(order, "collect", Actor.platform("tiktok"))
    apply_event(order, "deliver", Actor.platform("tiktok"))
    apply_event(order, "close_refunded", Actor.platform("tiktok"))
    package.refresh_from_db()
    assert package.status == PackageStatus.DELIVERED
    assert package.tracking_record.status == NumberStatus.USED
    assert not order.events.filter(type=EventType.PACKAGE_VOIDED).exists()


# --- merged parcels -------------------------------------------------------------------


def test_a_cancelled_order_leaves_a_merged_parcel_the_others_keep_it(
    client, tiktok, carrier, owner, pool
):
    actor = Actor.member(owner)
    first, second, third = (make_order(tiktok, "AWAITING_SHIPMENT") for _ in range(3))
    merging.merge_orders(order_ids=[first.pk, second.pk, third.pk], actor=actor)
    batch = printed(tiktok, carrier, [first, second, third], owner)
    assert batch.label_count == 1
    parcel = pb.entries_of(batch)[0].package
    assert parcel.order_id == first.pk

    # when the lead order is cancelled
    apply_event(first, "cancel", actor, reason=SELLER_REASON)

    # then the parcel goes on for the others, led by the next order, label to reprint
    parcel.refresh_from_db()
    assert parcel.status == PackageStatus.CREATED
    assert parcel.order_id == second.pk
    assert parcel.needs_reprint
    assert set(parcel.items.values_list("order_item__order_id", flat=True)) == {
        second.pk,
        third.pk,
    }
    number = parcel.tracking_record
    assert (number.status, number.order_id) == (NumberStatus.USED, second.pk)
    assert pool_stats(pool).used == 1
    assert not MergeGroupOrder.objects.filter(order=first).exists()
    assert MergeGroupOrder.objects.filter(order__in=[second, third]).count() == 2
    assert first.events.filter(type=EventType.MERGED, action="left_parcel").exists()
    for other in (second, third):
        assert other.events.filter(
            type=EventType.MERGED, action="parcel_changed"
        ).exists()
    assert not first.events.filter(type=EventType.PACKAGE_VOIDED).exists()
    client.force_login(owner.user)
    page = client.get(f"/orders/{third.pk}/").content.decode()
    assert f'data-package="{parcel.pk}"' in page
    assert 'data-state="reprint"' in page
    assert (
        f'data-package="{parcel.pk}"'
        not in client.get(f"/orders/{first.pk}/").content.decode()
    )
    # printing it again clears the reprint flag
    again, _pdf = pb.print_labels(
        organisation=tiktok.organisation,
        actor=actor,
        order_ids=[second.pk],
        carrier_code=carrier.code,
    )
    assert again.label_count == 1
    parcel.refresh_from_db()
    assert not parcel.needs_reprint

    # when every other order is cancelled too, the parcel is voided
    for order in (second, third):
        apply_event(order, "cancel", actor, reason=SELLER_REASON)
    parcel.refresh_from_db()
    assert parcel.status == PackageStatus.VOIDED
    assert parcel.tracking_record.status == NumberStatus.VOID
    assert third.events.filter(type=EventType.PACKAGE_VOIDED).exists()


def test_a_sweep_closing_every_order_of_a_merged_parcel_voids_it(
    tiktok, carrier, owner, pool
):
    actor = Actor.member(owner)
    first, second = (make_order(tiktok, "AWAITING_SHIPMENT") for _ in range(2))
    merging.merge_orders(order_ids=[first.pk, second.pk], actor=actor)
    printed(tiktok, carrier, [first, second], owner)
    later = timezone.now() + timedelta(hours=73)
    with time_machine.travel(later, tick=False):
        process_due_deadlines(now=later)
    (parcel,) = Package.objects.all()
    assert parcel.status == PackageStatus.VOIDED
    assert parcel.tracking_record.status == NumberStatus.VOID
    for order in (first, second):
        assert order.events.filter(type=EventType.PACKAGE_VOIDED).count() == 1


# --- printing, the API and the order page ------------------------------------------------


def test_printing_refuses_a_voided_label(tiktok, carrier, owner, pool):
    (order, kept), batch = awaiting_collection(tiktok, carrier, owner, 2)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    again, _pdf = pb.print_labels(
        organisation=tiktok.organisation,
        actor=Actor.member(owner),
        order_ids=[order.pk],
        carrier_code=carrier.code,
    )
    assert again.label_count == 0
    assert again.failures == [{"order_id": order.pk, "reason": VOIDED_NOTE}]
    assert pool_stats(pool).used == 1  # no new number taken
    # the old batch's labels, slips and pick list leave the voided parcel out
    assert [e.package.order_id for e in pb.printable_entries(batch)] == [kept.pk]
    apply_event(kept, "cancel", Actor.member(owner), reason=SELLER_REASON)
    with pytest.raises(pb.PackageVoided):
        pb.reprint(batch)
    with pytest.raises(pb.PackageVoided):
        pb.labels_pdf(batch)


def test_the_api_shows_the_package_voided_and_the_scan_refuses_it(
    tiktok, carrier, owner, pool
):
    (order,), batch = awaiting_collection(tiktok, carrier, owner)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    api = key_client(tiktok.organisation)
    response = api.get(f"/api/v1/orders/{order.pk}/packages/")
    assert response.status_code == 200, response.content
    (body,) = response.json()["results"]
    assert body["status"] == "voided"
    assert body["void_reason"] == "order cancelled"
    assert body["voided_at"]
    package = Package.objects.get(order=order)
    response = api.post(
        f"/api/v1/print-batches/{batch.pk}/scan/",
        {"tracking_number": package.tracking_number},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "outcome": "voided",
        "order_id": order.pk,
        "message": VOIDED_NOTE,
    }
    response = api.post(f"/api/v1/print-batches/{batch.pk}/reprint/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "package_voided"


def test_the_order_page_shows_the_package_voided(client, tiktok, carrier, owner, pool):
    (order,), _batch = awaiting_collection(tiktok, carrier, owner)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    client.force_login(owner.user)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-state="voided"' in page
    assert "voided" in page


def test_a_carrier_event_for_a_voided_parcel_is_kept_but_moves_nothing(
    tiktok, carrier, owner, pool
):
    (order,), _batch = awaiting_collection(tiktok, carrier, owner)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    package = Package.objects.get(order=order)
    for code in ("accepted", "delivered", "delivery_failed"):
        (result,) = ingest_tracking_events(
            organisation=tiktok.organisation,
            events=[
                {
                    "carrier": carrier.code,
                    "tracking_number": package.tracking_number,
                    "occurred_at": timezone.now().isoformat(),
                    "code": code,
                }
            ],
        )
        assert result["outcome"] == "created", result
    package.refresh_from_db()
    assert package.status == PackageStatus.VOIDED
    assert package.tracking_events.count() == 3
    order.refresh_from_db()
    assert (order.native_status, order.delivery_failed) == ("CANCELLED", False)
    # the organisation hears once that a voided parcel is moving
    assert list(
        Notification.objects.filter(order=order).values_list("kind", flat=True)
    ) == ["voided_parcel_moving"]


def test_the_warehouse_pages_refuse_the_voided_label(
    client, tiktok, carrier, owner, pool
):
    (order, kept), batch = awaiting_collection(tiktok, carrier, owner, 2)
    apply_event(order, "cancel", Actor.member(owner), reason=SELLER_REASON)
    voided = Package.objects.get(order=order)
    client.force_login(owner.user)
    scan_url = reverse("logistics:scan", args=[batch.pk])
    page = client.post(scan_url, {"tracking_number": voided.tracking_number})
    body = page.content.decode()
    assert 'data-outcome="voided"' in body
    assert 'data-voided="1"' in body  # counted apart: 0 of 1 to hand over
    assert f'data-package="{voided.pk}"' not in body  # not listed as waiting
    voided.refresh_from_db()
    assert voided.scanned_at is None
    # a batch whose every label is void prints nothing: back to the batch, refused
    apply_event(kept, "cancel", Actor.member(owner), reason=SELLER_REASON)
    for kind in ("labels", "packing-slips", "pick-list"):
        url = reverse("logistics:batch-pdf", args=[batch.pk, kind])
        response = client.get(url)
        assert response.status_code == 302, kind
        assert response["Location"] == reverse("logistics:batch", args=[batch.pk])
    response = client.post(reverse("logistics:batch-pdf", args=[batch.pk, "labels"]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.times_printed == 1  # the refused reprint is not counted


def test_the_backfill_voids_parcels_left_by_orders_closed_before_the_fix(
    tiktok, carrier, owner, pool
):
    from importlib import import_module

    from django.apps import apps

    backfill = import_module(
        "logistics.migrations.0008_void_parcels_of_closed_orders"
    ).void_parcels_of_closed_orders
    (closed, live), _batch = awaiting_collection(tiktok, carrier, owner, 2)
    # as before the fix: the order closed, its parcel and number left as they were
    Order.objects.filter(pk=closed.pk).update(native_status="CANCELLED", stage="closed")
    backfill(apps, None)
    assert_voided(closed, pool)
    assert Package.objects.get(order=live).status == PackageStatus.CREATED
    assert (pool_stats(pool).used, pool_stats(pool).void) == (1, 1)
    backfill(apps, None)  # a second run finds nothing
    assert closed.events.filter(type=EventType.PACKAGE_VOIDED).count() == 1


def test_the_platforms_native_cancel_push_voids_the_package(carrier, no_broker):
    import time

    from integrations.inbound import process_inbound_event
    from integrations.models import InboundEvent
    from tests.integrations.test_inbound import envelope, signed, tt_shop

    shop = tt_shop(market="MY")
    owner = MembershipFactory(organisation=shop.organisation, role=Role.OWNER)
    pool = make_pool(shop.organisation, carrier, count=5)
    (order,), _batch = awaiting_collection(shop, carrier, owner)
    message = envelope(order.platform_order_id, status="CANCEL")  # the webhook's alias
    message["data"]["update_time"] = int(time.time()) + 60
    assert signed(shop, message).json()["status"] == "accepted"
    assert process_inbound_event(InboundEvent.objects.get().pk) == "processed"
    assert Order.objects.get(pk=order.pk).native_status == "CANCELLED"
    assert_voided(order, pool)
