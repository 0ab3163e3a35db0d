"""Background jobs: work over many orders that does not fit in one request.

A ``BackgroundJob`` records what to go over (``params``: for a batch, the filter exactly
as the list page spelled it, with the time it was confirmed and the newest order id it
covered, never a frozen list of ids), who started it, its progress and per-order
results. A Celery task (``orders.run_background_job``) works through it in chunks:

- each chunk is one transaction: the job row is locked, the member's role and shops are
  read again (a member limited or removed meanwhile limits or stops the job), the next
  orders after ``cursor`` that still match are locked in id order, and the kind's
  handler makes one service call for all of them;
- a cancel request is honoured between chunks;
- a task that dies loses only its open chunk (rolled back) and, acknowledged late, runs
  again from ``cursor``; a task runs a few chunks and then enqueues its continuation,
  so no task outlives the time limit.

Kinds register a ``Kind`` in ``KINDS``: the batch action is here; exports (a later
issue) add theirs.
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.core.errors import OmsError
from orders import actions
from orders import permissions as p
from orders.choices import BackgroundJobKind, BackgroundJobStatus
from orders.models import BackgroundJob, BackgroundJobResult, Membership, Order
from orders.selectors import matching, orders_of
from orders.services import Actor

logger = logging.getLogger(__name__)

# A task stops taking new chunks after this long and hands over to a new task, well
# inside Celery's soft time limit.
TURN_SECONDS = 30


@dataclass(frozen=True)
class Kind:
    # The permission the member who started the job needs (checked on every chunk).
    permission: Callable[[BackgroundJob], str]
    # The job's orders among those the member may see now (a lazy queryset).
    orders: Callable[[BackgroundJob, QuerySet[Order]], QuerySet[Order]]
    # One service call over a chunk of locked orders: per order the result or error.
    handle: Callable[[BackgroundJob, Actor, Sequence[Order]], list[Order | OmsError]]


# --- the batch action over a filter ---------------------------------------------------


def _batch_orders(job: BackgroundJob, visible: QuerySet[Order]) -> QuerySet[Order]:
    params = job.params
    as_of = datetime.fromisoformat(params["as_of"])
    return matching(visible, params["filter"], now=as_of).filter(
        pk__lte=params["max_pk"]
    )


def _batch_handle(
    job: BackgroundJob, actor: Actor, orders: Sequence[Order]
) -> list[Order | OmsError]:
    params = job.params
    return actions.perform_batch_on_locked(
        orders,
        params["action"],
        actor,
        data=params.get("data", {}),
        reason=params.get("reason", ""),
    )


KINDS: dict[str, Kind] = {
    BackgroundJobKind.BATCH_ACTION: Kind(
        permission=lambda job: actions.BATCH_ACTIONS[job.params["action"]],
        orders=_batch_orders,
        handle=_batch_handle,
    ),
}


# --- starting, cancelling ---------------------------------------------------------------


def start(
    kind: str, membership: Membership, params: Mapping[str, Any], *, total: int
) -> BackgroundJob:
    """Record a job and enqueue it once the transaction commits."""
    from orders.tasks import run_background_job_task

    job = BackgroundJob.objects.create(
        kind=kind,
        organisation_id=membership.organisation_id,
        membership=membership,
        created_by=membership.user,
        params=dict(params),
        total=total,
    )
    run_background_job_task.delay_on_commit(job.pk)
    return job


def request_cancel(job: BackgroundJob) -> None:
    """Ask a job to stop; it stops before its next chunk (a waiting job never starts)."""
    BackgroundJob.objects.filter(
        pk=job.pk,
        status__in=(BackgroundJobStatus.PENDING, BackgroundJobStatus.RUNNING),
    ).update(cancel_requested=True)


# --- running ----------------------------------------------------------------------------


def run(job_id: int, *, chunks: int | None = None) -> BackgroundJob | None:
    """Work through a job for one worker's turn (``OMS_BACKGROUND_JOB_CHUNKS_PER_TASK``
    chunks, at most ``TURN_SECONDS``); a job not finished by then continues in a new
    task. ``chunks`` given (tests, operators): only that many, no continuation."""
    from celery.exceptions import SoftTimeLimitExceeded

    job = BackgroundJob.objects.filter(pk=job_id).first()
    if job is None:  # deleted meanwhile (its organisation removed): nothing to do
        return None
    started = time.monotonic()
    for _turn in range(chunks or settings.OMS_BACKGROUND_JOB_CHUNKS_PER_TASK):
        try:
            job = step(job_id)
        except SoftTimeLimitExceeded:
            break  # the open chunk rolled back; the next task takes it again
        except Exception as exc:
            logger.exception("background job %s failed", job_id)
            return _fail(job_id, repr(exc)[:500])
        if job.finished:
            return job
        if chunks is None and time.monotonic() - started > TURN_SECONDS:
            break
    if chunks is None:
        _enqueue(job_id)
    return job


def _enqueue(job_id: int) -> None:
    from orders.tasks import run_background_job_task

    run_background_job_task.delay(job_id)


def resume_stalled(now: datetime) -> tuple[dict, list]:
    """``JOBS["background_jobs"]`` (beat, every minute): enqueue again the jobs waiting
    or running without a sign of life for ``OMS_BACKGROUND_JOB_STALL_SECONDS`` (their
    message lost, their worker killed). Running twice is harmless: a job's chunks are
    serialised by its row lock and resume after ``cursor``."""
    stale = now - timedelta(seconds=settings.OMS_BACKGROUND_JOB_STALL_SECONDS)
    ids = list(
        BackgroundJob.objects.filter(
            status__in=(BackgroundJobStatus.PENDING, BackgroundJobStatus.RUNNING)
        )
        .annotate(alive=Coalesce("heartbeat_at", "created_at"))
        .filter(alive__lt=stale)
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        _enqueue(job_id)
    return {"resumed": len(ids)}, []


def step(job_id: int, *, now: datetime | None = None) -> BackgroundJob:
    """One chunk of a job, in one transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().get(pk=job_id)
        if job.finished:
            return job
        if job.cancel_requested:
            return _finish(job, BackgroundJobStatus.CANCELLED, now)
        if job.status == BackgroundJobStatus.PENDING:
            job.status, job.started_at = BackgroundJobStatus.RUNNING, now
        kind = KINDS[job.kind]
        membership = (
            Membership.objects.select_related("organisation", "user")
            .filter(pk=job.membership_id, organisation_id=job.organisation_id)
            .first()
        )
        if membership is None:
            return _finish(
                job,
                BackgroundJobStatus.FAILED,
                now,
                error=_("The member who started it is no longer a member."),
            )
        if not p.role_allows(membership.role, kind.permission(job)):
            return _finish(
                job,
                BackgroundJobStatus.FAILED,
                now,
                error=_("The role of the member who started it may no longer do this."),
            )
        allowed = membership.allowed_shop_ids()
        visible = orders_of(
            membership.organisation, frozenset(allowed) if allowed else None
        )
        try:
            chosen = kind.orders(job, visible)
            chunk = list(
                chosen.filter(pk__gt=job.cursor)
                .select_for_update(of=("self",), no_key=True)
                .select_related("shop")
                .order_by("pk")[: settings.OMS_BACKGROUND_JOB_CHUNK]
            )
        except OmsError as exc:
            return _finish(job, BackgroundJobStatus.FAILED, now, error=exc.message)
        if not chunk:
            job.summary["no_longer_matching"] = max(job.total - job.done, 0)
            return _finish(job, BackgroundJobStatus.SUCCEEDED, now)
        outcomes = kind.handle(job, Actor.member(membership), chunk)
        results = []
        for order, outcome in zip(chunk, outcomes, strict=True):
            refused = isinstance(outcome, OmsError)
            results.append(
                BackgroundJobResult(
                    job=job,
                    order=order,
                    platform_order_id=order.platform_order_id,
                    ok=not refused,
                    code=outcome.code if refused else "",
                    reason=outcome.reason_text if refused else "",
                )
            )
        BackgroundJobResult.objects.bulk_create(results)
        ok = sum(result.ok for result in results)
        job.summary = {
            "ok": job.summary.get("ok", 0) + ok,
            "refused": job.summary.get("refused", 0) + len(results) - ok,
        }
        job.done += len(chunk)
        job.cursor = chunk[-1].pk
        job.heartbeat_at = now
        job.save()
    return job


def _finish(
    job: BackgroundJob, status: str, now: datetime, *, error: str = ""
) -> BackgroundJob:
    job.summary = {
        "ok": job.summary.get("ok", 0),
        "refused": job.summary.get("refused", 0),
        **{k: v for k, v in job.summary.items() if k not in ("ok", "refused")},
    }
    job.status, job.finished_at, job.heartbeat_at = status, now, now
    job.error = error
    job.save()
    return job


def _fail(job_id: int, error: str) -> BackgroundJob:
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().get(pk=job_id)
        if not job.finished:
            _finish(job, BackgroundJobStatus.FAILED, timezone.now(), error=error)
    return job
