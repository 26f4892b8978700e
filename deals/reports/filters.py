"""Report filters: parsing the query (period, partner, tier, product line), the registrations and rollup cells they select, scoped to the caller through the selectors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
)

from deals.models import (
    DealRegistration,
    ProductLine,
    ReportCell,
)
from deals.registrations.selectors import (
    registration_scope,
    registrations_of_partner_visible_to,
)
from partners.models import Partner, Tier
from prm.exceptions import NotFound, PermissionDeniedError, ValidationFailed
from prm.lib.ids import parse_id
from prm.lib.time import timezone_now

UTC = dt.UTC
ProductsThrough = DealRegistration.products.through


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


# The period every page shows when none is chosen (dashboard, scorecard, home page, partner
# page): the last 13 weeks of first submissions, so the same figure agrees across pages.
DEFAULT_PERIOD_DAYS = 91


def default_period(today: dt.date | None = None) -> ReportFilters:
    today = today or timezone_now().date()
    return ReportFilters(date_from=today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1))


def period_label(filters: ReportFilters) -> str:
    """The period of a figure, as every page states it."""
    start, end = filters.date_from, filters.date_to
    if start and end:
        return f"first submitted {start.isoformat()} to {end.isoformat()} (UTC)"
    if start:
        return f"first submitted since {start.isoformat()} (UTC)"
    if end:
        return f"first submitted up to {end.isoformat()} (UTC)"
    return "first submitted at any time"


# Codes are slugs; anything else (NUL bytes, 10 kB strings) is refused before any query.
_CODE = re.compile(r"[-a-zA-Z0-9_]{1,40}")


# The dates a report period may name. Python's dates end at 9999-12-31, so a period ending
# there cannot be turned into "the day after" (OverflowError, a 500 before issue 20); a CRM's
# history needs nothing close to either end.
REPORT_DATE_MIN = dt.date(1900, 1, 1)
REPORT_DATE_MAX = dt.date(2999, 12, 31)


def _parse_date(raw: str, field: str, errors: dict) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = ["Use a date in the form YYYY-MM-DD."]
        return None
    if not REPORT_DATE_MIN <= value <= REPORT_DATE_MAX:
        errors[field] = [
            f"Use a date between {REPORT_DATE_MIN.isoformat()} and {REPORT_DATE_MAX.isoformat()}."
        ]
        return None
    return value


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
        partner_id = parse_id(raw_partner)  # 64-bit ids only: a larger one is a field error
        if partner_id is None:
            errors["partner"] = ["Use a partner id (a positive integer)."]

    tier = (params.get("tier") or "").strip() or None
    if tier and (not _CODE.fullmatch(tier) or not Tier.objects.filter(code=tier).exists()):
        errors["tier"] = ["Unknown tier code."]
    product_line = (params.get("product_line") or "").strip() or None
    if product_line and (
        not _CODE.fullmatch(product_line)
        or not ProductLine.objects.filter(code=product_line).exists()
    ):
        errors["product_line"] = ["Unknown product line code."]

    scope, scoped = registration_scope(user)  # tenant scope: deals.registrations.selectors
    if scope == "all":
        if partner_id is not None and "partner" not in errors:
            if not Partner.objects.filter(pk=partner_id).exists():
                errors["partner"] = ["Unknown partner."]
    else:
        if scope != "partner":
            raise PermissionDeniedError("Reports are for channel managers and partner users.")
        own = scoped["partner_id"]
        if partner_id is not None and partner_id != own and "partner" not in errors:
            raise NotFound()
        partner_id = own
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
    """Period, tier and product line (the partner comes from the selector: see callers)."""
    queryset = queryset.filter(_period_q(filters))
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
    base = registrations_of_partner_visible_to(user, filters.partner_id)
    base = base.select_related(None).prefetch_related(None)
    return _apply(base.order_by(), filters)


def uses_report_cells(user, filters: ReportFilters) -> bool:
    # The cells hold every partner's registrations: only for a program-wide scope.
    program_wide = registration_scope(user)[0] == "all"
    return program_wide and not filters.partner_id and not filters.product_line


def _cells_for(filters: ReportFilters, model=ReportCell) -> QuerySet:
    cells = model.objects.order_by()
    if filters.date_from:
        cells = cells.filter(day__gte=filters.date_from)
    if filters.date_to:
        cells = cells.filter(day__lte=filters.date_to)
    if filters.tier:
        cells = cells.filter(tier_id__in=Tier.objects.filter(code=filters.tier).values("pk"))
    return cells
