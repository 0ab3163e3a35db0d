"""System check oms.E001: every API view declares, for every method it serves, the role
permission a member needs and the scope a key needs (``OmsApiView``)."""

from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from orders.permissions import ALL_PERMISSIONS

METHODS = ("get", "post", "put", "patch", "delete")


def api_views(patterns=None, prefix: str = ""):
    """(route, view class) for every route served by an ``OmsApiView``."""
    from oms.core.api.base import OmsApiView

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None)
            if isinstance(view, type) and issubclass(view, OmsApiView):
                yield prefix + str(pattern.pattern), view


def undeclared() -> list[str]:
    from orders.permissions import Scope

    problems = []
    for route, view in api_views():
        for method in METHODS:
            if not hasattr(view, method):
                continue
            permission = view.permission_for(method)
            scope = view.scope_for(method)
            if permission not in ALL_PERMISSIONS:
                problems.append(
                    f"{view.__name__} ({method.upper()} {route}): permission "
                    f"{permission!r} is not in orders.permissions"
                )
            if scope not in Scope.values:
                problems.append(
                    f"{view.__name__} ({method.upper()} {route}): scope {scope!r} "
                    "is not an orders.permissions.Scope"
                )
    return problems


def check_api_permissions(app_configs=None, **kwargs):
    return [
        checks.Error(problem, id="oms.E001", hint="Set permission/scope on the view.")
        for problem in undeclared()
    ]
