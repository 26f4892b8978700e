"""Reports API (docs/api.md "Reports"): the summary and the streaming CSV export.

Managers see everything (filters apply); partner users only their own company (the partner
filter is forced to it, another partner's id answers 404). The figures are defined in
deals/reports/."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from deals.registrations.selectors import registration_scope
from deals.reports.csv import (
    csv_custom_fields,
    csv_format,
    csv_header,
    custom_cells,
    report_csv_rows,
)
from deals.reports.filters import report_filters_parse
from deals.reports.summary import (
    approval_override_count,
    co_sell_breakdown,
    program_median_hours_to_decision,
    report_summary,
)
from prm.dbrouting import reads_from_replica
from prm.exceptions import PermissionDeniedError
from prm.lib.csvsafe import csv_safe
from prm.lib.time import timezone_now

FILTER_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC) of first submission."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC, inclusive)."),
    OpenApiParameter("partner", OpenApiTypes.INT, description="Partner id (managers)."),
    OpenApiParameter("tier", OpenApiTypes.STR, description="Tier code."),
    OpenApiParameter("product_line", OpenApiTypes.STR, description="Product line code."),
]

_ERROR = inline_serializer(
    "ReportError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)
_MONEY = serializers.DictField(
    child=serializers.CharField(), help_text="Decimal strings by ISO currency."
)
_RATE = serializers.FloatField(allow_null=True, help_text="0..1, null when the denominator is 0.")
_SUMMARY = inline_serializer(
    "ReportSummary",
    fields={
        "registrations": inline_serializer(
            "ReportRegistrations",
            fields={
                "total": serializers.IntegerField(),
                "by_status": serializers.DictField(child=serializers.IntegerField()),
            },
        ),
        "decided": serializers.IntegerField(),
        "approved": serializers.IntegerField(),
        "approval_rate": _RATE,
        "median_hours_to_decision": serializers.FloatField(allow_null=True),
        "p90_hours_to_decision": serializers.FloatField(allow_null=True),
        "overdue": serializers.IntegerField(),
        "decided_late": serializers.IntegerField(),
        "sla_breaches": serializers.IntegerField(),
        "conflicted": serializers.IntegerField(),
        "conflict_rate": _RATE,
        "conflicts_by_resolution": serializers.DictField(child=serializers.IntegerField()),
        "pipeline_value": _MONEY,
        "won_value": _MONEY,
        "won": serializers.IntegerField(),
        "lost": serializers.IntegerField(),
        "win_rate": _RATE,
        "co_sell_won_value": _MONEY,
        "extension_rate": _RATE,
        "top_rejection_reasons": serializers.ListField(child=serializers.DictField()),
        "program_median_hours_to_decision": serializers.FloatField(allow_null=True, required=False),
        "co_sell_by_rep": serializers.DictField(
            child=inline_serializer(
                "ReportCoSellRep",
                fields={"count": serializers.IntegerField(), "won_value": _MONEY},
            ),
            required=False,
            help_text="Managers: co-sell agreements per rep e-mail ('' when the opportunity "
            "had no owner): count and won value.",
        ),
        "co_sell_by_partner": serializers.ListField(
            child=inline_serializer(
                "ReportCoSellPartner",
                fields={
                    "partner": inline_serializer(
                        "ReportCoSellPartnerRef",
                        fields={"id": serializers.IntegerField(), "name": serializers.CharField()},
                    ),
                    "count": serializers.IntegerField(),
                    "won_value": _MONEY,
                },
            ),
            required=False,
        ),
        "approval_overrides": serializers.IntegerField(
            required=False,
            help_text="Managers: approvals given over an open conflict with an override reason.",
        ),
    },
)


def _require_report_user(user) -> None:
    if registration_scope(user)[0] not in ("all", "partner"):
        raise PermissionDeniedError("Reports are for channel managers and partner users.")


class _JsonErrorsApi(APIView):
    def perform_content_negotiation(self, request, force=False):
        # Whatever the Accept header, answers (and errors) use our one renderer: no 406.
        return super().perform_content_negotiation(request, force=True)


class ReportSummaryApi(_JsonErrorsApi):
    @extend_schema(
        operation_id="reports_summary",
        parameters=FILTER_PARAMETERS,
        responses={
            200: _SUMMARY,
            400: OpenApiResponse(_ERROR, description="Invalid filter value."),
            401: OpenApiResponse(_ERROR),
            403: OpenApiResponse(_ERROR),
            404: OpenApiResponse(_ERROR, description="Another partner's id (partner users)."),
        },
    )
    @reads_from_replica
    def get(self, request):
        _require_report_user(request.user)
        filters = report_filters_parse(request.query_params, user=request.user)
        data = report_summary(request.user, filters)
        if registration_scope(request.user)[0] == "partner":
            data["program_median_hours_to_decision"] = program_median_hours_to_decision(filters)
        else:
            data["approval_overrides"] = approval_override_count(request.user, filters)
        data.update(co_sell_breakdown(request.user, filters))
        return Response(data)


class _Echo:
    def write(self, value):
        return value


def _cell(value):
    return csv_safe(value) if isinstance(value, str) else csv_format(value)


def csv_stream(rows, custom_fields=()) -> Iterator[str]:
    """The header, then each row: the CSV_COLUMNS cells and one `custom.<key>` cell per
    custom field (report_csv_rows ends each row with the registration's custom values)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(csv_header(custom_fields))
    for row in rows:
        cells = list(row[:-1]) + custom_cells(row[-1], list(custom_fields))
        yield writer.writerow([_cell(value) for value in cells])


class ReportRegistrationsCsvApi(_JsonErrorsApi):
    """Streams every selected registration; memory stays flat whatever the row count.
    Errors (400/401/403/404) are JSON in the usual shape."""

    @extend_schema(
        operation_id="reports_registrations_csv",
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="CSV, one row per registration."
            ),
            400: OpenApiResponse(_ERROR),
            401: OpenApiResponse(_ERROR),
            403: OpenApiResponse(_ERROR),
            404: OpenApiResponse(_ERROR),
        },
    )
    @reads_from_replica
    def get(self, request):
        _require_report_user(request.user)
        filters = report_filters_parse(request.query_params, user=request.user)
        rows = report_csv_rows(request.user, filters)
        fields = csv_custom_fields(request.user)
        response = StreamingHttpResponse(
            csv_stream(rows, fields), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone_now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="registrations-{stamp}.csv"'
        return response
