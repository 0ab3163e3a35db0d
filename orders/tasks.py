"""Celery tasks: thin wrappers that call a service by name or id."""

from celery import shared_task


@shared_task(name="orders.run_job")
def run_job_task(name: str) -> dict:
    """Run a periodic job (beat sends ``deadlines`` every minute)."""
    from orders.jobs import run_job

    run = run_job(name)
    return {"job": name, "status": run.status, "counts": run.counts}


@shared_task(name="orders.run_background_job")
def run_background_job_task(job_id: int) -> dict:
    """Work through a background job (a batch over a filter …) a few chunks at a time."""
    from orders.background import run

    job = run(job_id)
    if job is None:
        return {"job": job_id, "status": "missing"}
    return {"job": job_id, "status": job.status, "done": job.done, "total": job.total}


@shared_task(name="orders.relay_outbox")
def relay_outbox_task() -> dict:
    """Relay outbox entries a dead worker left (beat, every few seconds); mark the job
    runs a dead worker left (a cheap look at the few runs still running)."""
    from orders.effects import relay
    from orders.jobs import mark_abandoned_runs

    counts, errors = relay()
    return {**counts, "abandoned_runs": mark_abandoned_runs(), "errors": errors[:10]}
