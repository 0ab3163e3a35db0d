"""The dashboard's page kit: the signed-in member's workspace and the order they may see.

Every app's pages (orders, logistics, after-sales) start from ``workspace(request)``;
it lives here rather than in ``orders.views`` so that no app imports another's views.
It stays in ``orders`` (not ``oms.core``) because it is made of memberships and roles.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from orders import permissions as p
from orders.models import Membership, Order, OrderItem
from orders.selectors import orders_of
from orders.services import Actor


@dataclass
class Workspace:
    """The signed-in member's organisation, role and shops for this request."""

    membership: Membership
    memberships: list[Membership]
    shop_ids: frozenset[int] | None

    @property
    def organisation(self):
        return self.membership.organisation

    @property
    def actor(self) -> Actor:
        return Actor.member(self.membership)

    @property
    def shops(self):
        """The shops this member may see, by name (for filters)."""
        shops = self.organisation.shops.order_by("name")
        return shops if self.shop_ids is None else shops.filter(pk__in=self.shop_ids)

    def can(self, permission: str) -> bool:
        return p.role_allows(self.membership.role, permission)

    @property
    def can_ship(self) -> bool:
        """Print labels and hand over (the warehouse pages and their nav link)."""
        return self.can(p.SHIP)

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(_("Your role may not do this."))


def workspace(request: HttpRequest) -> Workspace:
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("organisation", "user")
        .prefetch_related("shops")
        .order_by("organisation__name")
    )
    if not memberships:
        raise PermissionDenied(_("You are not a member of any organisation."))
    wanted = request.session.get("organisation")
    membership = next(
        (m for m in memberships if m.organisation.slug == wanted), memberships[0]
    )
    allowed = {shop.pk for shop in membership.shops.all()}
    return Workspace(membership, memberships, frozenset(allowed) if allowed else None)


def get_order(ws: Workspace, order_id: int) -> Order:
    order = (
        orders_of(ws.organisation, ws.shop_ids)
        .select_related("shop")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise Http404(_("No such order."))
    return order
