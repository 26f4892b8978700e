"""The project clock, aware-UTC time helpers and the business-day calendar of the SLA clock.

Product code reads the time only through `timezone_now()` (ruff's banned-api rule refuses
`django.utils.timezone.now` outside this module), and the models' timestamps default to it, so
one block of code can run on another clock with `clock_source(...)`: the demo seed plays its
timeline that way, without patching Django. The source is a context variable, so it applies to
the current thread (or asyncio task) only; every other request keeps the real time.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

UTC = dt.UTC

_source: ContextVar[Callable[[], dt.datetime] | None] = ContextVar("prm_clock", default=None)


def timezone_now() -> dt.datetime:
    """Now, aware (UTC): the real time, or the clock set by `clock_source` in this context."""
    source = _source.get()
    return source() if source is not None else timezone.now()


@contextmanager
def clock_source(source: Callable[[], dt.datetime]) -> Iterator[None]:
    """Within the block, `timezone_now()` (and every model timestamp) reads `source()`; it must
    return aware datetimes."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


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


@functools.lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """The IANA time zones a user may choose (tzdata), sorted, without the legacy aliases."""
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/"))
        )
        + ["UTC"]
    )


def valid_time_zone(name: object) -> zoneinfo.ZoneInfo | None:
    """The zone called `name`, or None when it is not one of time_zone_names()."""
    if not isinstance(name, str) or name not in time_zone_names():
        return None
    return zoneinfo.ZoneInfo(name)
