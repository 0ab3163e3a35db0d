"""Print batches (PRODUCT.md L4) and the hand-over scan (L5)."""

import re
import shutil
import subprocess
import tempfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations.models import ApiKey, Scope
from logistics import print_batches as pb
from logistics.models import Package, PackageStatus, PrintBatch
from orders import actions
from orders.choices import Role
from orders.services import Actor
from tests.factories import MembershipFactory, ShopFactory, make_order
from tests.logistics.test_shipping import make_pool

pytestmark = pytest.mark.django_db


def member(organisation) -> Actor:
    return Actor.member(
        MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    )


def pages(pdf: bytes) -> int:
    tool = shutil.which("pdfinfo")
    if not tool:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(  # noqa: S603 - a fixed tool on a file of ours
            [tool, f.name], capture_output=True, text=True, check=True
        ).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


@pytest.fixture
def batch_of_five(organisation, carrier, orders):
    make_pool(organisation, carrier, count=50)
    actor = member(organisation)
    made = orders(5)
    actions.perform(made[2].pk, "hold", actor, reason="check address")
    batch, pdf = pb.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[o.pk for o in made],
        carrier_code=carrier.code,
    )
    return batch, pdf, made, actor


def test_a_batch_prints_the_shippable_and_lists_the_refused(batch_of_five):
    batch, pdf, made, _ = batch_of_five
    assert pages(pdf) == 4
    assert batch.label_count == 4
    assert batch.times_printed == 1
    assert [f["order_id"] for f in batch.failures] == [made[2].pk]
    assert batch.failures[0]["reason"]
    assert Package.objects.filter(order=made[2]).count() == 0
    assert [e.sequence for e in pb.entries_of(batch)] == [1, 2, 3, 4]
    assert pages(pb.packing_slips(batch)) >= 4
    assert pages(pb.pick_list(batch)) >= 1


def test_a_shipped_order_gets_its_own_label_again_marked_reprint(
    batch_of_five, organisation, carrier
):
    _first, _, made, actor = batch_of_five
    batch, pdf = pb.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[made[0].pk, made[1].pk],
        carrier_code=carrier.code,
    )
    assert pages(pdf) == 2
    assert batch.reprinted_labels == 2
    assert Package.objects.filter(order=made[0]).count() == 1
    assert all(e.reprint for e in pb.entries_of(batch))


def test_reprint_counts_and_marks(batch_of_five, monkeypatch):
    batch, _, _, _ = batch_of_five
    seen = []
    real = pb.render_labels
    monkeypatch.setattr(
        pb,
        "render_labels",
        lambda labels, size: seen.extend(labels) or real(labels, size),
    )
    pdf = pb.reprint(batch)
    assert pages(pdf) == 4
    batch.refresh_from_db()
    assert batch.times_printed == 2
    assert batch.last_printed_at is not None
    assert seen
    assert all(label.reprint for label in seen)
    assert next((label.sequence, label.total) for label in seen) == (1, 4)


def test_scan_outcomes_and_unscanned(batch_of_five, organisation, carrier, orders):
    batch, _, _made, actor = batch_of_five
    entries = pb.entries_of(batch)
    first = entries[0].package
    result = pb.scan(
        organisation=organisation,
        actor=actor,
        batch=batch,
        tracking_number=first.tracking_number,
    )
    assert result.outcome == pb.OK
    assert result.order_id == first.order_id
    first.refresh_from_db()
    assert first.scanned_at
    assert first.handed_over_at
    assert first.status == PackageStatus.HANDED_OVER
    again = pb.scan(
        organisation=organisation,
        actor=actor,
        batch=batch,
        tracking_number=first.tracking_number,
    )
    assert again.outcome == pb.ALREADY_SCANNED
    assert (
        pb.scan(
            organisation=organisation,
            actor=actor,
            batch=batch,
            tracking_number="NOPE",
        ).outcome
        == pb.UNKNOWN
    )
    other, _ = pb.print_labels(
        organisation=organisation,
        actor=actor,
        order_ids=[o.pk for o in orders(1)],
        carrier_code=carrier.code,
    )
    elsewhere = pb.entries_of(other)[0].package
    wrong = pb.scan(
        organisation=organisation,
        actor=actor,
        batch=batch,
        tracking_number=elsewhere.tracking_number,
    )
    assert wrong.outcome == pb.WRONG_BATCH
    assert [p.pk for p in pb.unscanned(batch)] == [e.package.pk for e in entries[1:]]


def test_scan_of_another_organisations_number_is_unknown(batch_of_five, carrier):
    batch, _, _, _ = batch_of_five
    shop = ShopFactory(platform="taobao")
    make_pool(shop.organisation, carrier, count=5, prefix="ZZ")
    actor = member(shop.organisation)
    theirs, _ = pb.print_labels(
        organisation=shop.organisation,
        actor=actor,
        order_ids=[make_order(shop, "WAIT_SELLER_SEND_GOODS").pk],
        carrier_code=carrier.code,
    )
    number = pb.entries_of(theirs)[0].package.tracking_number
    mine = pb.entries_of(batch)[0].package
    result = pb.scan(
        organisation=batch.organisation,
        actor=member(batch.organisation),
        batch=batch,
        tracking_number=number,
    )
    assert result.outcome == pb.UNKNOWN
    mine.refresh_from_db()
    assert mine.scanned_at is None


