from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = _("After-sales")

    def ready(self) -> None:
        from aftersales import ingest, services
        from orders.ingest import AFTER_INGEST
        from orders.jobs import JOBS
        from orders.services import AFTER_TRANSITION

        # Cases follow orders that the platform or a job cancelled or closed.
        if services.on_order_transition not in AFTER_TRANSITION:
            AFTER_TRANSITION.append(services.on_order_transition)
        # A refund or dispute reported on one line opens its case on that line, first.
        if ingest.on_lines_reported not in AFTER_INGEST:
            AFTER_INGEST.insert(0, ingest.on_lines_reported)
        # A platform status meaning a buyer's request opens its case.
        if services.on_order_ingested not in AFTER_INGEST:
            AFTER_INGEST.append(services.on_order_ingested)
        # Unanswered requests, unreturned goods, unconfirmed returns (platforms.md Part 1).
        JOBS["aftersales"] = services.process_due_cases

        from orders.panels import register_order_panel

        # The order page's cards (orders.panels): cases and funds, then the conversation.
        register_order_panel(
            "aftersales",
            order=20,
            title=_("After-sales"),
            template="aftersales/_order_panel.html",
            context=cases_panel,
        )
        register_order_panel(
            "conversation",
            order=30,
            title=_("Messages and notes"),
            template="aftersales/_conversation.html",
            context=conversation_panel,
        )


def cases_panel(request, ws, order) -> dict:
    from aftersales.templatetags.aftersales import aftersales_panel

    return aftersales_panel({"request": request}, order)


def conversation_panel(request, ws, order) -> dict:
    from aftersales.templatetags.conversation import conversation_panel

    context = conversation_panel({"request": request, "ws": ws}, order)
    context.pop("csrf_token", None)  # the page's own, from the context processor
    return context
