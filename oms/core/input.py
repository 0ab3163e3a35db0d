"""Input at the boundary: text PostgreSQL can store, JSON of a bounded depth.

PostgreSQL refuses NUL characters in text and jsonb, and a lone UTF-16 surrogate
(``"\\ud800"`` in JSON) cannot be encoded as UTF-8 at all: either one reaching a query
is a server error. Deeply nested JSON exhausts the parser's recursion. These checks run
once, where input enters: the API's JSON parser (a 400 in the error shape), the query
string (a 400 under ``/api/``; cleaned for the dashboard, so a search with such a
character finds nothing instead of failing), and the platforms' signed pushes.
"""

import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, JsonResponse, QueryDict
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from oms.core.errors import ValidationFailed

MAX_JSON_DEPTH = 32  # the unified order shape needs 4 (orders → order → items → item)
NUL = "\x00"


class BadJson(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``, or not JSON at all."""


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None`` when it can."""
    if NUL in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate"
    return None


def clean_text(value: str) -> str:
    """``value`` without NUL characters and unpaired surrogates."""
    if text_problem(value) is None:
        return value
    value = value.replace(NUL, "")
    return value.encode("utf-8", "ignore").decode("utf-8")


def whole_number(text: str | None) -> int | None:
    """A whole number of at most 18 ASCII digits (it fits a bigint), else ``None``.

    ``str.isdigit`` and ``int`` alone accept other scripts' digits and superscripts
    (``"²".isdigit()`` is true, ``int("²")`` fails) and numbers of any length.
    """
    text = (text or "").strip()
    if not 1 <= len(text) <= 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


MAX_PAGE = 1_000_000  # a page's offset stays far inside a bigint


def page_number(text: str | None) -> int:
    """A dashboard's ``page`` parameter: 1 unless a whole number from 1 to 1,000,000."""
    number = whole_number(text)
    return number if number is not None and 1 <= number <= MAX_PAGE else 1


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """(path, node) for every node, depth first, without recursion."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadJson(f"nested more than {MAX_JSON_DEPTH} levels deep")
        yield path, node
        if isinstance(node, dict):
            for key, child in reversed(node.items()):
                yield f"{path}.{key}" if path else str(key), key
                stack.append((f"{path}.{key}" if path else str(key), child, depth + 1))
        elif isinstance(node, list):
            for index in range(len(node) - 1, -1, -1):
                stack.append((f"{path}[{index}]", node[index], depth + 1))


def first_text_problem(value: Any) -> tuple[str, str] | None:
    """(path, problem) of the first string (key or value) that cannot be stored."""
    for path, node in _walk(value):
        if isinstance(node, str):
            problem = text_problem(node)
            if problem is not None:
                return path or "body", problem
    return None


def _no_constants(name: str) -> None:
    raise BadJson(f"{name} is not JSON")


def loads(body: bytes | str) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, at most ``MAX_JSON_DEPTH`` levels.

    Raises ``BadJson`` (a ``ValueError``) for anything else; text problems (NUL,
    surrogates) are left to ``first_text_problem``.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BadJson(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise BadJson(str(exc)) from None
    for _ in _walk(value):  # the depth check
        pass
    return value


class StrictJSONParser(JSONParser):
    """The API's JSON parser: bad JSON or depth is a 400 ``malformed_request``; a NUL
    character or an unpaired surrogate anywhere is a 400 ``invalid_input`` naming it."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        try:
            data = loads(body)
        except BadJson as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        found = first_text_problem(data)
        if found is not None:
            path, problem = clean_text(found[0]), found[1]  # a key may hold it
            raise ValidationFailed(
                f"{path} {problem}, which is not allowed.", fields={path: problem}
            )
        return data


def _query_problem(query: QueryDict) -> tuple[str, str] | None:
    for key, values in query.lists():
        for text in (key, *values):
            problem = text_problem(text)
            if problem is not None:
                return key, problem
    return None


def clean_query(query: QueryDict) -> QueryDict:
    """``query`` without NUL characters and unpaired surrogates (itself when clean)."""
    if _query_problem(query) is None:
        return query
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        cleaned.setlist(clean_text(key), [clean_text(value) for value in values])
    cleaned._mutable = False
    return cleaned


class CleanInputMiddleware:
    """Query strings hold only storable text.

    Under ``/api/`` a NUL character or an unpaired surrogate in a query parameter is a
    400 in the API's error shape; on pages such characters are dropped, so a search or
    a filter holding one answers like any other (usually with nothing found).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path.startswith("/api/"):
            found = _query_problem(request.GET)
            if found is not None:
                name, problem = clean_text(found[0]), found[1]
                return JsonResponse(
                    {
                        "error": {
                            "code": "invalid_input",
                            "message": f"The query parameter {name!r} {problem}.",
                            "details": {"fields": {name: problem}},
                        }
                    },
                    status=400,
                )
            return self.get_response(request)
        if _query_problem(request.GET) is not None:
            request.GET = clean_query(request.GET)
        # Form posts are left to the forms and services, which refuse such text with
        # a form error (a note, a memo); only the query string is cleaned here.
        return self.get_response(request)
