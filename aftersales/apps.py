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
