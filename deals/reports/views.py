"""Reports pages: the manager dashboard (/manage/reports/) and the partner scorecard
(/scorecard/). Server-rendered: figures from deals/reports.py, charts from deals/charts.py,
and every chart's numbers as a table."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from deals.models import ProductLine, RegistrationStatus, RejectionReason
from deals.reports import charts
from deals.reports.breakdowns import report_breakdowns
from deals.reports.currency import converted_totals
from deals.reports.filters import (
    ReportFilters,
    default_period,
    period_label,
    report_filters_parse,
)
from deals.reports.series import report_weekly
from deals.reports.summary import (
    MAX_PARTNER_ROWS,
    REPORT_STATUSES,
    co_sell_breakdown,
    format_hours,
    format_percent,
    program_median_hours_to_decision,
    report_summary,
)
from partners.models import Partner, Tier
from partners.roles import is_manager, partner_of
from prm.dbrouting import reads_from_replica
from prm.exceptions import NotFound, PermissionDeniedError, ValidationFailed

WEEKS_SHOWN = 26
RESOLUTION_LABELS = {
    "open": "Open (unresolved)",
    "first_registration_wins": "First registration wins",
    "partner_wins": "Partner wins",
    "direct_wins": "Direct wins",
    "co_sell": "Co-sell",
    "not_a_conflict": "Not a conflict",
    "duplicate": "Duplicate",
}


_percent = format_percent
_hours = format_hours


def _amount(value, currency: str = "") -> str:
    text = f"{Decimal(str(value)):,.2f}"
    return f"{text} {currency}".strip()


def _money_list(values: dict[str, str]) -> list[str]:
    return [_amount(v, c) for c, v in sorted(values.items())] or ["–"]


def _week_label(week) -> str:
    return week.strftime("%d %b")


def _kpis(summary: dict) -> list[dict]:
    return [
        {"label": "Registrations", "value": [str(summary["registrations"]["total"])]},
        {
            "label": "Approval rate",
            "value": [_percent(summary["approval_rate"])],
            "note": f"{summary['approved']} of {summary['decided']} decided",
        },
        {
            "label": "Median time to decision",
            "figure": "median-hours-to-decision",
            "value": [_hours(summary["median_hours_to_decision"])],
            "note": f"p90 {_hours(summary['p90_hours_to_decision'])} · business hours",
        },
        {
            "label": "SLA breaches",
            "value": [str(summary["sla_breaches"])],
            "note": f"{summary['overdue']} overdue now · {summary['decided_late']} decided late",
        },
        {
            "label": "Conflict rate",
            "value": [_percent(summary["conflict_rate"])],
            "note": f"{summary['conflicted']} registrations flagged",
        },
        {"label": "Pipeline (open)", "value": _money_list(summary["pipeline_value"])},
        {"label": "Won value", "value": _money_list(summary["won_value"])},
        {
            "label": "Win rate",
            "value": [_percent(summary["win_rate"])],
            "note": f"{summary['won']} won · {summary['lost']} lost",
        },
        {"label": "Co-sell won value", "value": _money_list(summary["co_sell_won_value"])},
        {"label": "Extension rate", "value": [_percent(summary["extension_rate"])]},
    ]


def _charts(summary: dict, weekly: dict, breakdowns: dict | None, *, csv_url: str) -> list[dict]:
    statuses = [(s, RegistrationStatus(s).label) for s in REPORT_STATUSES]
    weeks = weekly["registrations"][-WEEKS_SHOWN:]
    decisions = weekly["decisions"][-WEEKS_SHOWN:]
    result = [
        {
            "id": "weekly-status",
            "title": "Registrations per week by status",
            "note": "Week of first submission; status today."
            + (
                f" Showing the last {WEEKS_SHOWN} of {len(weekly['registrations'])} weeks."
                if len(weekly["registrations"]) > WEEKS_SHOWN
                else ""
            ),
            "svg": charts.stacked_chart(
                "weekly-status",
                "Registrations per week by status",
                [(_week_label(w["week"]), w["by_status"]) for w in weeks],
                statuses,
            ),
            "headers": ["Week of", *[label for _, label in statuses], "Total"],
            "rows": [
                [
                    w["week"].isoformat(),
                    *[w["by_status"].get(s, 0) for s, _ in statuses],
                    w["total"],
                ]
                for w in weeks
            ],
        },
        {
            "id": "weekly-approval",
            "title": "Approval rate per week of decision",
            "svg": charts.vbar_chart(
                "weekly-approval",
                "Approval rate per week of decision",
                [
                    charts.Bar(
                        _week_label(d["week"]),
                        (d["approval_rate"] or 0) * 100,
                        _percent(d["approval_rate"]),
                    )
                    for d in decisions
                ],
                max_value=100,
                unit="percent",
            ),
            "headers": ["Week of", "Decided", "Approved", "Approval rate"],
            "rows": [
                [d["week"].isoformat(), d["decided"], d["approved"], _percent(d["approval_rate"])]
                for d in decisions
            ],
        },
        {
            "id": "weekly-ttd",
            "title": "Median time to decision per week (business hours)",
            "svg": charts.vbar_chart(
                "weekly-ttd",
                "Median time to decision per week",
                [
                    charts.Bar(
                        _week_label(d["week"]), d["median_hours"] or 0, _hours(d["median_hours"])
                    )
                    for d in decisions
                ],
                unit="business hours",
            ),
            "headers": ["Week of", "Decided", "Median hours"],
            "rows": [
                [d["week"].isoformat(), d["decided"], _hours(d["median_hours"])] for d in decisions
            ],
        },
        {
            "id": "conflicts",
            "title": "Conflicts by resolution",
            "svg": charts.hbar_chart(
                "conflicts",
                "Conflicts by resolution",
                [
                    charts.Bar(RESOLUTION_LABELS.get(k, k), n, str(n))
                    for k, n in summary["conflicts_by_resolution"].items()
                ],
            ),
            "headers": ["Resolution", "Conflicts"],
            "rows": [
                [RESOLUTION_LABELS.get(k, k), n]
                for k, n in summary["conflicts_by_resolution"].items()
            ],
        },
        {
            "id": "rejections",
            "title": "Rejection reasons",
            "svg": charts.hbar_chart(
                "rejections",
                "Rejection reasons",
                [
                    charts.Bar(r["label"], r["count"], str(r["count"]))
                    for r in summary["top_rejection_reasons"]
                ],
            ),
            "headers": ["Reason", "Rejected"],
            "rows": [[r["label"], r["count"]] for r in summary["top_rejection_reasons"]],
        },
    ]
    if breakdowns is None:
        return result
    for key, title, label_of in (
        ("pipeline_by_partner", "Pipeline by partner", lambda r: r["partner__name"]),
        ("pipeline_by_product_line", "Pipeline by product line", lambda r: r["product_line_name"]),
        ("pipeline_by_tier", "Pipeline by tier", lambda r: r["partner__tier__name"]),
        ("pipeline_by_stage", "Pipeline by stage", lambda r: r["stage"].title()),
    ):
        rows = breakdowns[key]
        currencies = sorted({r["currency"] for r in rows})
        for currency in currencies or [""]:
            selected = [r for r in rows if r["currency"] == currency]
            shown = selected[:MAX_PARTNER_ROWS]
            chart_id = f"{key.replace('_', '-')}-{currency.lower() or 'none'}"
            full_title = f"{title} ({currency})" if currency else title
            result.append(
                {
                    "id": chart_id,
                    "title": full_title,
                    "note": (
                        f"Top {MAX_PARTNER_ROWS} of {len(selected)}."
                        if len(selected) > len(shown)
                        else ""
                    )
                    + (
                        " A registration counts in each of its product lines."
                        if key == "pipeline_by_product_line"
                        else ""
                    ),
                    "svg": charts.hbar_chart(
                        chart_id,
                        full_title,
                        [
                            charts.Bar(
                                label_of(r), float(r["value"]), _amount(r["value"], currency)
                            )
                            for r in shown
                        ],
                    ),
                    "headers": ["Name", "Open registrations", f"Value ({currency})"],
                    "rows": [[label_of(r), r["count"], _amount(r["value"])] for r in selected],
                }
            )
    tiers = breakdowns["win_rate_by_tier"]
    result.append(
        {
            "id": "win-rate-tier",
            "title": "Win rate by tier",
            "svg": charts.hbar_chart(
                "win-rate-tier",
                "Win rate by tier",
                [
                    charts.Bar(
                        t["tier_name"],
                        (t["win_rate"] or 0) * 100,
                        f"{_percent(t['win_rate'])} ({t['won']} of {t['won'] + t['lost']})",
                    )
                    for t in tiers
                ],
                max_value=100,
            ),
            "headers": ["Tier", "Won", "Lost", "Win rate"],
            "rows": [[t["tier_name"], t["won"], t["lost"], _percent(t["win_rate"])] for t in tiers],
        }
    )
    return result


def _params(request):
    """The query, with the default period (filters.default_period, as on the home and partner
    pages) when the page is opened without any period: an all-time dashboard over millions of
    rows is slow, and recent figures are what people look at first. `?from=&to=` asks for all
    time explicitly."""
    params = request.GET.copy()
    if "from" not in params and "to" not in params:
        params["from"] = default_period().date_from.isoformat()
    return params


def _parse(request):
    """(filters, errors); errors is a {field: [messages]} dict when the query is invalid."""
    try:
        return report_filters_parse(_params(request), user=request.user), None
    except ValidationFailed as exc:
        return None, exc.fields or {"__all__": [exc.detail]}
    except NotFound:
        raise Http404 from None
    except PermissionDeniedError:
        raise PermissionDenied from None


def _form_values(request) -> dict[str, str]:
    params = _params(request)
    return {k: params.get(k, "")[:40] for k in ("from", "to", "partner", "tier", "product_line")}


@login_required
@reads_from_replica
def reports_dashboard(request):
    if not is_manager(request.user):
        if partner_of(request.user) is not None:
            return redirect("reports-scorecard")
        raise PermissionDenied
    filters, errors = _parse(request)
    context = {
        "form": _form_values(request),
        "errors": errors,
        "partners": Partner.objects.order_by("name").values_list("pk", "name"),
        "tiers": Tier.objects.order_by("name").values_list("code", "name"),
        "product_lines": ProductLine.objects.order_by("name").values_list("code", "name"),
    }
    if filters is not None:
        summary = report_summary(request.user, filters)
        weekly = report_weekly(request.user, filters)
        breakdowns = report_breakdowns(request.user, filters)
        csv_url = _csv_url(filters)
        context.update(
            period=period_label(filters),
            summary=summary,
            kpis=_kpis(summary),
            charts=_charts(summary, weekly, breakdowns, csv_url=csv_url),
            csv_url=csv_url,
            co_sell_by_rep=co_sell_breakdown(request.user, filters).get("co_sell_by_rep", {}),
            converted=converted_totals(request.user, filters),
        )
    return render(request, "reports/dashboard.html", context, status=400 if errors else 200)


@login_required
@reads_from_replica
def reports_scorecard(request):
    partner = partner_of(request.user)
    if partner is None or is_manager(request.user):
        if is_manager(request.user):
            return redirect("reports-dashboard")
        raise PermissionDenied
    filters, errors = _parse(request)
    context = {
        "partner": partner,
        "form": _form_values(request),
        "errors": errors,
        "tiers": None,
        "product_lines": ProductLine.objects.order_by("name").values_list("code", "name"),
    }
    if filters is not None:
        summary = report_summary(request.user, filters)
        weekly = report_weekly(request.user, filters)
        program_median = program_median_hours_to_decision(filters)
        csv_url = _csv_url(filters, partner_view=True)
        kpis = _kpis(summary)
        kpis.insert(
            3,
            {
                "label": "Program median time to decision",
                "figure": "program-median-hours-to-decision",
                "value": [_hours(program_median)],
                "note": "all partners, same period",
            },
        )
        context.update(
            period=period_label(filters),
            summary=summary,
            kpis=kpis,
            charts=_charts(summary, weekly, None, csv_url=csv_url),
            csv_url=csv_url,
            program_median=program_median,
            rejection_labels=dict(RejectionReason.choices),
        )
    return render(request, "reports/scorecard.html", context, status=400 if errors else 200)


def _csv_url(filters: ReportFilters, *, partner_view: bool = False) -> str:
    params = filters.as_params()
    if partner_view:
        params.pop("partner", None)
    query = urlencode(params)
    url = reverse("reports-registrations-csv")
    return f"{url}?{query}" if query else url


class _Echo:
    def write(self, value):
        return value


def _spreadsheet_stream(rows, custom_fields=()):
    import csv

    from deals.customfields import display_value
    from deals.reports.csv import (
        CSV_COLUMNS,
        UTF8_BOM,
        spreadsheet_cell,
        spreadsheet_header,
        spreadsheet_labels,
    )
    from prm.lib.csvsafe import csv_safe

    writer = csv.writer(_Echo())
    labels = spreadsheet_labels()
    names = [name for name, _ in CSV_COLUMNS]
    fields = list(custom_fields)
    yield UTF8_BOM + writer.writerow(spreadsheet_header(fields))
    for row in rows:
        cells = [spreadsheet_cell(n, v, labels) for n, v in zip(names, row[:-1], strict=True)]
        custom = row[-1] if isinstance(row[-1], dict) else {}
        cells += [display_value(f.type, custom.get(f.key)) for f in fields]
        yield writer.writerow([csv_safe(c) for c in cells])


@login_required
@reads_from_replica
def reports_registrations_csv(request):
    """The pages' export: the API CSV's rows for people (deals.reports.csv, spreadsheet)."""
    from django.http import StreamingHttpResponse

    from deals.reports.csv import csv_custom_fields, report_csv_rows
    from prm.lib.time import timezone_now

    if not (is_manager(request.user) or partner_of(request.user) is not None):
        raise PermissionDenied
    filters, errors = _parse(request)
    if filters is None:
        return render(request, "errors/400.html", status=400)
    rows = report_csv_rows(request.user, filters)
    response = StreamingHttpResponse(
        _spreadsheet_stream(rows, csv_custom_fields(request.user)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone_now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="registrations-{stamp}.csv"'
    return response
