"""The "within the limit" indicators' limits become policy data (issue 5): days from
application to filing and from filing to first help, per region and period, 30 by default
(the constants they replace)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hardship", "0004_queue_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="filing_limit_days",
            field=models.PositiveSmallIntegerField(
                default=30, verbose_name="file within (days of the application)"
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="help_limit_days",
            field=models.PositiveSmallIntegerField(
                default=30, verbose_name="first help within (days of filing)"
            ),
        ),
    ]
