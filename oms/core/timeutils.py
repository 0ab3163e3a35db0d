"""Aware-time helpers. Storage is UTC; platforms send local strings or Unix seconds."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from oms.core.errors import ValidationFailed

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """``"48h"``, ``"15m"``, ``"7d"`` or a number of seconds → ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValidationFailed(f"not a duration: {value!r} (use e.g. 15m, 48h, 7d)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


# The times an order, a parcel or a case can carry. Outside them a time is a typo or a
# probe, and near year 1 or 9999 shifting it to UTC or adding a deadline overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def parse_iso(value: str | datetime | None, *, field: str = "time") -> datetime | None:
    """An ISO-8601 time with an offset → aware UTC, from 1970 to 2199.

    Naive times are refused, and so are times out of that range: every time that enters
    (API fields, query filters, platform payloads) comes through here.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if len(text) > 40 or not text.isascii() or not text.isprintable():
            raise ValidationFailed(f"{field} is not an ISO-8601 time", field=field)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationFailed(
                f"{field} is not an ISO-8601 time", field=field
            ) from exc
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{field} must carry a time zone offset", field=field)
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValidationFailed(f"{field} must be between 1970 and 2199", field=field)
    return utc


def parse_local(value: str | None, tz: str, *, field: str = "time") -> datetime | None:
    """A platform's ``YYYY-MM-DD HH:MM:SS`` string in zone ``tz`` → aware UTC."""
    if value is None or value == "":
        return None
    try:
        naive = datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    except ValueError as exc:
        raise ValidationFailed(
            f"{field} is not a YYYY-MM-DD HH:MM:SS time", field=field
        ) from exc
    return parse_iso(naive.replace(tzinfo=ZoneInfo(tz)), field=field)


def format_local(value: datetime | None, tz: str) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def parse_unix(value: int | str | None, *, field: str = "time") -> datetime | None:
    if value is None or value == "" or value == 0:
        return None
    try:
        when = datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ValidationFailed(f"{field} is not Unix seconds", field=field) from exc
    if not EARLIEST <= when < LATEST:
        raise ValidationFailed(f"{field} must be between 1970 and 2199", field=field)
    return when
