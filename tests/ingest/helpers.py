"""Shared pieces of the payload tests: the public doors (bulk upsert, case ingest)."""

from typing import Any

from tests.api.conftest import key_client


def bulk(shop, body: dict[str, Any]):
    """POST /api/v1/orders/bulk-upsert/ as the shop's organisation (an API key)."""
    return key_client(shop.organisation).post(
        "/api/v1/orders/bulk-upsert/", body, format="json"
    )


def post_case(shop, body: dict[str, Any]):
    """POST /api/v1/cases/ingest/ (the case door) as the shop's organisation."""
    return key_client(shop.organisation).post(
        "/api/v1/cases/ingest/", body, format="json"
    )
