"""Keys that could push orders (``orders:write``) keep doing so: they get the new
``orders:ingest`` scope, which bulk upsert and case ingest now need. Keys without
``orders:write`` are left as they were. Reversing removes the scope again."""

from django.db import migrations

WRITE, INGEST = "orders:write", "orders:ingest"


def grant(apps, schema_editor):
    ApiKey = apps.get_model("integrations", "ApiKey")
    for key in ApiKey.objects.all().only("pk", "scopes"):
        scopes = list(key.scopes or [])
        if WRITE in scopes and INGEST not in scopes:
            key.scopes = sorted([*scopes, INGEST])
            key.save(update_fields=["scopes"])


def revoke(apps, schema_editor):
    ApiKey = apps.get_model("integrations", "ApiKey")
    for key in ApiKey.objects.all().only("pk", "scopes"):
        if INGEST in (key.scopes or []):
            key.scopes = [scope for scope in key.scopes if scope != INGEST]
            key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [migrations.RunPython(grant, revoke)]
