"""Time to decision stored at the decision (reports read it instead of computing it), and
the indexes the summary reads alone."""

from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    """Existing decisions get their hours under the current policy's holidays (one UPDATE)."""
    import datetime as dt

    from deals.reports.percentiles import business_hours_expression

    Registration = apps.get_model("deals", "DealRegistration")
    Policy = apps.get_model("deals", "RulesOfEngagement")
    policy = Policy.objects.order_by("-version").first()
    holidays = []
    for value in (policy.holidays if policy else None) or []:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            continue
        if day.weekday() < 5:
            holidays.append(day)
    Registration.objects.filter(decided_at__isnull=False).update(
        decision_hours=business_hours_expression(
            "first_submitted_at", "decided_at", sorted(set(holidays))
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0004_report_indexes"),
        ("partners", "0003_user_session_registry"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="dealregistration",
            name="decision_hours",
            field=models.FloatField(
                blank=True,
                help_text="Business hours from first submission to the decision, under the holidays of the policy in force at the decision (set with decided_at, never after).",
                null=True,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="dealregistration",
            index=models.Index(
                condition=models.Q(("decision_hours__isnull", False)),
                fields=["decision_hours", "first_submitted_at", "partner"],
                name="registration_decision_hours",
            ),
        ),
        migrations.AddIndex(
            model_name="dealregistration",
            index=models.Index(
                condition=models.Q(("status__in", ["submitted", "info_requested"])),
                fields=["sla_due_at", "first_submitted_at", "partner"],
                name="registration_awaiting_sla",
            ),
        ),
        migrations.AddConstraint(
            model_name="dealregistration",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("decided_at__isnull", True), ("decision_hours__isnull", True)),
                    models.Q(
                        ("decided_at__isnull", False),
                        ("decision_hours__gte", 0),
                        ("decision_hours__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="registration_decision_hours_with_decision",
            ),
        ),
    ]
