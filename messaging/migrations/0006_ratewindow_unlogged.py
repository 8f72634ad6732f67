from django.db import migrations


class Migration(migrations.Migration):
    """Rate-limit counters skip the write-ahead log: every API request bumps one, and a
    counter that a crash resets only lets a window start afresh. Their commits then wait
    for no disk flush (a transaction that wrote no WAL commits asynchronously)."""

    dependencies = [("messaging", "0005_tenant_reference_unchecked")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE messaging_ratewindow SET UNLOGGED",
            reverse_sql="ALTER TABLE messaging_ratewindow SET LOGGED",
        )
    ]
