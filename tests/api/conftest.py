import pytest
from rest_framework.test import APIClient

from integrations.models import ApiKey, Scope
from tests.factories import ShopFactory

ALL_SCOPES = list(Scope.values)


def key_client(organisation, scopes=ALL_SCOPES, **fields) -> APIClient:
    _, raw = ApiKey.issue(
        organisation=organisation, name="erp", scopes=scopes, **fields
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def shop(db):
    return ShopFactory(platform="tiktok")


@pytest.fixture
def api(shop):
    return key_client(shop.organisation)
