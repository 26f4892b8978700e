"""The weekly series of the dashboard: decisions, approval rate and time to decision per week."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Count,
    Sum,
)
from django.db.models.functions import TruncWeek

from deals.reports.filters import (
    UTC,
    ReportFilters,
    _cells_for,
    registrations_for_report,
    uses_report_cells,
)
from deals.reports.summary import _decided, _rate, time_to_decision

# --- Time series and breakdowns (dashboard / scorecard) ------------------------------------------


def _week(field: str):
    return TruncWeek(field, tzinfo=UTC)


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def report_weekly(user, filters: ReportFilters) -> dict:
    """Per ISO week: registrations by status (week of first submission), and decisions
    (week of decision, within the selected cohort): count, approval rate, median hours."""
    registrations = registrations_for_report(user, filters)
    if uses_report_cells(user, filters):
        submitted = (
            _cells_for(filters)
            .annotate(week=TruncWeek("day"))
            .values("week", "status")
            .annotate(count=Sum("n"))
            .order_by("week", "status")
        )
    else:
        submitted = (
            registrations.annotate(week=_week("first_submitted_at"))
            .values("week", "status")
            .annotate(count=Count("pk"))
            .order_by("week", "status")
        )
    by_week: dict[dt.date, dict[str, int]] = {}
    for row in submitted:
        if row["count"]:
            by_week.setdefault(_as_date(row["week"]), {})[row["status"]] = row["count"]

    decided = _decided(registrations)
    decisions = (
        decided.annotate(week=_week("decided_at"))
        .values("week")
        .annotate(
            # COUNT(column) counts non-null values: both columns are in the decisions index.
            decided=Count("decided_at"),
            approved=Count("approved_at"),
        )
        .order_by("week")
    )
    medians = time_to_decision(registrations, (0.5,), group=_week("decided_at"))
    medians = {_as_date(k): v for k, v in medians.items()}
    decision_rows = []
    for row in decisions:
        week = _as_date(row["week"])
        decision_rows.append(
            {
                "week": week,
                "decided": row["decided"],
                "approved": row["approved"],
                "approval_rate": _rate(row["approved"], row["decided"]),
                "median_hours": medians.get(week, {}).get(0.5),
            }
        )
    return {
        "registrations": [
            {"week": week, "by_status": statuses, "total": sum(statuses.values())}
            for week, statuses in sorted(by_week.items())
        ],
        "decisions": decision_rows,
    }
