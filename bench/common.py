"""What every benchmark does first: its own PostgreSQL database, Django, migrations."""

import os
from urllib.parse import urlparse

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oms_bench"


def ensure_database(url: str) -> None:
    """Create the database ``url`` names when it does not exist yet."""
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or None, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup(default_url: str = DEFAULT_URL) -> str:
    """Point Django at BENCH_DATABASE_URL (else ``default_url``), create and migrate it."""
    url = os.environ.get("BENCH_DATABASE_URL", default_url)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.base")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


# Every column of orders_order, for benchmarks that fill orders with one INSERT … SELECT
# (follow it with the SELECT that yields them in this order).
INSERT_ORDERS = """
    INSERT INTO orders_order (
        organisation_id, shop_id, platform, platform_order_id, native_status, stage,
        end_reason, resume_status, version, shipping_blocked, cancel_requested,
        refund_open, in_dispute, frozen, on_hold, delivery_failed, buyer_nick,
        buyer_name, buyer_phone, buyer_email, address_country, address_province,
        address_city, address_district, address_street, address_postcode, currency,
        items_total, shipping_fee, discount, tax, total, paid_amount, buyer_message,
        seller_memo, flag, channel, created_at, paid_at, completed_at,
        status_changed_at, platform_updated_at, platform_deadlines,
        next_deadline_at, next_deadline_kind, ingested_at, updated_at)
"""
