"""The Celery app: configuration, and a real worker consuming the real broker."""

from django.conf import settings

from oms.celery import app, ping
from tests.conftest import requires_redis


def test_tasks_are_json_late_acknowledged_and_time_limited():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


@requires_redis
def test_a_worker_consumes_tasks_through_redis():
    from celery.contrib.testing.worker import start_worker

    app.control.purge()
    with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
        result = ping.apply_async(ignore_result=False)
        assert result.get(timeout=20) == "pong"
