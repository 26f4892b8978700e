"""Pipeline breakdowns of the dashboard: by partner, tier, product line and stage."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import (
    Count,
    Q,
    QuerySet,
    Sum,
)

from deals.models import (
    ProductLine,
)
from deals.reports.filters import (
    ProductsThrough,
    ReportFilters,
    _cells_for,
    registrations_for_report,
    uses_report_cells,
)
from deals.reports.summary import CENT, PIPELINE_STATUSES, _rate
from partners.models import Tier


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
