"""Reporting selectors (PRODUCT.md "Reporting", API.md "Reports").

Every figure is a database aggregate: the queries below return one row per currency, per
week, per status or per breakdown key, never one row per registration. The only code that
walks registration rows is the CSV export, which streams them.

Definitions (the README/report documents them too):

- **Population.** Reports describe *submitted* registrations: drafts are never counted (they
  were never registered with the vendor). The period (`from`/`to`, inclusive UTC dates)
  selects registrations by **first submission** (`first_submitted_at`): a cohort that does not
  move when a registration is resubmitted after an information request.
- **Approval rate** = registrations approved at some point (`approved_at` set: approved, won,
  lost, expired, or withdrawn after approval) ÷ registrations decided (`decided_at` set:
  approved or rejected). `null` when nothing was decided.
- **Time to decision** = business hours (Mon–Fri, 24 h a day, minus the holidays of the
  policy in force at the decision; `prm.lib.time.business_hours_between`) from first
  submission to the decision, stored on the registration when it is decided
  (`decision_hours`). Median and p90 use linear interpolation between the closest ranks (as
  PostgreSQL's `percentile_cont`): the summary reads the one or two values around each rank
  in order from an index (`percentiles_by_rank`), the weekly series uses `percentile_cont`
  on PostgreSQL and window functions elsewhere. Auto-approvals count as decisions (0 hours).
- **Overdue** = awaiting a decision (submitted / info_requested) with `sla_due_at` in the
  past, now. **Decided late** = decided after `sla_due_at`. **SLA breaches** = both.
- **Conflict rate** = submitted registrations that were ever flagged (they have at least one
  Conflict row, potential or certain) ÷ submitted registrations. We count Conflict rows and
  not the current `conflict_status`, because a resolution resets that field to `clear`; the
  rate must not drop because managers did their job. **Conflicts by resolution** counts
  Conflict rows of the selected registrations by resolution, plus `open` for unresolved ones.
- **Pipeline value** = sum of `estimated_value` of open registrations (submitted,
  info_requested, approved), per currency. In the product-line breakdown a registration counts
  once in each of its product lines, so line totals may exceed the overall total.
- **Won value** = sum of `actual_value` of won registrations, per currency; **win rate** =
  won ÷ (won + lost), `null` when nothing closed. **Co-sell won value** = won value of
  registrations with `co_sell` set (a conflict resolved as co-sell).
- **Extension rate** = approved-at-some-point registrations with at least one extension ÷
  approved-at-some-point registrations.
- Money is returned as decimal strings with two places, per ISO currency; rates as floats in
  0..1 rounded to 4 places, or `None` when the denominator is 0.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Floor, Greatest, Least, TruncWeek
from django.db.models.functions.window import RowNumber
from django.utils import timezone

from conflicts.models import Conflict
from deals import lifecycle
from deals.models import (
    DealRegistration,
    ProductLine,
    RegistrationStatus,
    RejectionReason,
    ReportCell,
    ReportHoursCell,
)
from deals.registrations.selectors import registrations_visible_to
from deals.reports.rollup import HOURS_BUCKET
from partners.models import Partner, Tier
from partners.roles import is_manager, partner_of
from prm.exceptions import NotFound, PermissionDeniedError, ValidationFailed
from prm.security_log import unscoped_read

UTC = dt.UTC
ProductsThrough = DealRegistration.products.through

AWAITING = (lifecycle.SUBMITTED, lifecycle.INFO_REQUESTED)
PIPELINE_STATUSES = (lifecycle.SUBMITTED, lifecycle.INFO_REQUESTED, lifecycle.APPROVED)
REPORT_STATUSES = tuple(s for s in lifecycle.STATUSES if s != lifecycle.DRAFT)
CENT = Decimal("0.01")
MAX_PARTNER_ROWS = 15


# --- Filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    partner_id: int | None = None
    tier: str | None = None
    product_line: str | None = None

    def as_params(self) -> dict[str, str]:
        """Query-string form (for links such as the CSV export of the same selection)."""
        params = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "partner": str(self.partner_id) if self.partner_id else "",
            "tier": self.tier or "",
            "product_line": self.product_line or "",
        }
        return {k: v for k, v in params.items() if v}


# Codes are slugs; anything else (NUL bytes, 10 kB strings) is refused before any query.
_CODE = re.compile(r"[-a-zA-Z0-9_]{1,40}")


def _parse_date(raw: str, field: str, errors: dict) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = ["Use a date in the form YYYY-MM-DD."]
        return None


def report_filters_parse(params, *, user) -> ReportFilters:
    """Validate report query parameters for `user`.

    Unknown or malformed values raise ValidationFailed (400). A partner user's partner filter
    is forced to their own company; naming another partner raises NotFound (404), exactly as
    for a partner id that does not exist, so existence does not leak."""
    errors: dict[str, list[str]] = {}
    date_from = _parse_date(params.get("from", ""), "from", errors)
    date_to = _parse_date(params.get("to", ""), "to", errors)
    if date_from and date_to and date_from > date_to:
        errors["to"] = ["The end of the period is before its start."]

    partner_id = None
    raw_partner = (params.get("partner") or "").strip()
    if raw_partner:
        if not raw_partner.isdigit() or len(raw_partner) > 18:
            errors["partner"] = ["Use a partner id (a positive integer)."]
        else:
            partner_id = int(raw_partner)

    tier = (params.get("tier") or "").strip() or None
    if tier and (not _CODE.fullmatch(tier) or not Tier.objects.filter(code=tier).exists()):
        errors["tier"] = ["Unknown tier code."]
    product_line = (params.get("product_line") or "").strip() or None
    if product_line and (
        not _CODE.fullmatch(product_line)
        or not ProductLine.objects.filter(code=product_line).exists()
    ):
        errors["product_line"] = ["Unknown product line code."]

    if is_manager(user):
        if partner_id is not None and "partner" not in errors:
            if not Partner.objects.filter(pk=partner_id).exists():
                errors["partner"] = ["Unknown partner."]
    else:
        own = partner_of(user)
        if own is None:
            raise PermissionDeniedError("Reports are for channel managers and partner users.")
        if partner_id is not None and partner_id != own.pk and "partner" not in errors:
            raise NotFound()
        partner_id = own.pk
    if errors:
        raise ValidationFailed("Some report filters are not valid.", fields=errors)
    return ReportFilters(date_from, date_to, partner_id, tier, product_line)


def _period_q(filters: ReportFilters, field: str = "first_submitted_at") -> Q:
    q = Q(**{f"{field}__isnull": False})
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=UTC)
        q &= Q(**{f"{field}__gte": start})
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=UTC)
        q &= Q(**{f"{field}__lt": end})
    return q


def _apply(queryset: QuerySet, filters: ReportFilters) -> QuerySet:
    queryset = queryset.filter(_period_q(filters))
    if filters.partner_id:
        queryset = queryset.filter(partner_id=filters.partner_id)
    if filters.tier:
        # A partner-id subquery, not a join: the percentile index scan filters on partner_id.
        queryset = queryset.filter(
            partner_id__in=Partner.objects.filter(tier__code=filters.tier).values("pk")
        )
    if filters.product_line:
        # EXISTS, not a join: a registration with two products in the line counts once.
        queryset = queryset.filter(
            Exists(
                ProductsThrough.objects.filter(
                    dealregistration_id=OuterRef("pk"),
                    product__product_line__code=filters.product_line,
                )
            )
        )
    return queryset


def registrations_for_report(user, filters: ReportFilters) -> QuerySet[DealRegistration]:
    """The tenant-scoped, filtered registrations every report figure is computed from."""
    base = registrations_visible_to(user).select_related(None).prefetch_related(None)
    return _apply(base.order_by(), filters)


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


# --- Summary --------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _money(value) -> str:
    return str(Decimal(str(value)).quantize(CENT))


def _hours(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _decided(queryset: QuerySet) -> QuerySet:
    # decision_hours is set exactly when decided_at is (a constraint): filtering on it alone
    # lets the decision-hours index answer without visiting the table.
    return queryset.filter(first_submitted_at__isnull=False, decision_hours__isnull=False)


# The summary's figures are folded from "group rows", one per (currency, status, rejection
# reason), carrying counts and sums. Two sources give the same rows: the registrations
# themselves (any filter), and the rollup cells (deals.rollup) when the selection is program-wide
# (a manager without a partner or product-line filter), which is what keeps the unfiltered
# summary fast at a million registrations. tests/reports/test_rollup.py asserts they agree.

_GROUP_KEY = ("currency", "status", "rejection_reason")


def uses_report_cells(user, filters: ReportFilters) -> bool:
    return is_manager(user) and not filters.partner_id and not filters.product_line


def _groups_live(registrations: QuerySet) -> list[dict]:
    # One pass over the registrations, grouped by (currency, status, rejection reason): a few
    # dozen group rows at most, folded by the caller.
    return list(
        registrations.values(*_GROUP_KEY)
        .annotate(
            n=Count("pk"),
            decided=Count("pk", filter=Q(decided_at__isnull=False)),
            approved=Count("pk", filter=Q(approved_at__isnull=False)),
            decided_late=Count("pk", filter=Q(decided_at__gt=F("sla_due_at"))),
            extended=Count("pk", filter=Q(approved_at__isnull=False, extensions_used__gt=0)),
            estimated=Sum("estimated_value"),
            actual=Sum("actual_value"),
            actual_co_sell=Sum("actual_value", filter=Q(co_sell=True)),
        )
        .order_by()
    )


def _cells_for(filters: ReportFilters, model=ReportCell) -> QuerySet:
    cells = model.objects.order_by()
    if filters.date_from:
        cells = cells.filter(day__gte=filters.date_from)
    if filters.date_to:
        cells = cells.filter(day__lte=filters.date_to)
    if filters.tier:
        cells = cells.filter(tier_id__in=Tier.objects.filter(code=filters.tier).values("pk"))
    return cells


def _groups_from_cells(filters: ReportFilters) -> list[dict]:
    rows = (
        _cells_for(filters)
        .values(*_GROUP_KEY)
        .annotate(
            count=Sum("n"),
            decided_n=Sum("n", filter=Q(decided=True)),
            approved_n=Sum("n", filter=Q(approved=True)),
            late_n=Sum("n", filter=Q(late=True)),
            extended_n=Sum("n", filter=Q(extended=True)),
            estimated_sum=Sum("estimated"),
            actual_sum=Sum("actual"),
            actual_count=Sum("actual_n"),
            co_sell_sum=Sum("actual", filter=Q(co_sell=True)),
            co_sell_count=Sum("actual_n", filter=Q(co_sell=True)),
        )
        .order_by()
    )
    groups = []
    for row in rows:
        if not row["count"]:  # deltas that cancelled out: no registration has this key now
            continue
        key = tuple(row[k] for k in _GROUP_KEY)
        groups.append(
            {
                **dict(zip(_GROUP_KEY, key, strict=True)),
                "n": row["count"],
                "decided": row["decided_n"] or 0,
                "approved": row["approved_n"] or 0,
                "decided_late": row["late_n"] or 0,
                "extended": row["extended_n"] or 0,
                "estimated": row["estimated_sum"],
                "actual": row["actual_sum"] if row["actual_count"] else None,
                "actual_co_sell": row["co_sell_sum"] if row["co_sell_count"] else None,
            }
        )
    return groups


def _conflicts_for(user, registrations: QuerySet, filters: ReportFilters) -> QuerySet[Conflict]:
    """Conflict rows of the selected registrations. For a partner user they are always
    selected through `registrations` (tenant-scoped by the selector, and few). A manager's
    partner or tier selection reads the conflicts' own copy of the registration's partner (no
    registration scan); a period or product line needs the registrations."""
    if not is_manager(user) or filters.date_from or filters.date_to or filters.product_line:
        return Conflict.objects.filter(registration_id__in=registrations.values("pk"))
    conflicts = Conflict.objects.all()
    if filters.partner_id:
        conflicts = conflicts.filter(registration_partner_id=filters.partner_id)
    if filters.tier:
        conflicts = conflicts.filter(
            registration_partner_id__in=Partner.objects.filter(tier__code=filters.tier).values("pk")
        )
    return conflicts


def report_summary(user, filters: ReportFilters, *, now: dt.datetime | None = None) -> dict:
    """The figures of API.md's summary (plus a few extra fields) in a handful of queries: the
    group rows (from the rollup cells or the registrations), the overdue count, the conflicts,
    and the percentiles (histogram + one index read per fraction, or index reads by rank)."""
    now = now or timezone.now()
    registrations = registrations_for_report(user, filters)
    from_cells = uses_report_cells(user, filters)
    groups = _groups_from_cells(filters) if from_cells else _groups_live(registrations)
    # "Overdue" depends on the clock: counted on the registrations awaiting a decision (a small
    # set, read from the awaiting-SLA index), whichever source the other figures come from.
    overdue = registrations.filter(status__in=AWAITING, sla_due_at__lt=now).count()

    def total(key: str, *, statuses=None, reason=None) -> int:
        # Sums over group rows (a few per currency × status), never over registrations.
        return sum(
            g[key]
            for g in groups
            if (statuses is None or g["status"] in statuses)
            and (reason is None or g["rejection_reason"] == reason)
        )

    def by_currency(key: str, statuses) -> dict[str, str]:
        money: dict[str, Decimal] = {}
        for g in groups:
            if g["status"] in statuses and g[key] is not None:
                money[g["currency"]] = money.get(g["currency"], Decimal(0)) + Decimal(str(g[key]))
        return {currency: _money(value) for currency, value in sorted(money.items())}

    conflicts = _conflicts_for(user, registrations, filters)
    resolved = Q(status=Conflict.Status.RESOLVED)
    conflict_counts = conflicts.aggregate(
        flagged=Count("registration_id", distinct=True),
        open=Count("pk", filter=~resolved),
        **{
            value: Count("pk", filter=resolved & Q(resolution=value))
            for value in Conflict.Resolution.values
        },
    )
    flagged = conflict_counts.pop("flagged")
    by_resolution = {value: conflict_counts[value] for value in Conflict.Resolution.values}
    by_resolution["open"] = conflict_counts["open"]

    submitted = total("n")
    decided, approved = total("decided"), total("approved")
    if from_cells:
        histogram = list(
            _cells_for(filters, ReportHoursCell)
            .values("bucket")
            .annotate(count=Sum("n"))
            .values_list("bucket", "count")
        )
        pct = percentiles_from_histogram(
            _decided(registrations), "decision_hours", histogram, HOURS_BUCKET, (0.5, 0.9)
        )
    else:
        pct = percentiles_by_rank(_decided(registrations), "decision_hours", decided, (0.5, 0.9))
    won, lost = total("n", statuses={"won"}), total("n", statuses={"lost"})
    decided_late = total("decided_late")
    reasons = sorted(
        ((r, total("n", statuses={"rejected"}, reason=r)) for r in RejectionReason.values),
        key=lambda item: (-item[1], item[0]),
    )
    return {
        "registrations": {
            "total": submitted,
            "by_status": {s: total("n", statuses={s}) for s in REPORT_STATUSES},
        },
        "decided": decided,
        "approved": approved,
        "approval_rate": _rate(approved, decided),
        "median_hours_to_decision": _hours(pct.get(0.5)),
        "p90_hours_to_decision": _hours(pct.get(0.9)),
        "overdue": overdue,
        "decided_late": decided_late,
        "sla_breaches": overdue + decided_late,
        "conflicted": flagged,
        "conflict_rate": _rate(flagged, submitted),
        "conflicts_by_resolution": by_resolution,
        "pipeline_value": by_currency("estimated", set(PIPELINE_STATUSES)),
        "won_value": by_currency("actual", {"won"}),
        "won": won,
        "lost": lost,
        "win_rate": _rate(won, won + lost),
        "co_sell_won_value": by_currency("actual_co_sell", {"won"}),
        "extension_rate": _rate(total("extended"), approved),
        "top_rejection_reasons": [
            {"reason": r, "label": RejectionReason(r).label, "count": n} for r, n in reasons if n
        ],
    }


def program_median_hours_to_decision(filters: ReportFilters) -> float | None:
    """The program-wide median time to decision over the period (all partners). An aggregate
    over every partner, shown to partners on their scorecard; nothing else crosses tenants."""
    program = ReportFilters(date_from=filters.date_from, date_to=filters.date_to)
    queryset = _decided(_apply(DealRegistration.objects.order_by(), program))
    # A deliberate cross-tenant read: only one number leaves it (the unscoped-query guard of
    # the test suite honours this flag).
    token = unscoped_read.set(True)
    try:
        result = percentiles_by_rank(queryset, "decision_hours", queryset.count(), (0.5,))
    finally:
        unscoped_read.reset(token)
    return _hours(result.get(0.5))


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
    medians = percentiles(decided, F("decision_hours"), (0.5,), group=_week("decided_at"))
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
                "median_hours": _hours(medians.get(week, {}).get(0.5)),
            }
        )
    return {
        "registrations": [
            {"week": week, "by_status": statuses, "total": sum(statuses.values())}
            for week, statuses in sorted(by_week.items())
        ],
        "decisions": decision_rows,
    }


def _pipeline_rows(queryset: QuerySet, *keys: str) -> list[dict]:
    rows = (
        queryset.filter(status__in=PIPELINE_STATUSES)
        .values(*keys, "currency")
        .annotate(value=Sum("estimated_value"), count=Count("pk"))
        .order_by("currency", "-value", *keys)
    )
    return [{**row, "value": Decimal(str(row["value"])).quantize(CENT)} for row in rows]


def _pipeline_by_product_line(queryset: QuerySet) -> list[dict]:
    """Each registration once per product line it touches (distinct registration × line)."""
    # The registrations' side comes whole from the open-pipeline index (id, currency, value),
    # then meets the link table: no second visit to the registrations' rows.
    open_registrations = queryset.filter(status__in=PIPELINE_STATUSES).values(
        "id", "currency", "estimated_value"
    )
    inner_sql, params = open_registrations.query.sql_with_params()
    link_table = ProductsThrough._meta.db_table
    product_table = ProductsThrough._meta.get_field("product").related_model._meta.db_table
    line_table = ProductLine._meta.db_table
    qn = connection.ops.quote_name
    # Only quoted identifiers and Django's own compiled SQL (with separate params) are joined.
    pairs = (  # noqa: S608
        f"SELECT DISTINCT r.{qn('id')} AS rid, r.{qn('currency')} AS currency, "
        f"r.{qn('estimated_value')} AS value, p.{qn('product_line_id')} AS lid "
        f"FROM ({inner_sql}) r "
        f"JOIN {qn(link_table)} t ON t.{qn('dealregistration_id')} = r.{qn('id')} "
        f"JOIN {qn(product_table)} p ON p.{qn('id')} = t.{qn('product_id')}"
    )
    sql = (  # noqa: S608
        f"SELECT pl.{qn('code')}, pl.{qn('name')}, x.currency, SUM(x.value), COUNT(*) "
        f"FROM ({pairs}) x JOIN {qn(line_table)} pl ON pl.{qn('id')} = x.lid "
        f"GROUP BY pl.{qn('code')}, pl.{qn('name')}, x.currency "
        f"ORDER BY x.currency, SUM(x.value) DESC, pl.{qn('code')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [
        {
            "product_line": code,
            "product_line_name": name,
            "currency": currency,
            "value": Decimal(str(value)).quantize(CENT),
            "count": count,
        }
        for code, name, currency, value, count in fetched
    ]


def _tier_rows_from_cells(filters: ReportFilters) -> tuple[list[dict], list[dict]]:
    """(pipeline by tier, win/loss by tier) from the rollup cells, shaped as the live rows."""
    tiers = {t.pk: (t.code, t.name) for t in Tier.objects.all()}
    cells = _cells_for(filters)
    pipeline = []
    for row in (
        cells.filter(status__in=PIPELINE_STATUSES)
        .values("tier_id", "currency")
        .annotate(value=Sum("estimated"), count=Sum("n"))
    ):
        if row["count"]:
            code, name = tiers.get(row["tier_id"], (None, None))
            pipeline.append(
                {
                    "partner__tier__code": code,
                    "partner__tier__name": name,
                    "currency": row["currency"],
                    "value": Decimal(str(row["value"])).quantize(CENT),
                    "count": row["count"],
                }
            )
    pipeline.sort(key=lambda r: (r["currency"], -r["value"], r["partner__tier__code"] or ""))
    outcomes = []
    for row in cells.values("tier_id").annotate(
        total=Sum("n"),
        won=Sum("n", filter=Q(status="won")),
        lost=Sum("n", filter=Q(status="lost")),
    ):
        if row["total"]:
            code, name = tiers.get(row["tier_id"], (None, None))
            outcomes.append(
                {
                    "partner__tier__code": code,
                    "partner__tier__name": name,
                    "won": row["won"] or 0,
                    "lost": row["lost"] or 0,
                }
            )
    outcomes.sort(key=lambda r: r["partner__tier__name"] or "")
    return pipeline, outcomes


def report_breakdowns(user, filters: ReportFilters) -> dict:
    """Pipeline by partner / tier / product line / stage, win rate by tier, conflicts."""
    registrations = registrations_for_report(user, filters)
    by_partner = _pipeline_rows(registrations, "partner_id", "partner__name")
    if uses_report_cells(user, filters):
        by_tier, win_by_tier = _tier_rows_from_cells(filters)
    else:
        by_tier = _pipeline_rows(registrations, "partner__tier__code", "partner__tier__name")
        win_by_tier = (
            registrations.values("partner__tier__code", "partner__tier__name")
            .annotate(
                won=Count("pk", filter=Q(status="won")),
                lost=Count("pk", filter=Q(status="lost")),
            )
            .order_by("partner__tier__name")
        )
    return {
        "pipeline_by_partner": by_partner,
        "pipeline_by_tier": by_tier,
        "pipeline_by_product_line": _pipeline_by_product_line(registrations),
        "pipeline_by_stage": _pipeline_rows(registrations, "stage"),
        "win_rate_by_tier": [
            {
                "tier": row["partner__tier__code"],
                "tier_name": row["partner__tier__name"],
                "won": row["won"],
                "lost": row["lost"],
                "win_rate": _rate(row["won"], row["won"] + row["lost"]),
            }
            for row in win_by_tier
        ],
    }


# --- CSV export -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("reference", "reference"),
    ("partner", "partner__name"),
    ("tier", "partner__tier__code"),
    ("status", "status"),
    ("conflict_status", "conflict_status"),
    ("customer_name", "customer_name"),
    ("customer_domain", "customer_domain"),
    ("customer_country", "customer_country"),
    ("contact_name", "contact_name"),
    ("contact_email", "contact_email"),
    ("products", "_products"),
    ("estimated_value", "estimated_value"),
    ("currency", "currency"),
    ("stage", "stage"),
    ("expected_close_date", "expected_close_date"),
    ("first_submitted_at", "first_submitted_at"),
    ("submitted_at", "submitted_at"),
    ("sla_due_at", "sla_due_at"),
    ("decided_at", "decided_at"),
    ("approved_at", "approved_at"),
    ("expires_at", "expires_at"),
    ("extensions_used", "extensions_used"),
    ("rejection_reason", "rejection_reason"),
    ("decision_note", "decision_note"),
    ("co_sell", "co_sell"),
    ("outcome", "outcome"),
    ("actual_value", "actual_value"),
    ("close_date", "close_date"),
    ("lost_reason", "lost_reason"),
    ("created_at", "created_at"),
)


class _ProductCodes(Aggregate):
    """Space-separated product codes of one registration (STRING_AGG / GROUP_CONCAT)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ' ' ORDER BY %(expressions)s)"
    output_field = CharField()

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, function="GROUP_CONCAT", template="%(function)s(%(expressions)s, ' ')"
        )