def test_tiktok_awaiting_collection_goes_in_transit_on_scan(carrier):
    shop = ShopFactory(platform="tiktok")
    make_pool(shop.organisation, carrier, count=5)
    actor = member(shop.organisation)
    order = make_order(shop, "AWAITING_SHIPMENT")
    batch, _ = pb.print_labels(
        organisation=shop.organisation,
        actor=actor,
        order_ids=[order.pk],
        carrier_code=carrier.code,
    )
    order.refresh_from_db()
    assert order.native_status == "AWAITING_COLLECTION"
    package = pb.entries_of(batch)[0].package
    result = pb.scan(
        organisation=shop.organisation,
        actor=actor,
        batch=batch,
        tracking_number=package.tracking_number,
    )
    assert result.outcome == pb.OK, result
    order.refresh_from_db()
    assert order.native_status == "IN_TRANSIT"


def queries_for(organisation, carrier, orders, n: int) -> int:
    actor = member(organisation)
    made = orders(n)
    with CaptureQueriesContext(connection) as ctx:
        batch, _ = pb.print_labels(
            organisation=organisation,
            actor=actor,
            order_ids=[o.pk for o in made],
            carrier_code=carrier.code,
        )
        pb.reprint(batch)
        pb.packing_slips(batch)
        pb.pick_list(batch)
        pb.unscanned(batch)
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_the_batch(organisation, carrier, orders):
    make_pool(organisation, carrier, count=100)
    assert queries_for(organisation, carrier, orders, 10) == queries_for(
        organisation, carrier, orders, 50
    )


def key_client(organisation) -> APIClient:
    _, raw = ApiKey.issue(
        organisation=organisation, name="erp", scopes=[Scope.LOGISTICS_WRITE]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_creates_downloads_scans_and_hides_other_organisations(
    organisation, carrier, orders
):
    make_pool(organisation, carrier, count=10)
    made = orders(2)
    client = key_client(organisation)
    response = client.post(
        "/api/v1/print-batches/",
        {"order_ids": [o.pk for o in made], "carrier": carrier.code},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label_count"] == 2
    assert body["failures"] == []
    batch_id = body["id"]
    for name in ("labels.pdf", "packing-slips.pdf", "pick-list.pdf"):
        pdf = client.get(f"/api/v1/print-batches/{batch_id}/{name}")
        assert pdf.status_code == 200, pdf.content
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
    again = client.post(f"/api/v1/print-batches/{batch_id}/reprint/")
    assert again.status_code == 200
    assert again["Content-Type"] == "application/pdf"
    number = Package.objects.get(order=made[0]).tracking_number
    scanned = client.post(
        f"/api/v1/print-batches/{batch_id}/scan/",
        {"tracking_number": number},
        format="json",
    )
    assert scanned.json() == {"outcome": "ok", "order_id": made[0].pk}
    detail = client.get(f"/api/v1/print-batches/{batch_id}/").json()
    assert detail["times_printed"] == 2
    assert [p["order_id"] for p in detail["unscanned"]] == [made[1].pk]

    other = ShopFactory(platform="taobao").organisation
    stranger = key_client(other)
    for path in ("", "labels.pdf", "packing-slips.pdf", "pick-list.pdf"):
        response = stranger.get(f"/api/v1/print-batches/{batch_id}/{path}")
        assert response.status_code == 404, path
    for path in ("reprint/", "scan/"):
        response = stranger.post(
            f"/api/v1/print-batches/{batch_id}/{path}",
            {"tracking_number": number},
            format="json",
        )
        assert response.status_code == 404, path
    assert PrintBatch.objects.get(pk=batch_id).times_printed == 2
    assert Package.objects.get(order=made[1]).scanned_at is None


def test_dashboard_pages_check_the_role_and_the_organisation(
    client, organisation, carrier, orders
):
    make_pool(organisation, carrier, count=5)
    made = orders(2)
    packer = MembershipFactory(organisation=organisation, role=Role.WAREHOUSE)
    client.force_login(packer.user)
    assert b"/warehouse/print/" in client.get("/orders/").content
    response = client.post(
        "/warehouse/print/",
        {"ids": [made[0].pk], "numbers": made[1].platform_order_id, "carrier": "YUNDA"},
    )
    batch = PrintBatch.objects.get(organisation=organisation)
    assert response.status_code == 302
    assert response["Location"] == f"/warehouse/batches/{batch.pk}/"
    assert batch.label_count == 2
    pdf = client.get(f"/warehouse/batches/{batch.pk}/labels.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    number = pb.entries_of(batch)[0].package.tracking_number
    page = client.post(
        f"/warehouse/batches/{batch.pk}/scan/", {"tracking_number": number}
    )
    assert b'data-outcome="ok"' in page.content

    service = MembershipFactory(organisation=organisation, role=Role.CUSTOMER_SERVICE)
    client.force_login(service.user)
    assert b"/warehouse/print/" not in client.get("/orders/").content
    assert client.get("/warehouse/print/").status_code == 403
    stranger = MembershipFactory(
        organisation=ShopFactory().organisation, role=Role.WAREHOUSE
    )
    client.force_login(stranger.user)
    assert client.get(f"/warehouse/batches/{batch.pk}/").status_code == 404
    assert client.get(f"/warehouse/batches/{batch.pk}/scan/").status_code == 404


def test_the_batch_page_names_a_refused_order_by_its_platform_number(
    client, batch_of_five
):
    """The refused table named orders by their database id (19425), a number the
    packer sees nowhere else: it shows the platform's order number, as the labels do."""
    batch, _, made, actor = batch_of_five
    held = made[2]
    client.force_login(actor.membership.user)
    page = client.get(f"/warehouse/batches/{batch.pk}/").content.decode()
    refused = page.split('id="failures"')[1].split("</table>")[0]
    assert f">{held.platform_order_id}</a>" in refused
    assert f">{held.pk}</a>" not in refused
