"""Aware-UTC time helpers and the business-day calendar used by the SLA clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

UTC = dt.UTC


def timezone_now() -> dt.datetime:
    return timezone.now()


def add_business_days(
    start: dt.datetime, days: int, holidays: Iterable[dt.date] = ()
) -> dt.datetime:
    """start + N business days (Mon–Fri, skipping holidays), keeping the time of day."""
    holiday_set = set(holidays)
    current = start
    added = 0
    while added < days:
        current += dt.timedelta(days=1)
        if current.weekday() < 5 and current.date() not in holiday_set:
            added += 1
    return current


def business_hours_between(
    start: dt.datetime, end: dt.datetime, holidays: Iterable[dt.date] = ()
) -> float:
    """Hours between two instants counting only business days (24h per business day)."""
    if end <= start:
        return 0.0
    holiday_set = set(holidays)
    total = dt.timedelta()
    cursor = start
    while cursor < end:
        next_midnight = dt.datetime.combine(
            cursor.date() + dt.timedelta(days=1), dt.time.min, tzinfo=cursor.tzinfo
        )
        segment_end = min(next_midnight, end)
        if cursor.weekday() < 5 and cursor.date() not in holiday_set:
            total += segment_end - cursor
        cursor = segment_end
    return total.total_seconds() / 3600
