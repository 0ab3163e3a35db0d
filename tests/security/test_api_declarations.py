"""Every API operation declares the role permission and the key scope it needs, in the
code (system check oms.E001) and in the OpenAPI schema (x-oms-permission, x-oms-scope);
the permission is enforced for signed-in members."""

import importlib
import re

import pytest
from django.apps import apps
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from integrations.api import checks
from integrations.models import ApiKey, Scope
from oms.core.api.base import OmsApiView
from orders.choices import Role
from orders.permissions import ALL_PERMISSIONS, role_allows
from tests.factories import MembershipFactory, OrganisationFactory, ShopFactory

UNAUTHENTICATED = {"/api/v1/platforms/{shop_id}/webhook/"}  # signed by the platform


def test_every_api_operation_carries_its_permission_and_scope():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    for path, method, operation in operations:
        if path in UNAUTHENTICATED:
            assert "x-oms-permission" not in operation
            assert "x-oms-scope" not in operation
            continue
        assert operation.get("x-oms-permission") in ALL_PERMISSIONS, (path, method)
        assert operation.get("x-oms-scope") in Scope.values, (path, method)


def test_the_ingest_operations_are_owner_and_ingest_scope_only():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/orders/bulk-upsert/", "/api/v1/cases/ingest/"):
        operation = schema["paths"][path]["post"]
        assert operation["x-oms-permission"] == "orders.ingest"
        assert operation["x-oms-scope"] == "orders:ingest"


def test_a_view_without_a_permission_fails_the_system_check(monkeypatch):
    assert checks.check_api_permissions() == []

    class Undeclared(OmsApiView):
        scope = Scope.ORDERS_READ

        def get(self, request):  # pragma: no cover - never served
            raise AssertionError

    monkeypatch.setattr(
        checks, "api_views", lambda: iter([("api/v1/undeclared/", Undeclared)])
    )
    (error,) = checks.check_api_permissions()
    assert error.id == "oms.E001"
    assert "Undeclared (GET api/v1/undeclared/)" in error.msg


def test_the_project_passes_its_checks():
    call_command("check")


@pytest.mark.django_db
def test_the_migration_gives_the_ingest_scope_to_keys_that_pushed_observations():
    migration = importlib.import_module(
        "integrations.migrations.0003_grant_orders_ingest_scope"
    )
    organisation = OrganisationFactory()
    keys = {
        name: ApiKey.issue(organisation=organisation, name=name, scopes=scopes)[0]
        for name, scopes in {
            "bridge": ["orders:read", "orders:write"],
            "returns": ["aftersales:write"],
            "reader": ["orders:read"],
        }.items()
    }
    migration.grant(apps, None)
    assert {
        name: sorted(ApiKey.objects.get(pk=k.pk).scopes) for name, k in keys.items()
    } == {
        "bridge": ["orders:ingest", "orders:read", "orders:write"],
        "returns": ["aftersales:write", "orders:ingest"],
        "reader": ["orders:read"],
    }
    migration.revoke(apps, None)
    assert sorted(ApiKey.objects.get(pk=keys["bridge"].pk).scopes) == [
        "orders:read",
        "orders:write",
    ]


def concrete(route: str) -> str:
    """A request path for a route: ids that match nothing, a platform's own action."""
    path = re.sub(r"<int:\w+>", "999999", route)
    return "/" + re.sub(r"<str:\w+>", "withdraw", path)


OPERATIONS = [
    (route, method, view)
    for route, view in checks.api_views()
    for method in ("get", "post", "patch", "delete")
    if hasattr(view, method)
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role.values))
def test_every_operation_checks_the_members_role_first(role):
    """Every API operation × role: a role without the declared permission gets 403
    permission_denied before anything else is looked at; a role with it never 403."""
    shop = ShopFactory()
    client = APIClient()
    client.force_login(
        MembershipFactory(organisation=shop.organisation, role=role).user
    )
    wrong = []
    for route, method, view in OPERATIONS:
        response = getattr(client, method)(concrete(route), {}, format="json")
        allowed = role_allows(role, view.permission_for(method))
        refused = (
            response.status_code == 403
            and response.json()["error"]["details"].get("reason") == "permission_denied"
        )
        if response.status_code >= 500 or allowed == refused:
            wrong.append((method.upper(), route, response.status_code))
    assert wrong == []


def test_the_case_batch_route_declares_the_permission_of_every_batch_action():
    from aftersales.api.views import BATCH_ACTIONS, CaseBatchApi, action_permission

    assert {action_permission(action) for action in BATCH_ACTIONS} == {
        CaseBatchApi.permission
    }
