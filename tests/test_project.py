"""Project plumbing: the compose file, the health check, the platform description command."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_web_worker_beat_postgres_and_redis_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in " ".join(map(str, [services["web"]["command"]]))
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres")


@pytest.mark.django_db
def test_health_check(client):
    assert client.get("/healthz/").json() == {"status": "ok"}


@pytest.mark.parametrize("platform", ["taobao", "aliexpress", "tiktok"])
def test_describe_platform_prints_the_table_and_diagram(platform):
    out = StringIO()
    call_command("describe_platform", platform, stdout=out)
    text = out.getvalue()
    assert "stateDiagram-v2" in text
    assert "| policy | default | confirmed |" in text
