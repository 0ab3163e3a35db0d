"""Celery tasks: thin wrappers that call a service by name or id."""

from celery import shared_task


@shared_task(name="orders.run_job")
def run_job_task(name: str) -> dict:
    """Run a periodic job (beat sends ``deadlines`` every minute)."""
    from orders.jobs import run_job

    run = run_job(name)
    return {"job": name, "status": run.status, "counts": run.counts}


@shared_task(name="orders.relay_outbox")
def relay_outbox_task() -> dict:
    """Relay outbox entries a dead worker left (beat, every few seconds)."""
    from orders.effects import relay

    counts, errors = relay()
    return {**counts, "errors": errors[:10]}
