"""The work queue's index by union and status gains the dates its rules read (see
HardshipFile.Meta)."""

from django.db import migrations, models


def analyze_files(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Statistics for the new index: without them SQLite guesses, and picks it for queries
    # it does not serve. PostgreSQL would get them from autovacuum, later.
    if schema_editor.connection.vendor in {"sqlite", "postgresql"}:
        table = schema_editor.quote_name("hardship_hardshipfile")
        schema_editor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("hardship", "0003_queue_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="hardshipfile", name="file_org_status_idx"),
        migrations.AddIndex(
            model_name="hardshipfile",
            index=models.Index(
                fields=["organisation", "status", "review_due", "applied_on", "notice_end"],
                name="file_queue_idx",
            ),
        ),
        migrations.RunPython(analyze_files, migrations.RunPython.noop, elidable=True),
    ]
