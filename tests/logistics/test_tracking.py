"""Tracking (L6): idempotent ingest, delivery, failed delivery, redelivery, the job."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from logistics import tracking
from logistics.models import (
    Package,
    PackageStatus,
    RedeliveryRequest,
    TrackingEvent,
)
from logistics.sandbox import tracking_sequence
from oms.core.errors import InvalidTransition
from orders.choices import EventType
from orders.jobs import run_job
from orders.models import Notification, Order
from orders.services import Actor
from tests.api.conftest import key_client
from tests.factories import ShopFactory, make_order

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NEW_ADDRESS = {
    "address": {
        "country": "MY",
        "city": "Petaling Jaya",
        "street": "12 Jalan SS2/24",
        "postcode": "47300",
    },
    "phone": "60123456789",
}


@pytest.fixture
def shop(db):
    return ShopFactory(platform="tiktok")


@pytest.fixture
def organisation(shop):
    return shop.organisation


def package_in_transit(shop, carrier, number: str = "YD9000000001") -> Package:
    order = make_order(shop, "IN_TRANSIT")
    return Package.objects.create(
        organisation=shop.organisation,
        order=order,
        carrier=carrier,
        tracking_number=number,
        status=PackageStatus.IN_TRANSIT,
        handed_over_at=T0,
    )


def ingest(organisation, events):
    return tracking.ingest_tracking_events(organisation=organisation, events=events)


def failed_package(shop, carrier, organisation) -> Package:
    package = package_in_transit(shop, carrier)
    ingest(organisation, tracking_sequence(package, start=T0, delivered=False))
    package.refresh_from_db()
    return package


def snapshot(package: Package) -> tuple:
    order = Order.objects.get(pk=package.order_id)
    package.refresh_from_db()
    return (
        order.native_status,
        order.version,
        order.address_street,
        order.events.count(),
        package.status,
        RedeliveryRequest.objects.filter(package=package).count(),
    )


def test_ingest_is_idempotent_and_delivers_the_tiktok_order(
    organisation, shop, carrier
):
    package = package_in_transit(shop, carrier)
    events = tracking_sequence(package, start=T0)
    first = ingest(organisation, events)
    assert [r["outcome"] for r in first] == ["created"] * 5
    again = ingest(organisation, events)
    assert [r["outcome"] for r in again] == ["duplicate"] * 5
    assert [r["tracking_event"] for r in again] == [r["tracking_event"] for r in first]
    assert TrackingEvent.objects.filter(package=package).count() == 5
    package.refresh_from_db()
    order = Order.objects.get(pk=package.order_id)
    assert package.status == PackageStatus.DELIVERED
    assert package.last_tracking_at == T0 + timedelta(hours=44)
    assert order.native_status == "DELIVERED"
    assert order.events.filter(action="deliver").count() == 1


def test_an_older_event_is_stored_but_never_moves_status_back(
    organisation, shop, carrier
):
    package = package_in_transit(shop, carrier)
    *moving, delivered = tracking_sequence(package, start=T0)
    ingest(organisation, [delivered])
    results = ingest(organisation, moving)
    assert {r["outcome"] for r in results} == {"created"}
    package.refresh_from_db()
    assert package.status == PackageStatus.DELIVERED
    assert package.last_tracking_at == T0 + timedelta(hours=44)
    assert TrackingEvent.objects.filter(package=package).count() == 5


def test_an_unknown_package_is_an_error_for_that_event_only(
    organisation, shop, carrier
):
    package = package_in_transit(shop, carrier)
    good, *_ = tracking_sequence(package, start=T0)
    unknown = {**good, "tracking_number": "NOPE"}
    other_org = {**good, "code": "in_transit"}
    results = tracking.ingest_tracking_events(
        organisation=ShopFactory(platform="tiktok").organisation, events=[other_org]
    )
    assert results[0]["outcome"] == "error"
    assert results[0]["error"]["code"] == "not_found"
    results = ingest(organisation, [unknown, good])
    assert [r["outcome"] for r in results] == ["error", "created"]
    assert results[0]["error"]["code"] == "not_found"


def test_a_failed_delivery_sets_the_overlay_and_notifies(organisation, shop, carrier):
    package = failed_package(shop, carrier, organisation)
    order = Order.objects.get(pk=package.order_id)
    assert package.status == PackageStatus.FAILED
    assert order.delivery_failed is True
    assert order.native_status == "IN_TRANSIT"
    event = order.events.get(action="delivery_failed")
    assert event.type == EventType.SYNCED
    assert event.data["delivery_failed"] == [False, True]
    assert (
        Notification.objects.filter(
            organisation=organisation, order=order, kind="delivery_failed"
        ).count()
        == 1
    )
    # The same failure pushed again notifies no one again.
    ingest(organisation, tracking_sequence(package, start=T0, delivered=False))
    assert Notification.objects.filter(kind="delivery_failed").count() == 1


def test_redelivery_inside_the_window_changes_the_address(organisation, shop, carrier):
    package = failed_package(shop, carrier, organisation)
    failed_at = T0 + timedelta(hours=44)
    actor = Actor.api_client("erp", organisation_id=organisation.pk)
    with time_machine.travel(failed_at + timedelta(days=6), tick=False):
        request = tracking.request_redelivery(
            package=package, actor=actor, address=NEW_ADDRESS
        )
    assert request.status == "requested"
    assert request.street == "12 Jalan SS2/24"
    assert request.requested_by == "erp"
    order = Order.objects.get(pk=package.order_id)
    assert order.address_street == "12 Jalan SS2/24"
    assert order.buyer_phone == "60123456789"
    event = order.events.get(type=EventType.ADDRESS_CHANGED)
    assert event.action == "redelivery"
    # One request per failure.
    with (
        time_machine.travel(failed_at + timedelta(days=6, hours=1), tick=False),
        pytest.raises(InvalidTransition) as refused,
    ):
        tracking.request_redelivery(package=package, actor=actor, address=NEW_ADDRESS)
    assert refused.value.details["reason"] == "already_requested"


def test_redelivery_after_the_window_is_refused_and_changes_nothing(
    organisation, shop, carrier
):
    package = failed_package(shop, carrier, organisation)
    failed_at = T0 + timedelta(hours=44)
    actor = Actor.api_client("erp", organisation_id=organisation.pk)
    before = snapshot(package)
    with (
        time_machine.travel(failed_at + timedelta(days=7, minutes=1), tick=False),
        pytest.raises(InvalidTransition) as refused,
    ):
        tracking.request_redelivery(package=package, actor=actor, address=NEW_ADDRESS)
    assert refused.value.details["reason"] == "redelivery_window_closed"
    assert snapshot(package) == before


def test_the_stalled_job_flags_once(organisation, shop, carrier):
    package = package_in_transit(shop, carrier)
    ingest(organisation, tracking_sequence(package, start=T0)[:2])
    quiet_from = T0 + timedelta(hours=6)
    run_job("tracking", now=quiet_from + timedelta(days=2, hours=23))
    package.refresh_from_db()
    assert package.stalled is False
    run = run_job("tracking", now=quiet_from + timedelta(days=3, hours=1))
    assert run.counts["packages_stalled"] == 1
    run = run_job("tracking", now=quiet_from + timedelta(days=5))
    assert run.counts["packages_stalled"] == 0
    package.refresh_from_db()
    assert package.stalled is True
    assert Notification.objects.filter(kind="package_stalled").count() == 1
    # A new event clears the flag.
    ingest(organisation, tracking_sequence(package, start=T0)[2:3])
    package.refresh_from_db()
    assert package.stalled is False


def test_the_window_job_returns_the_parcel_to_the_sender(organisation, shop, carrier):
    package = failed_package(shop, carrier, organisation)
    failed_at = T0 + timedelta(hours=44)
    run = run_job("tracking", now=failed_at + timedelta(days=6))
    assert run.counts["parcels_returned"] == 0
    run = run_job("tracking", now=failed_at + timedelta(days=7, minutes=1))
    assert run.counts["parcels_returned"] == 1
    assert not run.errors
    package.refresh_from_db()
    order = Order.objects.get(pk=package.order_id)
    assert package.status == PackageStatus.CANCELLED
    assert order.native_status == "CANCELLED"
    assert order.events.get(action="return_to_sender").reason == (
        "redelivery_window_closed"
    )
    run = run_job("tracking", now=failed_at + timedelta(days=9))
    assert run.counts["parcels_returned"] == 0


def test_a_redelivery_request_keeps_the_parcel(organisation, shop, carrier):
    package = failed_package(shop, carrier, organisation)
    failed_at = T0 + timedelta(hours=44)
    actor = Actor.api_client("erp", organisation_id=organisation.pk)
    with time_machine.travel(failed_at + timedelta(days=1), tick=False):
        tracking.request_redelivery(package=package, actor=actor, address=NEW_ADDRESS)
    run = run_job("tracking", now=failed_at + timedelta(days=8))
    assert run.counts["parcels_returned"] == 0
    assert Order.objects.get(pk=package.order_id).native_status == "IN_TRANSIT"


# --- API ----------------------------------------------------------------------------------


def test_api_ingest_tracking_and_redelivery(organisation, shop, carrier):
    api = key_client(organisation)
    package = package_in_transit(shop, carrier)
    start = datetime.now(UTC) - timedelta(days=2)
    events = tracking_sequence(package, start=start, delivered=False)
    response = api.post("/api/v1/tracking-events/", {"events": events}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["failed"]) == (5, 0, 0)
    again = api.post("/api/v1/tracking-events/", {"events": events}, format="json")
    assert again.json()["duplicates"] == 5
    listed = api.get(f"/api/v1/orders/{package.order_id}/tracking/").json()["results"]
    assert listed[0]["status"] == "failed"
    assert [e["code"] for e in listed[0]["events"]][-1] == "delivery_failed"
    response = api.post(
        f"/api/v1/orders/{package.order_id}/redelivery/",
        {"package": package.pk, **NEW_ADDRESS},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["order"]["address"]["street"] == "12 Jalan SS2/24"


def test_api_answers_404_for_another_organisation(organisation, shop, carrier):
    package = failed_package(shop, carrier, organisation)
    other = key_client(ShopFactory(platform="tiktok").organisation)
    before = snapshot(package)
    order_id = package.order_id
    assert other.get(f"/api/v1/orders/{order_id}/tracking/").status_code == 404
    response = other.post(
        f"/api/v1/orders/{order_id}/redelivery/",
        {"package": package.pk, **NEW_ADDRESS},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    event = {**tracking_sequence(package, start=T0)[-1]}
    response = other.post(
        "/api/v1/tracking-events/", {"events": [event]}, format="json"
    )
    assert response.json()["results"][0]["error"]["code"] == "not_found"
    assert snapshot(package) == before


def test_the_job_is_registered():
    from orders.jobs import JOBS

    assert JOBS["tracking"] is tracking.run


def test_a_failed_delivery_is_a_webhook_event(
    organisation, shop, carrier, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations import webhooks
    from integrations.models import WebhookDelivery
    from integrations.tasks import deliver_webhook_task

    monkeypatch.setattr(deliver_webhook_task, "delay", lambda _pk: None)
    webhooks.create_subscription(
        organisation=organisation,
        url="https://erp.example.com/hooks",
        events=[webhooks.PACKAGE_DELIVERY_FAILED],
    )
    package = package_in_transit(shop, carrier)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(organisation, tracking_sequence(package, start=T0, delivered=False))

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "package.delivery_failed"
    change = delivery.payload["data"]["change"]
    assert change["tracking_number"] == package.tracking_number
    assert change["package"] == package.pk
    assert delivery.payload["data"]["order"]["id"] == package.order_id
