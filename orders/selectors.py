"""Reading orders: the organisation's and shops' orders, filtered (PRODUCT.md O6)."""

from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from oms.core.errors import ValidationFailed
from oms.core.input import clean_query
from oms.core.timeutils import parse_iso
from orders.choices import Channel, Flag, Overlay, Stage
from orders.models import Order, OrderItem, Organisation
from orders.platforms import registry

DATE_FILTERS = {
    "created_after": "created_at__gte", "created_before": "created_at__lt",
    "paid_after": "paid_at__gte", "paid_before": "paid_at__lt",
    "shipped_after": "shipped_at__gte", "shipped_before": "shipped_at__lt",
    "updated_after": "updated_at__gt",
}  # fmt: skip


def orders_of(
    organisation: Organisation, shop_ids: frozenset[int] | None
) -> QuerySet[Order]:
    """Every order the caller may see: one organisation, and its allowed shops."""
    queryset = Order.objects.filter(organisation=organisation)
    if shop_ids is not None:
        queryset = queryset.filter(shop_id__in=shop_ids)
    return queryset


def _choice(params: Mapping, name: str, allowed) -> list[str]:
    values = (
        [v for v in params.getlist(name) if v]
        if hasattr(params, "getlist")
        else [params[name]]
    )
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValidationFailed(fields={name: f"unknown value(s): {', '.join(bad)}"})
    return values


def filter_orders(queryset: QuerySet[Order], params: Mapping) -> QuerySet[Order]:
    """Apply the list filters; a bad value is a 400 naming the parameter."""
    if isinstance(params, QueryDict):  # a page's saved filter may hold a NUL
        params = clean_query(params)
    if params.get("platform"):
        queryset = queryset.filter(platform__in=_choice(params, "platform", registry()))
    if params.get("shop"):
        try:
            shops = [int(v) for v in params.getlist("shop")]
        except ValueError:
            raise ValidationFailed(fields={"shop": "shop ids are numbers"}) from None
        queryset = (
            queryset.filter(shop_id__in=shops)
            if len(shops) > 1
            else queryset.filter(shop_id=shops[0])
        )
    if params.get("stage"):
        queryset = queryset.filter(stage__in=_choice(params, "stage", Stage.values))
    if params.get("native_status"):
        queryset = queryset.filter(native_status__in=params.getlist("native_status"))
    if params.get("flag"):
        queryset = queryset.filter(flag__in=_choice(params, "flag", Flag.values))
    if params.get("channel"):
        queryset = queryset.filter(
            channel__in=_choice(params, "channel", Channel.values)
        )
    for overlay in (
        _choice(params, "overlay", Overlay.values) if params.get("overlay") else []
    ):
        queryset = queryset.filter(**{overlay: True})
    for name, lookup in DATE_FILTERS.items():
        if params.get(name):
            try:
                when = parse_iso(params[name], field=name)
            except ValidationFailed as exc:
                raise ValidationFailed(fields={name: exc.message}) from None
            queryset = queryset.filter(**{lookup: when})
    if params.get("q"):
        queryset = queryset.filter(search_q(params["q"]))
    return queryset


# "Needs attention": a deadline within 6 hours (or passed), or one of these overlays.
AT_RISK = timedelta(hours=6)
ATTENTION_OVERLAYS = (
    "cancel_requested",
    "refund_open",
    "in_dispute",
    "delivery_failed",
    "on_hold",
)
TABS = ("all", *Stage.values, "attention")


def attention_q(now) -> Q:
    query = Q(next_deadline_at__lt=now + AT_RISK)
    for overlay in ATTENTION_OVERLAYS:
        query |= Q(**{overlay: True})
    return query


def split_tab(query: str | Mapping) -> tuple[str, QueryDict]:
    """The list page's query (``tab=…&q=…&shop=…``) as its tab and its filters."""
    params = QueryDict(query, mutable=True) if isinstance(query, str) else query.copy()
    tab = params.pop("tab", ["all"])[-1]
    for name in ("sort", "size", "page"):
        params.pop(name, None)
    return (tab if tab in TABS else "all"), params


def canonical_query(query: str) -> str:
    """``query`` spelled one way: its tab first, then its filters (no paging, no sort)."""
    tab, params = split_tab(query)
    rest = params.urlencode()
    return f"tab={tab}&{rest}" if rest else f"tab={tab}"


def in_tab(queryset: QuerySet[Order], tab: str, now) -> QuerySet[Order]:
    if tab in Stage.values:
        return queryset.filter(stage=tab)
    if tab == "attention":
        return queryset.filter(attention_q(now))
    return queryset


def matching(queryset: QuerySet[Order], query: str, *, now) -> QuerySet[Order]:
    """Exactly the orders the list page shows for ``query``: its tab, search and every
    filter (a bad value raises ``ValidationFailed``). Batches over a filter and their
    background jobs select with this, so they act on what the member saw counted."""
    tab, params = split_tab(query)
    return in_tab(filter_orders(queryset, params), tab, now)


def search_q(text: str) -> Q:
    """Order id, buyer nick/name/phone, SKU (exact) or item title (contains)."""
    text = text.strip()
    items = OrderItem.objects.filter(order=OuterRef("pk"))
    return (
        Q(platform_order_id=text)
        | Q(buyer_phone=text)
        | Q(buyer_nick=text)
        | Q(buyer_name=text)
        | Exists(items.filter(sku=text))
        | Exists(items.filter(title__icontains=text))
    )


def settled_before() -> timedelta:
    return timedelta(seconds=settings.OMS_SYNC_SETTLE_SECONDS)


def sync_window(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """For incremental sync, leave out changes younger than the settle window.

    ``updated_at`` is set when a change starts, and the change becomes visible when it
    commits a moment later; a reader that had already passed that time would skip it.
    Holding back the last seconds makes every change appear, in order, at least once.
    """
    return queryset.filter(updated_at__lte=timezone.now() - settled_before())
