"""Statistics in SQL: business hours between two timestamps, and percentiles (median, p90) computed as percentile_cont does, from rows or from the hours histogram."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import Floor, Greatest, Least
from django.db.models.functions.window import RowNumber

from deals.reports.filters import UTC

# --- Business hours in SQL ----------------------------------------------------------------------

# 1970-01-05 00:00 UTC was a Monday: business seconds since then up to t are
# 5 days per whole week plus min(remainder of the week, 5 days).
_MONDAY = 4 * 86400
_WEEK = 7 * 86400
_WORKWEEK = 5 * 86400


class EpochSeconds(Func):
    """Seconds since 1970-01-01 UTC as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()
    arity = 1

    def as_postgresql(self, compiler, conn, **extra):
        # date_part() is float8; EXTRACT() is numeric since PostgreSQL 14 and twice as slow.
        return self.as_sql(compiler, conn, template="date_part('epoch', %(expressions)s)")

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        )

    def as_mysql(self, compiler, conn, **extra):  # pragma: no cover - not a supported backend
        return self.as_sql(compiler, conn, template="UNIX_TIMESTAMP(%(expressions)s)")


def _business_seconds_since_monday(epoch):
    shifted = epoch - Value(float(_MONDAY))
    weeks = Floor(shifted / Value(float(_WEEK)))
    remainder = shifted - weeks * Value(float(_WEEK))
    return weeks * Value(float(_WORKWEEK)) + Least(remainder, Value(float(_WORKWEEK)))


def business_hours_expression(start_field, end_field, holidays: Iterable[dt.date] = ()):
    """SQL expression for prm.lib.time.business_hours_between(start, end, holidays), in UTC.
    `start_field`/`end_field` are field names or expressions."""
    start = EpochSeconds(F(start_field) if isinstance(start_field, str) else start_field)
    end = EpochSeconds(F(end_field) if isinstance(end_field, str) else end_field)
    seconds = _business_seconds_since_monday(end) - _business_seconds_since_monday(start)
    for day in holidays:
        h0 = dt.datetime.combine(day, dt.time.min, tzinfo=UTC).timestamp()
        overlap = Least(end, Value(h0 + 86400.0)) - Greatest(start, Value(h0))
        seconds = seconds - Greatest(overlap, Value(0.0))
    return Greatest(seconds, Value(0.0), output_field=FloatField()) / Value(3600.0)


# --- Percentiles ----------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(ARRAY[fractions]) WITHIN GROUP (ORDER BY expr): every
    percentile from one sort. Returns a list of floats (psycopg adapts float8[])."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fractions: tuple[float, ...], **extra):
        from django.contrib.postgres.fields import ArrayField

        listed = ", ".join(f"{float(f)!r}::double precision" for f in fractions)
        super().__init__(
            expression, fractions=listed, output_field=ArrayField(FloatField()), **extra
        )


def _interpolate(values_by_rank: dict[int, float], count: int, fraction: float) -> float:
    position = fraction * (count - 1)
    low, high = math.floor(position), math.ceil(position)
    low_value = values_by_rank[low]
    return low_value + (values_by_rank[high] - low_value) * (position - low)


def _percentiles_window(
    queryset: QuerySet, expression, fractions: tuple[float, ...], group=None
) -> dict:
    """Portable percentiles with window functions: ROW_NUMBER and COUNT over the (optional)
    group, keeping only the one or two rows around each percentile's position. Returns
    {group_key: {fraction: value}} (group_key None without a group). One query per fraction."""
    partition = [group] if group is not None else []
    annotated = queryset.annotate(_v=expression).annotate(
        _g=group if group is not None else Value(0),
        _rn=Window(RowNumber(), partition_by=partition or None, order_by=F("_v").asc()),
        _n=Window(Count("pk"), partition_by=partition or None),
    )
    result: dict = {}
    for fraction in fractions:
        percent = round(fraction * 100)
        # 0-based rank i is needed iff |i - fraction*(n-1)| < 1; in integers (×100):
        annotated_f = annotated.annotate(
            _d=(F("_rn") - 1) * 100 - Value(percent) * (F("_n") - 1)
        ).filter(_d__gt=-100, _d__lt=100)
        rows = annotated_f.values_list("_g", "_rn", "_n", "_v")
        by_group: dict = {}
        for key, rank, count, value in rows:  # at most 2 rows per group
            by_group.setdefault(key, (count, {}))[1][rank - 1] = float(value)
        for key, (count, values) in by_group.items():
            result.setdefault(None if group is None else key, {})[fraction] = _interpolate(
                values, count, fraction
            )
    return result


