"""Time to decision stored at the decision (reports read it instead of computing it), and
the indexes the summary reads alone."""

import datetime as dt

from django.conf import settings
from django.db import migrations, models
from django.db.models import F, FloatField, Func, Value
from django.db.models.functions import Floor, Greatest, Least

# Business hours in SQL as they were defined when this migration was written (a frozen copy of
# deals.reports.business_hours_expression: a migration never imports live code). Mon–Fri, 24 h
# a day, in UTC; 1970-01-05 was a Monday.
_MONDAY, _WEEK, _WORKWEEK = 4 * 86400, 7 * 86400, 5 * 86400


class _EpochSeconds(Func):
    output_field = FloatField()
    arity = 1

    def as_postgresql(self, compiler, conn, **extra):
        return self.as_sql(compiler, conn, template="date_part('epoch', %(expressions)s)")

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        )


def _business_seconds_since_monday(epoch):
    shifted = epoch - Value(float(_MONDAY))
    weeks = Floor(shifted / Value(float(_WEEK)))
    remainder = shifted - weeks * Value(float(_WEEK))
    return weeks * Value(float(_WORKWEEK)) + Least(remainder, Value(float(_WORKWEEK)))


def business_hours_expression(start_field, end_field, holidays=()):
    start, end = _EpochSeconds(F(start_field)), _EpochSeconds(F(end_field))
    seconds = _business_seconds_since_monday(end) - _business_seconds_since_monday(start)
    for day in holidays:
        h0 = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC).timestamp()
        overlap = Least(end, Value(h0 + 86400.0)) - Greatest(start, Value(h0))
        seconds = seconds - Greatest(overlap, Value(0.0))
    return Greatest(seconds, Value(0.0), output_field=FloatField()) / Value(3600.0)


def backfill(apps, schema_editor):
    """Existing decisions get their hours under the current policy's holidays (one UPDATE)."""
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
