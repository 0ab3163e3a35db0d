"""The Celery app. Configuration comes from Django settings under the ``CELERY_`` prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.base")

# DjangoTask adds delay_on_commit(): enqueue only once the transaction has committed.
app = Celery("oms", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="oms.ping")
def ping() -> str:
    """Answer ``pong``: lets operators and tests prove a worker consumes the broker."""
    return "pong"
