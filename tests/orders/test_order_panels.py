"""The order page is composed of the panels other apps register (orders.panels)."""

import copy

import pytest

from orders import permissions as p
from orders.choices import Role
from orders.panels import order_panels, register_order_panel, unregister_order_panel
from tests.factories import MembershipFactory, ShopFactory, make_order

pytestmark = pytest.mark.django_db


def page_of(client, order, role=Role.OWNER) -> str:
    membership = MembershipFactory(organisation=order.shop.organisation, role=role)
    client.force_login(membership.user)
    response = client.get(f"/orders/{order.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_logistics_and_aftersales_register_their_cards_in_order(client):
    assert [panel.name for panel in order_panels()][:3] == [
        "shipments",
        "aftersales",
        "conversation",
    ]
    order = make_order(ShopFactory(platform="taobao"), "WAIT_SELLER_SEND_GOODS")
    html = page_of(client, order)
    positions = [
        html.index(f'id="{anchor}"')
        for anchor in (
            "panel-shipments",
            "shipments",  # logistics/_shipments.html, with the page's ship form
            "ship-form",
            "panel-aftersales",
            "aftersales-panel",
            "panel-conversation",
        )
    ]
    assert positions == sorted(positions)


@pytest.fixture
def probe_panel(settings, tmp_path):
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "_panel.html").write_text(
        '<p id="probe-panel">{{ greeting }} {{ order.platform_order_id }}'
        "{% if can.memo %} memo{% endif %}</p>"
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], tmp_path]
    settings.TEMPLATES = templates
    calls = []

    def context(request, ws, order):
        calls.append((request.path, ws.membership.role, order.pk))
        return {"greeting": "hello from a plug-in"}

    register_order_panel(
        "probe",
        order=15,
        title="Probe panel",
        template="probe/_panel.html",
        context=context,
        permission=p.ADJUST_PRICE,
    )
    yield calls
    unregister_order_panel("probe")


def test_a_registered_panel_is_rendered_in_its_place(client, probe_panel):
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    html = page_of(client, order)
    # Its own context, the page's context (order, can) and its place by `order`.
    assert (
        f'<p id="probe-panel">hello from a plug-in {order.platform_order_id} memo</p>'
        in html
    )
    assert "<h2>Probe panel</h2>" in html
    assert (
        html.index('id="panel-shipments"')
        < html.index('id="panel-probe"')
        < html.index('id="panel-aftersales"')
    )
    assert probe_panel == [(f"/orders/{order.pk}/", Role.OWNER, order.pk)]


def test_a_panel_needing_a_permission_is_hidden_from_roles_without_it(
    client, probe_panel
):
    order = make_order(ShopFactory(platform="tiktok"), "AWAITING_SHIPMENT")
    html = page_of(client, order, role=Role.WAREHOUSE)  # may not adjust prices
    assert 'id="panel-probe"' not in html
    assert 'id="panel-shipments"' in html
    assert probe_panel == []  # not even computed
