"""Logistics errors: each with a stable ``code`` and one HTTP status (see oms.core.errors)."""

from oms.core.errors import OmsError


class TrackingNumberTaken(OmsError):
    """A tracking number is already known for this carrier: numbers are never re-used.

    ``details``: ``numbers`` (the conflicting numbers, at most ``MAX_LISTED``),
    ``conflicts`` (how many in all), ``duplicates_in_batch`` (numbers given twice) and
    ``orders`` (number → order id, for used numbers of the caller's own organisation).
    """

    code = "tracking_number_taken"
    http_status = 409
    message = "These tracking numbers are already in use for this carrier."


class PoolExhausted(OmsError):
    """Fewer tracking numbers are available than asked for; none were reserved.

    ``details``: ``requested`` and ``available`` (unlocked, in unexpired pools, when
    asked). Under concurrent allocation ``available`` can be low for a moment: numbers
    locked by another allocation are skipped, so a retry may succeed.
    """

    code = "pool_exhausted"
    http_status = 409
    message = "Not enough tracking numbers are available for this carrier."


class TrackingNumberState(OmsError):
    """The number's status does not allow this change (e.g. releasing a used number)."""

    code = "tracking_number_state"
    http_status = 409
    message = "The tracking number's status does not allow this."


class PackageVoided(OmsError):
    """The package was voided (its order was closed before it left): its label is never
    printed or handed over again (``details.packages``)."""

    code = "package_voided"
    http_status = 409
    message = "voided: order cancelled"


# --- merge and split (X5) ---------------------------------------------------------------


class MergeMismatch(OmsError):
    """The orders cannot share a parcel: ``details.reason`` is ``different_shop``,
    ``different_buyer`` or ``different_address``; ``details.orders`` the ids that differ
    from the first order."""

    code = "merge_mismatch"
    http_status = 409
    message = "These orders cannot be merged: they differ in shop, buyer or address."


class NotAwaitingShipment(OmsError):
    """Merge and split are for orders awaiting shipment (``details.orders``)."""

    code = "not_awaiting_shipment"
    http_status = 409
    message = "Only orders awaiting shipment can be merged or split."


class AlreadyPrinted(OmsError):
    """A label was printed (a package exists): the merge or split can no longer change."""

    code = "already_printed"
    http_status = 409
    message = "A label was already printed for this order; it can no longer change."


class OrderMerged(OmsError):
    """The order is already in a merge group (``details.group``): undo the merge first,
    or ship the group as one parcel."""

    code = "order_merged"
    http_status = 409
    message = "The order is merged with others; undo the merge first."


class OrderSplit(OmsError):
    """The order has a split plan (``details.order_id``): undo the split first."""

    code = "order_split"
    http_status = 409
    message = "The order is split into planned packages; undo the split first."
