"""Backfill for issue 11, failure 13: parcels of orders closed before the fix that never
left (created, never scanned or handed over) are voided, their numbers void, with a
timeline entry, as ``logistics.voiding`` now does at the cause. A parcel holding any
order that is not closed (a merged parcel) is left for a person: it is listed on the
order page as before."""

from django.db import migrations
from django.db.models import Exists, OuterRef
from django.utils import timezone

CHUNK = 1000


def void_parcels_of_closed_orders(apps, schema_editor):
    Package = apps.get_model("logistics", "Package")
    PackageItem = apps.get_model("logistics", "PackageItem")
    TrackingNumber = apps.get_model("logistics", "TrackingNumber")
    OrderEvent = apps.get_model("orders", "OrderEvent")
    now = timezone.now()
    open_inside = PackageItem.objects.filter(package=OuterRef("pk")).exclude(
        order_item__order__stage="closed"
    )
    orphans = (
        Package.objects.filter(
            status="created",
            handed_over_at__isnull=True,
            scanned_at__isnull=True,
            order__stage="closed",
        )
        .exclude(Exists(open_inside))
        .order_by("id")
    )
    while True:
        rows = list(
            orphans.values_list(
                "pk", "tracking_record_id", "tracking_number", "order_id",
                "order__native_status",
            )[:CHUNK]
        )  # fmt: skip
        if not rows:
            return
        Package.objects.filter(pk__in=[row[0] for row in rows]).update(
            status="voided", voided_at=now, void_reason="order cancelled"
        )
        TrackingNumber.objects.filter(
            pk__in=[row[1] for row in rows if row[1]]
        ).exclude(status="void").update(
            status="void", voided_at=now, void_reason="order cancelled"
        )
        OrderEvent.objects.bulk_create(
            [
                OrderEvent(
                    order_id=order_id,
                    created_at=now,
                    type="package_voided",
                    action="void_package",
                    from_status=status,
                    to_status=status,
                    actor_kind="system",
                    actor_label="migration",
                    reason="voided: order cancelled",
                    data={
                        "package": pk,
                        "tracking_number": number,
                        "number_status": "void",
                    },
                )
                for pk, _record, number, order_id, status in rows
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0007_package_voided"),
        ("orders", "0013_package_voided"),
    ]

    operations = [
        migrations.RunPython(
            void_parcels_of_closed_orders, migrations.RunPython.noop, elidable=True
        ),
    ]
