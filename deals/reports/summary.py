"""The report summary (docs/product.md "Reports", docs/api.md "Reports"). Filters are in filters.py,
percentiles in percentiles.py, the weekly series in series.py, breakdowns in breakdowns.py,
the CSV export in csv.py and the rollup cells in rollup.py.

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
  Every page's median comes from one function, `time_to_decision`.
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
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    Q,
    QuerySet,
    Sum,
)

from conflicts.models import Conflict
from deals import lifecycle
from deals.models import (
    CoSellAgreement,
    EventAction,
    RegistrationEvent,
    RegistrationStatus,
    RejectionReason,
    ReportHoursCell,
)
from deals.registrations.selectors import (
    conflicts_counted_for,
    program_wide_read,
    registration_scope,
    registrations_program_wide,
)
from deals.reports.filters import (
    ReportFilters,
    _apply,
    _cells_for,
    registrations_for_report,
    uses_report_cells,
)
from deals.reports.percentiles import percentiles, percentiles_by_rank, percentiles_from_histogram
from deals.reports.rollup import HOURS_BUCKET
from partners.models import Partner
from prm.lib.time import timezone_now

AWAITING = (lifecycle.SUBMITTED, lifecycle.INFO_REQUESTED)
PIPELINE_STATUSES = (lifecycle.SUBMITTED, lifecycle.INFO_REQUESTED, lifecycle.APPROVED)
REPORT_STATUSES = tuple(s for s in lifecycle.STATUSES if s != lifecycle.DRAFT)
CENT = Decimal("0.01")
MAX_PARTNER_ROWS = 15


# --- Summary --------------------------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """A 0..1 rate rounded to 4 places, None when the denominator is 0 (every report rate)."""
    return round(numerator / denominator, 4) if denominator else None


_rate = rate


def format_hours(value: float | None) -> str:
    """Business hours as every page shows them."""
    return "–" if value is None else f"{value:.1f} h"


def format_percent(value: float | None) -> str:
    """A 0..1 rate as every page shows it."""
    return "–" if value is None else f"{value * 100:.1f}%"


def _money(value) -> str:
    return str(Decimal(str(value)).quantize(CENT))


def _hours(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _decided(queryset: QuerySet) -> QuerySet:
    # decision_hours is set exactly when decided_at is (a constraint): filtering on it alone
    # lets the decision-hours index answer without visiting the table.
    return queryset.filter(first_submitted_at__isnull=False, decision_hours__isnull=False)


def time_to_decision(
    registrations: QuerySet,
    fractions: tuple[float, ...] = (0.5,),
    *,
    decided: int | None = None,
    histogram: list[tuple[int, int]] | None = None,
    group=None,
) -> dict:
    """THE time to decision: percentiles (median = 0.5) of the business hours from first
    submission to the decision (`decision_hours`) of the decided registrations among
    `registrations` (already scoped and filtered to a period), interpolated as percentile_cont,
    rounded to 2 places. Every "median time to decision" (summary API, dashboard, scorecard,
    program median, home page, partner page, weekly series) is computed here.

    Returns {fraction: hours or None}; with `group` (an expression, e.g. the week of decision)
    {group key: {fraction: hours}}. `decided` (how many are decided, when already counted) and
    `histogram` (rollup buckets, deals.reports.rollup) only choose a faster way to the same
    values."""
    queryset = _decided(registrations)
    if group is not None:
        grouped = percentiles(queryset, F("decision_hours"), fractions, group=group)
        return {
            key: {f: _hours(values.get(f)) for f in fractions} for key, values in grouped.items()
        }
    if histogram is not None:
        found = percentiles_from_histogram(
            queryset, "decision_hours", histogram, HOURS_BUCKET, fractions
        )
    else:
        count = queryset.count() if decided is None else decided
        found = percentiles_by_rank(queryset, "decision_hours", count, fractions)
    return {f: _hours(found.get(f)) for f in fractions}


def median_hours_to_decision(registrations: QuerySet, *, decided: int | None = None):
    """The median of time_to_decision (business hours), or None when nothing was decided."""
    return time_to_decision(registrations, (0.5,), decided=decided)[0.5]


# The summary's figures are folded from "group rows", one per (currency, status, rejection
# reason), carrying counts and sums. Two sources give the same rows: the registrations
# themselves (any filter), and the rollup cells (deals.reports.rollup) when the selection is program-wide
# (a manager without a partner or product-line filter), which is what keeps the unfiltered
# summary fast at a million registrations. tests/reports/test_rollup.py asserts they agree.

_GROUP_KEY = ("currency", "status", "rejection_reason")


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
    conflicts = conflicts_counted_for(user, filters.partner_id)  # tenant scope: the selectors
    program_wide = registration_scope(user)[0] == "all"
    if not program_wide or filters.date_from or filters.date_to or filters.product_line:
        return conflicts.filter(registration_id__in=registrations.values("pk"))
    if filters.tier:
        conflicts = conflicts.filter(
            registration_partner_id__in=Partner.objects.filter(tier__code=filters.tier).values("pk")
        )
    return conflicts


def report_summary(user, filters: ReportFilters, *, now: dt.datetime | None = None) -> dict:
    """The figures of the summary API (docs/api.md) (plus a few extra fields) in a handful of queries: the
    group rows (from the rollup cells or the registrations), the overdue count, the conflicts,
    and the percentiles (histogram + one index read per fraction, or index reads by rank)."""
    now = now or timezone_now()
    registrations = registrations_for_report(user, filters)
    from_cells = uses_report_cells(user, filters)
    groups = _groups_from_cells(filters) if from_cells else _groups_live(registrations)
    # "Overdue" depends on the clock: counted on the registrations awaiting a decision (a small
    # set, read from the awaiting-SLA index), whichever source the other figures come from. An
    # information request pauses the clock (issue 17 §5): only `submitted` can be overdue.
    overdue = registrations.filter(status="submitted", sla_due_at__lt=now).count()

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
        open=Count("pk", filter=Q(status=Conflict.Status.OPEN)),
        closed=Count("pk", filter=Q(status=Conflict.Status.CLOSED)),
        **{
            value: Count("pk", filter=resolved & Q(resolution=value))
            for value in Conflict.Resolution.values
        },
    )
    flagged = conflict_counts.pop("flagged")
    by_resolution = {value: conflict_counts[value] for value in Conflict.Resolution.values}
    by_resolution["open"] = conflict_counts["open"]
    # Moot conflicts (a registration on either side left the active states; issue 14).
    by_resolution["closed"] = conflict_counts["closed"]

    submitted = total("n")
    decided, approved = total("decided"), total("approved")
    histogram = None
    if from_cells:
        histogram = list(
            _cells_for(filters, ReportHoursCell)
            .values("bucket")
            .annotate(count=Sum("n"))
            .values_list("bucket", "count")
        )
    pct = time_to_decision(registrations, (0.5, 0.9), decided=decided, histogram=histogram)
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
        "median_hours_to_decision": pct[0.5],
        "p90_hours_to_decision": pct[0.9],
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


def approval_override_count(user, filters: ReportFilters) -> int:
    """Approvals a manager gave over an open conflict, with an override reason (the internal
    APPROVAL_OVERRIDE events of the registrations the filters select; issue 14)."""
    registrations = registrations_for_report(user, filters)
    return RegistrationEvent.objects.filter(
        action=EventAction.APPROVAL_OVERRIDE, registration__in=registrations.values("pk")
    ).count()


def program_median_hours_to_decision(filters: ReportFilters) -> float | None:
    """The program-wide median time to decision over the period (all partners). An aggregate
    over every partner, shown to partners on their scorecard; nothing else crosses tenants."""
    program = ReportFilters(date_from=filters.date_from, date_to=filters.date_to)
    # A deliberate cross-tenant read, named by the selectors: only one number leaves it.
    with program_wide_read():
        return median_hours_to_decision(_apply(registrations_program_wide(), program))


def summary_label(status: str) -> str:
    return RegistrationStatus(status).label


def co_sell_breakdown(user, filters: ReportFilters) -> dict:
    """Co-sell agreements of the registrations the filters select: count and won value (of
    the won registrations) per rep (managers only: the rep's e-mail never reaches a partner)
    and per partner. One query."""
    registrations = registrations_for_report(user, filters)
    agreements = (
        CoSellAgreement.objects.filter(registration__in=registrations.values("pk"))
        .select_related("registration", "registration__partner")
        .order_by("id")
    )
    by_rep: dict[str, dict] = {}
    by_partner: dict[int, dict] = {}
    for agreement in agreements:
        registration = agreement.registration
        won = registration.status == "won" and registration.actual_value is not None
        rows = [
            by_partner.setdefault(
                registration.partner_id,
                {
                    "partner": {"id": registration.partner_id, "name": registration.partner.name},
                    "count": 0,
                    "won_value": {},
                },
            )
        ]
        if registration_scope(user)[0] == "all":
            rows.append(by_rep.setdefault(agreement.rep_email or "", {"count": 0, "won_value": {}}))
        for row in rows:
            row["count"] += 1
            if won:
                total = Decimal(row["won_value"].get(registration.currency, "0"))
                row["won_value"][registration.currency] = _money(total + registration.actual_value)
    result: dict = {"co_sell_by_partner": list(by_partner.values())}
    if registration_scope(user)[0] == "all":
        result["co_sell_by_rep"] = dict(sorted(by_rep.items()))
    return result
