from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    name = "logistics"
    verbose_name = _("Logistics")

    def ready(self) -> None:
        from logistics import jobs
        from orders.jobs import JOBS

        # Expire numbers of expired pools, warn about low or expiring pools; beat runs it
        # daily through orders.run_job("tracking_pools").
        JOBS["tracking_pools"] = jobs.run

        from logistics import tracking

        # Flag stalled packages, return parcels whose redelivery window passed (L6).
        JOBS["tracking"] = tracking.run

        from logistics import voiding
        from orders.services import AFTER_TRANSITION

        # A closed order's parcels that have not left are voided, whatever closed it.
        if voiding.on_order_transition not in AFTER_TRANSITION:
            AFTER_TRANSITION.append(voiding.on_order_transition)

        from orders.panels import register_order_panel

        # The order page's shipments card (orders.panels).
        register_order_panel(
            "shipments",
            order=10,
            title=_("Shipments"),
            template="logistics/_shipments.html",
            context=shipments_panel,
        )


def shipments_panel(request, ws, order) -> dict:
    from logistics.selectors import shipping_panel
    from orders.permissions import SHIP

    return {"shipping": shipping_panel(order, can_ship=ws.can(SHIP))}
