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
from oms.core.input import loads, text_problem, whole_number
from oms.core.timeutils import parse_iso

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(request: Request) -> int:
    raw = request.query_params.get("page_size")
    size = DEFAULT_PAGE_SIZE if raw is None else whole_number(raw)
    if size is None:
        raise ValidationFailed(fields={"page_size": "a whole number"})
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(fields={"page_size": f"between 1 and {MAX_PAGE_SIZE}"})
    return size


def _encode(values: list) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


MAX_CURSOR_LENGTH = 200  # ours are about 60 characters
MAX_ID = 2**63 - 1  # bigint


def _kind(queryset: QuerySet, name: str) -> str:
    internal = queryset.model._meta.get_field(name).get_internal_type()
    if internal == "DateTimeField":
        return "datetime"
    return "int" if internal.endswith(("IntegerField", "AutoField")) else "str"


def _typed(value: object, kind: str) -> object:
    """A cursor value checked against its column's type; ``ValueError`` if it is not."""
    if kind == "datetime":
        if not isinstance(value, str):
            raise ValueError
        return parse_iso(value, field="cursor")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        if not 0 <= value <= MAX_ID:
            raise ValueError
        return value
    if not isinstance(value, str) or len(value) > 255 or text_problem(value):
        raise ValueError
    return value


def _decode(cursor: str, kinds: list[str]) -> list:
    """The values of a cursor we made, each of its column's type; a 400 otherwise."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        values = loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return [_typed(value, kind) for value, kind in zip(values, kinds, strict=True)]
    except (ValueError, TypeError, ValidationFailed):
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
        value, last_id = _decode(
            cursor, [_kind(queryset, first), _kind(queryset, second)]
        )
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
