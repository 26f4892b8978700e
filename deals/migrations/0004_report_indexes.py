"""Indexes for the reports: the period filter selects registrations by first submission,
program-wide or for one partner (deals/reports.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0003_events_append_only_default_policy"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dealregistration",
            index=models.Index(fields=["first_submitted_at"], name="registration_first_submitted"),
        ),
        migrations.AddIndex(
            model_name="dealregistration",
            index=models.Index(
                fields=["partner", "first_submitted_at"], name="registration_partner_first_sub"
            ),
        ),
    ]