def percentiles(queryset: QuerySet, expression, fractions: tuple[float, ...], group=None) -> dict:
    """{group_key: {fraction: value}}; percentile_cont on PostgreSQL, window functions elsewhere."""
    if connection.vendor != "postgresql":
        return _percentiles_window(queryset, expression, fractions, group)
    aggregate = PercentileCont(expression, fractions)
    if group is None:
        values = queryset.aggregate(p=aggregate)["p"]
        return {None: dict(zip(fractions, values, strict=True))} if values else {}
    rows = queryset.annotate(_g=group).values("_g").annotate(p=aggregate).order_by()
    return {row["_g"]: dict(zip(fractions, row["p"], strict=True)) for row in rows if row["p"]}


def percentiles_by_rank(
    queryset: QuerySet, field: str, count: int, fractions: tuple[float, ...]
) -> dict[float, float]:
    """Percentiles of `field` over `queryset`, which holds exactly `count` rows with a value:
    for each fraction, the one or two values around its rank, read in order (from the top for
    upper fractions), interpolated linearly as percentile_cont does. With an index on the field
    this reads a slice of the index instead of sorting every row."""
    result: dict[float, float] = {}
    if count <= 0:
        return result
    ordered = queryset.order_by().filter(**{f"{field}__isnull": False})
    for fraction in fractions:
        position = fraction * (count - 1)
        low, high = math.floor(position), math.ceil(position)
        if position <= (count - 1) / 2:
            values = list(ordered.order_by(field).values_list(field, flat=True)[low : high + 1])
        else:
            top = ordered.order_by(F(field).desc()).values_list(field, flat=True)
            values = list(top[count - 1 - high : count - low])[::-1]
        if (
            not values
        ):  # count was stale (rows changed in between): no figure rather than a wrong one
            continue
        result[fraction] = values[0] + (values[-1] - values[0]) * (position - low)
    return result


def _bucket_of(rank: int, histogram: list[tuple[int, int]]) -> tuple[int, int]:
    """(bucket holding the 0-based `rank`, how many values lie in earlier buckets)."""
    before = 0
    for bucket, n in histogram:
        if rank < before + n:
            return bucket, before
        before += n
    return histogram[-1][0], before - histogram[-1][1]


def percentiles_from_histogram(
    queryset: QuerySet, field: str, histogram: list[tuple[int, int]], width: int, fractions
) -> dict[float, float]:
    """Exact percentiles (as percentiles_by_rank) of `field` over `queryset`, given the
    histogram [(bucket, count)] of its values in buckets [width·b, width·b + width): each rank is
    found in its bucket here, then read from the rows of that bucket only, in order (an index
    on the field makes that a short range scan instead of a walk over half the rows)."""
    histogram = sorted((b, c) for b, c in histogram if c > 0)
    count = sum(c for _, c in histogram)
    result: dict[float, float] = {}
    if count <= 0:
        return result
    ordered = queryset.order_by(field).values_list(field, flat=True)
    for fraction in fractions:  # one short index range read per fraction
        position = fraction * (count - 1)
        low_rank = math.floor(position)
        bucket, before = _bucket_of(low_rank, histogram)
        # From the start of the low rank's bucket: its value and the next one (which may be
        # the first of a later bucket, hence no upper bound).
        offset = low_rank - before
        values = list(ordered.filter(**{f"{field}__gte": bucket * width})[offset : offset + 2])
        if not values:  # rows changed since the histogram was read: no figure, not a wrong one
            continue
        low = values[0]
        high = values[-1] if position > low_rank else low
        result[fraction] = low + (high - low) * (position - low_rank)
    return result
