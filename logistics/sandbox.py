"""A tracking simulator (L6): a realistic event sequence for one package.

accepted → in transit (origin hub) → in transit (destination hub) → out for delivery →
delivered, or ending in a failed delivery. The events are in the shape that
``logistics.tracking.ingest_tracking_events`` and ``POST /api/v1/tracking-events/`` take.
"""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from logistics.models import Package, TrackingCode

# (code, hours after the start, description, location)
_STEPS: tuple[tuple[str, int, str, str], ...] = (
    (TrackingCode.ACCEPTED, 0, "Parcel picked up by the courier", "Hangzhou"),
    (TrackingCode.IN_TRANSIT, 6, "Departed the sorting centre", "Hangzhou hub"),
    (TrackingCode.IN_TRANSIT, 30, "Arrived at the sorting centre", "Kuala Lumpur hub"),
    (TrackingCode.OUT_FOR_DELIVERY, 40, "Out for delivery", "Petaling Jaya"),
)
_DELIVERED = (
    TrackingCode.DELIVERED,
    44,
    "Delivered, signed by the buyer",
    "Petaling Jaya",
)
_FAILED = (
    TrackingCode.DELIVERY_FAILED,
    44,
    "Delivery can't be completed: the recipient could not be reached",
    "Petaling Jaya",
)


def tracking_sequence(
    package: Package, *, start: datetime | None = None, delivered: bool = True
) -> list[dict[str, Any]]:
    """The events of ``package`` from ``start`` (default: now), ending delivered or failed."""
    start = start or timezone.now()
    steps = [*_STEPS, _DELIVERED if delivered else _FAILED]
    return [
        {
            "carrier": package.carrier.code,
            "tracking_number": package.tracking_number,
            "occurred_at": (start + timedelta(hours=hours)).isoformat(),
            "code": str(code),
            "description": description,
            "location": location,
        }
        for code, hours, description, location in steps
    ]
