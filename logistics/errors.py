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
