"""Keyset (cursor) pagination: ``{"results": [...], "next": url-or-null}``.

The cursor carries the last row's sort key, so a page costs the same at any depth and
rows inserted or changed while a client pages are neither skipped nor repeated by
position (they move by their key).
"""

import base64
import json
from datetime import datetime

from django.db.models import Q, QuerySet
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from oms.core.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(request: Request) -> int:
    raw = request.query_params.get("page_size", DEFAULT_PAGE_SIZE)
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"page_size": "a whole number"}) from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(fields={"page_size": f"between 1 and {MAX_PAGE_SIZE}"})
    return size


def _encode(values: list) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != count:
            raise ValueError
        return values
    except (ValueError, TypeError):
        raise ValidationFailed(
            "The cursor is not valid.", fields={"cursor": "invalid"}
        ) from None


def paginate(
    request: Request, queryset: QuerySet, ordering: tuple[str, str], *, descending: bool
) -> tuple[list, str | None]:
    """One page of ``queryset`` ordered by the two fields of ``ordering`` (the last unique)."""
    rows, next_url, _ = paginate_with_resume(
        request, queryset, ordering, descending=descending
    )
    return rows, next_url


def paginate_with_resume(
    request: Request, queryset: QuerySet, ordering: tuple[str, str], *, descending: bool
) -> tuple[list, str | None, str]:
    """``paginate``, plus a ``resume`` URL after the last row returned, even on the last
    page: a syncing client stores it and calls it later to get only what changed since."""
    first, second = ordering
    size = page_size(request)
    cursor = request.query_params.get("cursor")
    if cursor:
        value, last_id = _decode(cursor, 2)
        if descending:
            queryset = queryset.filter(
                Q(**{f"{first}__lt": value})
                | Q(**{first: value, f"{second}__lt": last_id})
            )
        else:
            queryset = queryset.filter(
                Q(**{f"{first}__gt": value})
                | Q(**{first: value, f"{second}__gt": last_id})
            )
    sign = "-" if descending else ""
    rows = list(queryset.order_by(f"{sign}{first}", f"{sign}{second}")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    resume_url = request.build_absolute_uri()
    if rows:
        token = _encode([getattr(rows[-1], first), getattr(rows[-1], second)])
        resume_url = replace_query_param(resume_url, "cursor", token)
    return rows, resume_url if has_more else None, resume_url
