"""The logistics fixtures (a carrier, a Taobao shop and its organisation)."""

from tests.logistics.conftest import carrier, organisation, shop  # noqa: F401
