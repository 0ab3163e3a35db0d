"""Periodic jobs: a registry by name, and a runner that records every run.

Beat runs each job on its schedule (``CELERY_BEAT_SCHEDULE``); ``manage.py runjobs``
runs them once, synchronously, for operators, cron and tests.
"""

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
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


def this_process() -> str:
    """``host:pid`` of the process running a job, recorded on its run."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, killed and not yet
    reaped by its pool, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc here: trust kill(0)


def mark_abandoned_runs() -> int:
    """Runs still "running" whose process is gone: mark them abandoned.

    A run records the process that runs it (``host:pid``). On this host a run whose
    process no longer exists died with it (a worker killed with ``kill -9``, a pool
    child lost): it is marked at once. A run of another host is marked once it is older
    than the lease (``OMS_JOB_RUN_LEASE_SECONDS``, longer than Celery's hard time limit,
    so only a dead run is that old). Runs never block each other (every job is safe to
    run twice or in parallel), so this is for the record and the admin, not a lock.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OMS_JOB_RUN_LEASE_SECONDS)
    host = f"{socket.gethostname()}:"
    dead = [
        run.pk
        for run in JobRun.objects.filter(
            status=JobStatus.RUNNING, worker__startswith=host
        ).only("pk", "worker")
        if run.worker[len(host) :].isdigit()
        and not _alive(int(run.worker[len(host) :]))
    ]
    stale = JobRun.objects.filter(status=JobStatus.RUNNING).filter(
        Q(started_at__lt=cutoff) | Q(pk__in=dead)
    )
    return stale.update(
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
    run = JobRun.objects.create(
        job=name, as_of=now or timezone.now(), worker=this_process()
    )
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
