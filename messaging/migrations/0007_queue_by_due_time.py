# The queue index by due time within a priority (messaging.dispatch.DUE). Built concurrently:
# a partial index over queued rows is small, but building it scans the whole message table,
# which a plain CREATE INDEX would keep from writes meanwhile.

import django.db.models.functions.comparison
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0006_ratewindow_unlogged"),
        ("templates", "0002_platform_sensitive_words"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="message",
            name="msg_queue",
        ),
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                models.F("lane"),
                models.F("priority"),
                django.db.models.functions.comparison.Coalesce("send_at", "accepted_at"),
                models.F("id"),
                condition=models.Q(("status", "queued")),
                name="msg_queue",
            ),
        ),
    ]
