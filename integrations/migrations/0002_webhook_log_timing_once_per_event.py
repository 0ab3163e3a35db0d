"""Webhook delivery log: timing of the last try, no receiver answers, once per event.

Existing rows: every delivery but the first of a (subscription, event id) was a
redelivery, and the receiver's answer echoed after "HTTP <code>:" is dropped.
"""

import re

from django.db import migrations, models

_ECHO = re.compile(r"^(HTTP \d+):.*$", re.DOTALL)


def mark_redeliveries_and_drop_answers(apps, schema_editor):
    WebhookDelivery = apps.get_model("integrations", "WebhookDelivery")
    first: set[tuple[int, object]] = set()
    later = []
    rows = WebhookDelivery.objects.order_by("id").values_list(
        "id", "subscription_id", "event_id"
    )
    for pk, subscription_id, event_id in rows.iterator(chunk_size=2000):
        if (subscription_id, event_id) in first:
            later.append(pk)
        else:
            first.add((subscription_id, event_id))
    for start in range(0, len(later), 1000):
        WebhookDelivery.objects.filter(pk__in=later[start : start + 1000]).update(
            is_redelivery=True
        )
    echoed = WebhookDelivery.objects.filter(last_error__regex=r"^HTTP [0-9]+:")
    for pk, error in echoed.values_list("id", "last_error").iterator(chunk_size=2000):
        WebhookDelivery.objects.filter(pk=pk).update(
            last_error=_ECHO.sub(r"\1", error)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="is_redelivery",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="last_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="last_duration_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(
            mark_redeliveries_and_drop_answers, migrations.RunPython.noop
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_redelivery", False)),
                fields=("subscription", "event_id"),
                name="delivery_once_per_event",
            ),
        ),
    ]
