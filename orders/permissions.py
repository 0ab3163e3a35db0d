"""What each role may do: the table of PRODUCT.md "Roles", as data.

Transitions name the permission they need (``Transition.permission``); dashboard pages
and API views check the same names. A member limited to some shops sees only those.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from orders.choices import Role

VIEW_ORDERS = "orders.view"
MEMO = "orders.memo"  # memo and flag
HOLD = "orders.hold"
RELEASE = "orders.release"
ADJUST_PRICE = "orders.adjust_price"
CANCEL = "orders.cancel"
MERGE_SPLIT = "orders.merge_split"
EDIT_ADDRESS = "orders.edit_address"
SHIP = "logistics.ship"  # ship, allocate numbers, print, hand over
DECIDE_AFTERSALES = "aftersales.decide"  # cancel requests, refunds, disputes, messages
CONFIRM_RETURN = "aftersales.confirm_return"
EXPORT_PERSONAL_DATA = "exports.personal_data"
ANALYTICS = "analytics.view"
MANAGE_ORGANISATION = (
    "organisation.manage"  # shops, members, policies, API keys, webhooks
)
# Send platform observations (order bulk-upsert, case ingest): the platform's voice,
# not a member's. Owners only (to repair a missed sync); integrations need the
# ``orders:ingest`` key scope.
INGEST = "orders.ingest"


class Scope(models.TextChoices):
    """What an API key may do (``OmsApiView.scope``), beside what a role may do."""

    ORDERS_READ = "orders:read", _("Read orders")
    ORDERS_WRITE = "orders:write", _("Change orders")
    ORDERS_INGEST = "orders:ingest", _("Send platform observations (orders, cases)")
    LOGISTICS_WRITE = "logistics:write", _("Ship and print")
    AFTERSALES_WRITE = "aftersales:write", _("Decide after-sales")
    EXPORTS = "exports", _("Export")
    WEBHOOKS = "webhooks", _("Manage webhooks")


_OPERATOR = {
    VIEW_ORDERS, MEMO, HOLD, RELEASE, ADJUST_PRICE, CANCEL, MERGE_SPLIT, EDIT_ADDRESS,
    SHIP, DECIDE_AFTERSALES, CONFIRM_RETURN, EXPORT_PERSONAL_DATA, ANALYTICS,
}  # fmt: skip

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_OPERATOR | {MANAGE_ORGANISATION, INGEST}),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.CUSTOMER_SERVICE: frozenset(
        {
            VIEW_ORDERS,
            MEMO,
            HOLD,
            RELEASE,
            EDIT_ADDRESS,
            DECIDE_AFTERSALES,
            CONFIRM_RETURN,
            ANALYTICS,
        }
    ),
    Role.WAREHOUSE: frozenset({VIEW_ORDERS, HOLD, SHIP, CONFIRM_RETURN}),
}


ALL_PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())


def role_allows(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