def report_csv_rows(user, filters: ReportFilters, *, chunk_size: int = 2000) -> Iterator[tuple]:
    """Rows of the CSV export, streamed from a server-side cursor (constant memory).

    Only partner-visible registration fields: no comments, no internal notes, nothing about
    the other party of a conflict. Tenant scope comes from registrations_for_report."""
    products = (
        ProductsThrough.objects.filter(dealregistration_id=OuterRef("pk"))
        .values("dealregistration_id")
        .annotate(codes=_ProductCodes("product__code"))
        .values("codes")
    )
    queryset = (
        registrations_for_report(user, filters)
        .annotate(_products=Subquery(products, output_field=CharField()))
        .order_by("first_submitted_at", "pk")
        .values_list(*(source for _, source in CSV_COLUMNS))
    )
    return queryset.iterator(chunk_size=chunk_size)


def csv_header() -> list[str]:
    return [name for name, _ in CSV_COLUMNS]


def csv_format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return _money(value)
    return str(value)


def summary_label(status: str) -> str:
    return RegistrationStatus(status).label


__all__ = [
    "ReportFilters",
    "business_hours_expression",
    "percentiles",
    "program_median_hours_to_decision",
    "registrations_for_report",
    "report_breakdowns",
    "report_csv_rows",
    "report_filters_parse",
    "report_summary",
    "report_weekly",
]
