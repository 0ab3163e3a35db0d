"""Keys that could push platform observations keep doing so: bulk upsert needed
``orders:write`` and case ingest ``aftersales:write``; both now need the new
``orders:ingest`` scope, so every key holding either gets it (a key that held only
``aftersales:write`` can now also upsert orders, under the platform's rules). Other
keys are left as they were. Reversing removes the scope again."""

from django.db import migrations

WRITES, INGEST = {"orders:write", "aftersales:write"}, "orders:ingest"


def grant(apps, schema_editor):
    ApiKey = apps.get_model("integrations", "ApiKey")
    for key in ApiKey.objects.all().only("pk", "scopes"):
        scopes = list(key.scopes or [])
        if WRITES & set(scopes) and INGEST not in scopes:
            key.scopes = sorted([*scopes, INGEST])
            key.save(update_fields=["scopes"])


def revoke(apps, schema_editor):
    ApiKey = apps.get_model("integrations", "ApiKey")
    for key in ApiKey.objects.all().only("pk", "scopes"):
        if INGEST in (key.scopes or []):
            key.scopes = [scope for scope in key.scopes if scope != INGEST]
            key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_webhook_log_timing_once_per_event")]

    operations = [migrations.RunPython(grant, revoke)]
