"""Periodic jobs: a registry by name, and a runner that records every run.

Beat runs each job on its schedule (``CELERY_BEAT_SCHEDULE``); ``manage.py runjobs``
runs them once, synchronously, for operators, cron and tests.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from orders import effects
from orders.choices import JobStatus, NotificationLevel
from orders.deadlines import process_due_deadlines
from orders.models import JobRun, Order
from orders.notifications import notify

logger = logging.getLogger(__name__)


def _deadlines(now: datetime) -> tuple[dict, list]:
    result = process_due_deadlines(now=now)
    return result.counts(), result.errors


JOBS: dict[str, Callable[[datetime], tuple[dict, list]]] = {
    "deadlines": _deadlines,
    # The outbox relay (orders/effects.py); beat runs it every few seconds through
    # the ``orders.relay_outbox`` task, without a JobRun record each time.
    "outbox": effects.run_job,
}

ABANDONED_ERROR = (
    "the worker stopped before the run finished (killed or lost); "
    "the next run redoes what is left"
)


def mark_abandoned_runs() -> int:
    """Runs still "running" past the lease lost their worker: mark them abandoned.

    A run has no heartbeat; the lease (``OMS_JOB_RUN_LEASE_SECONDS``) is longer than
    Celery's hard time limit, so only a dead run is this old. Runs never block each
    other (every job is safe to run twice or in parallel), so this is for the record
    and the admin, not a lock.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OMS_JOB_RUN_LEASE_SECONDS)
    return JobRun.objects.filter(
        status=JobStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=JobStatus.ABANDONED,
        finished_at=now,
        errors=[{"error": ABANDONED_ERROR}],
    )


def run_job(name: str, *, now: datetime | None = None) -> JobRun:
    """Run job ``name`` once as of ``now`` and record the run (errors included)."""
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}; known: {', '.join(JOBS)}")
    abandoned = mark_abandoned_runs()
    if abandoned:
        logger.warning("marked %s job run(s) abandoned (their worker died)", abandoned)
    run = JobRun.objects.create(job=name, as_of=now or timezone.now())
    try:
        counts, errors = JOBS[name](run.as_of)
    except Exception as exc:
        logger.exception("job %s failed", name)
        counts, errors = {}, [{"error": repr(exc)[:500]}]
    run.counts, run.errors = counts, errors
    run.status = JobStatus.FAILED if errors else JobStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "errors", "status", "finished_at"])
    _notify_failures(run)
    JobRun.objects.filter(
        job=name,
        started_at__lt=run.started_at
        - timedelta(days=settings.OMS_JOB_RUN_RETENTION_DAYS),
    ).delete()
    return run


def _notify_failures(run: JobRun) -> None:
    """Tell each organisation which of its orders the job could not handle."""
    failed = {
        error["order_id"]: error["error"] for error in run.errors if "order_id" in error
    }
    if not failed:
        return
    for order in Order.objects.filter(pk__in=failed).select_related("shop"):
        notify(
            organisation=order.organisation_id,
            order=order,
            kind=f"job_failed:{run.job}",
            level=NotificationLevel.CRITICAL,
            title=f"{order.shop.name} {order.platform_order_id}: the {run.job} job could not "
            "handle this order; it will retry",
            body=failed[order.pk],
        )
