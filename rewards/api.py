"""Rewards API (docs/api.md "Rewards"): verifying a win, accruals (list, approve, mark paid),
the payout CSV and the incentive cost report. Thin: parse -> access (404 outside the tenant)
-> role (403) -> service/selector -> shape."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deals import access
from deals.api.serializers import EmptyInputSerializer, RegistrationSerializer
from deals.api.views import registration_response
from partners.roles import is_manager
from prm.api import (
    ApiView,
    ErrorResponseSerializer,
    Pagination,
    PartnerRefSerializer,
    StrictInputSerializer,
    apply_ordering,
    ordering_parameter,
    responses,
    validated,
)
from prm.exceptions import PermissionDeniedError, ValidationFailed
from prm.lib.csvsafe import csv_safe
from prm.lib.time import timezone_now
from rewards import selectors, services
from rewards.models import AccrualKind, AccrualStatus
from rewards.money import format_money

ACCRUAL_ORDERING = {"created_at": "created_at", "amount": "amount", "status": "status"}


def _rate(value: Decimal) -> str:
    two = value.quantize(Decimal("0.01"))
    return f"{two:f}" if two == value else f"{value.normalize():f}"


def accrual_representation(accrual) -> dict:
    registration = accrual.registration
    return {
        "id": accrual.id,
        "registration_id": accrual.registration_id,
        "registration_reference": registration.reference,
        "partner": {"id": accrual.partner_id, "name": accrual.partner.name},
        "kind": accrual.kind,
        "basis": format_money(accrual.basis, accrual.currency),
        "rate": _rate(accrual.rate),
        "credit_percent": accrual.credit_percent,
        "amount": format_money(accrual.amount, accrual.currency),
        "currency": accrual.currency,
        "status": accrual.status,
        "reference": accrual.reference or None,
        "late": accrual.late,
        "policy_version": accrual.policy_version,
        "verification_source": accrual.verification_source,
        "created_at": serializers.DateTimeField().to_representation(accrual.created_at),
        "approved_at": _dt(accrual.approved_at),
        "paid_at": _dt(accrual.paid_at),
    }


def _dt(value):
    return None if value is None else serializers.DateTimeField().to_representation(value)


class AccrualSerializer(serializers.Serializer):
    """An incentive accrual (documents the shape accrual_representation builds)."""

    id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    registration_reference = serializers.CharField(allow_null=True)
    partner = PartnerRefSerializer()
    kind = serializers.ChoiceField(choices=AccrualKind.choices)
    basis = serializers.CharField(
        help_text="Decimal string in `currency`: the won value or the fixed incentive."
    )
    rate = serializers.CharField(help_text="Decimal string: percent of the basis.")
    credit_percent = serializers.IntegerField(
        help_text="Partner credit under a co-sell (100 otherwise)."
    )
    amount = serializers.CharField(
        help_text="Decimal string, rounded to the currency's ISO 4217 minor units (JPY 0, USD 2)."
    )
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=AccrualStatus.choices)
    reference = serializers.CharField(allow_null=True, help_text="The payout reference once paid.")
    late = serializers.BooleanField(help_text="The win was reported after the protection lapsed.")
    policy_version = serializers.IntegerField(allow_null=True)
    verification_source = serializers.ChoiceField(choices=["manager", "crm"])
    created_at = serializers.DateTimeField(help_text="When the win was verified.")
    approved_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)


class MarkPaidInputSerializer(StrictInputSerializer):
    reference = serializers.CharField(max_length=100, help_text="The payout reference.")


ACCRUAL_FILTERS = [
    OpenApiParameter(
        "status", str, required=False, description="Comma-separated: pending, approved, paid."
    ),
    OpenApiParameter("partner", int, required=False, description="Partner id (managers)."),
    OpenApiParameter("currency", str, required=False, description="ISO 4217."),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, required=False, description="Verified on or after (UTC day)."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, required=False, description="Verified on or before (UTC day)."
    ),
]


def _require_manager(user) -> None:
    if not is_manager(user):
        raise PermissionDeniedError("Only channel managers can do this.")


class RegistrationVerifyWinApi(ApiView):
    @extend_schema(
        operation_id="registrations_verify_win",
        tags=["registrations"],
        request=EmptyInputSerializer,
        responses=responses({200: RegistrationSerializer}, 400, 404, 409),
        description="Managers: verify a `won` registration's win; `win_verified_at` is set and "
        "an accrual is created from the frozen benefit. Not won → 409 `invalid_transition`; "
        "already verified (by a manager or the CRM's closed-won) → 409 `already_verified`.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_manager(request.user)
        validated(EmptyInputSerializer, request.data)
        services.win_verify(registration=registration, actor=request.user, source="manager")
        return registration_response(request.user, registration)


class AccrualListApi(ApiView):
    pagination_class = Pagination  # the schema documents the page envelope (API.md "paginated")

    @extend_schema(
        operation_id="accruals_list",
        tags=["rewards"],
        parameters=[*ACCRUAL_FILTERS, ordering_parameter(ACCRUAL_ORDERING)],
        responses=responses({200: AccrualSerializer(many=True)}, 400, 404),
        description="Partners: their own company's accruals; managers: all.",
    )
    def get(self, request):
        queryset = selectors.accruals_filter(
            selectors.accruals_visible_to(request.user), request.query_params, user=request.user
        )
        queryset = apply_ordering(queryset, request, ACCRUAL_ORDERING, ["-created_at"])
        return self.paginate(queryset, lambda rows: [accrual_representation(a) for a in rows])


class AccrualApproveApi(ApiView):
    @extend_schema(
        operation_id="accruals_approve",
        tags=["rewards"],
        request=EmptyInputSerializer,
        responses=responses({200: AccrualSerializer}, 400, 404, 409),
        description="Managers: pending → approved. Otherwise 409 `invalid_transition`.",
    )
    def post(self, request, pk):
        accrual = selectors.access_accrual_for_user(request.user, pk)
        _require_manager(request.user)
        validated(EmptyInputSerializer, request.data)
        accrual = services.accrual_approve(accrual=accrual, actor=request.user)
        return Response(
            accrual_representation(selectors.access_accrual_for_user(request.user, accrual.pk))
        )


class AccrualMarkPaidApi(ApiView):
    @extend_schema(
        operation_id="accruals_mark_paid",
        tags=["rewards"],
        request=MarkPaidInputSerializer,
        responses=responses({200: AccrualSerializer}, 400, 404, 409),
        description="Managers: approved → paid with the payout reference. Otherwise 409 "
        "`invalid_transition`.",
    )
    def post(self, request, pk):
        accrual = selectors.access_accrual_for_user(request.user, pk)
        _require_manager(request.user)
        data = validated(MarkPaidInputSerializer, request.data)
        accrual = services.accrual_mark_paid(
            accrual=accrual, actor=request.user, reference=data["reference"]
        )
        return Response(
            accrual_representation(selectors.access_accrual_for_user(request.user, accrual.pk))
        )


class IncentiveReportRowSerializer(serializers.Serializer):
    tier = serializers.CharField(help_text="Tier code.")
    period = serializers.CharField(help_text="YYYY-MM of the close date.")
    wins = serializers.IntegerField()
    revenue = serializers.DictField(child=serializers.CharField(), help_text="By currency.")
    incentive_cost = serializers.DictField(child=serializers.CharField(), help_text="By currency.")
    cost_share = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Incentive cost / revenue per currency (null when the revenue is 0).",
    )


# --- Payouts CSV and the incentive report -------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_safe(value) if isinstance(value, str) else str(value)


def payouts_csv_stream(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(selectors.PAYOUT_COLUMNS)
    for a in queryset.iterator(chunk_size=500):
        row = accrual_representation(a)
        yield writer.writerow(
            [
                _cell(v)
                for v in (
                    a.pk,
                    a.registration.reference,
                    a.partner_id,
                    a.partner.name,
                    a.registration.customer_name,
                    a.kind,
                    row["basis"],
                    row["rate"],
                    a.credit_percent,
                    row["amount"],
                    a.currency,
                    a.status,
                    a.late,
                    row["created_at"],
                    row["approved_at"],
                    row["paid_at"],
                    a.reference,
                )
            ]
        )


class PayoutsCsvApi(ApiView):
    """The payout export: one row per accrual, approved and paid by default, filtered by period
    (verification day), currency, partner and status like the accrual list."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="reports_payouts_csv",
        tags=["reports"],
        parameters=ACCRUAL_FILTERS,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="CSV, one row per accrual."
            ),
            **{code: OpenApiResponse(ErrorResponseSerializer) for code in (400, 401, 403)},
        },
        description="Managers: every partner; partner users: their own company's accruals.",
    )
    def get(self, request):
        params = request.query_params.copy()
        if not params.get("status"):
            params["status"] = "approved,paid"
        queryset = selectors.accruals_filter(
            selectors.accruals_visible_to(request.user), params, user=request.user
        )
        response = StreamingHttpResponse(
            payouts_csv_stream(selectors.payout_rows(queryset)),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone_now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="payouts-{stamp}.csv"'
        return response


class IncentiveReportApi(ApiView):
    @extend_schema(
        operation_id="reports_incentives",
        tags=["reports"],
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, required=False, description="Close date on or after."
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, required=False, description="Close date on or before."
            ),
        ],
        responses=responses({200: IncentiveReportRowSerializer(many=True)}, 400),
        description="Per tier and month of the close date: partner-sourced revenue of verified "
        "wins, the incentive cost accrued for them and the cost's share of the revenue, per "
        "currency. Managers: every partner; partner users: their own company.",
    )
    def get(self, request):
        errors: dict = {}
        start = selectors.parse_date(request.query_params, "from", errors)
        end = selectors.parse_date(request.query_params, "to", errors)
        if errors:
            raise ValidationFailed("Some filters are not valid.", fields=errors)
        rows = selectors.incentive_report(request.user, start=start, end=end)
        return Response(
            [
                {
                    "tier": row["tier"],
                    "period": row["period"],
                    "wins": row["wins"],
                    "revenue": {c: format_money(v, c) for c, v in row["revenue"].items()},
                    "incentive_cost": {c: format_money(v, c) for c, v in row["cost"].items()},
                    "cost_share": {
                        c: (None if v is None else float(round(v, 6)))
                        for c, v in row["share"].items()
                    },
                }
                for row in rows
            ]
        )


class CoSellPartnerRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM of the close date.")
    partner_id = serializers.IntegerField()
    partner = serializers.CharField()
    currency = serializers.CharField()
    deals = serializers.IntegerField(help_text="Registrations closed won under co-sell.")
    revenue = serializers.CharField(help_text="Decimal string: their won value.")
    partner_credit = serializers.CharField(
        help_text="Decimal string: the value × the partner credit % of the latest agreement."
    )


class CoSellRepRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM of the close date.")
    rep_email = serializers.EmailField()
    rep = serializers.CharField(help_text="The rep's name (their e-mail when unknown).")
    currency = serializers.CharField()
    deals = serializers.IntegerField()
    revenue = serializers.CharField(help_text="Decimal string.")
    rep_credit = serializers.CharField(help_text="Decimal string: the value × the rep credit %.")


class CoSellReportSerializer(serializers.Serializer):
    by_partner = CoSellPartnerRowSerializer(many=True)
    by_rep = CoSellRepRowSerializer(many=True)


class CoSellReportApi(ApiView):
    @extend_schema(
        operation_id="reports_co_sell",
        tags=["reports"],
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, required=False, description="Close date on or after."
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, required=False, description="Close date on or before."
            ),
        ],
        responses=responses({200: CoSellReportSerializer}, 400),
        description="Co-sell revenue (registrations closed won under a co-sell agreement) with "
        "the credits of each side, per month of the close date and currency: by partner and by "
        "sales rep. Managers: both; partner users: their own company's partner rows only; "
        "sales reps: their own rep rows only.",
    )
    def get(self, request):
        errors: dict = {}
        start = selectors.parse_date(request.query_params, "from", errors)
        end = selectors.parse_date(request.query_params, "to", errors)
        if start and end and start > end:
            errors["to"] = ["On or after `from`."]
        if errors:
            raise ValidationFailed("Some filters are not valid.", fields=errors)
        report = selectors.co_sell_report(request.user, start=start, end=end)
        return Response(
            {
                "by_partner": [
                    {
                        **{k: row[k] for k in ("period", "partner_id", "partner", "currency")},
                        "deals": row["deals"],
                        "revenue": format_money(row["revenue"], row["currency"]),
                        "partner_credit": format_money(row["credit"], row["currency"]),
                    }
                    for row in report["by_partner"]
                ],
                "by_rep": [
                    {
                        **{k: row[k] for k in ("period", "rep_email", "rep", "currency")},
                        "deals": row["deals"],
                        "revenue": format_money(row["revenue"], row["currency"]),
                        "rep_credit": format_money(row["credit"], row["currency"]),
                    }
                    for row in report["by_rep"]
                ],
            }
        )


urlpatterns = [
    path(
        "registrations/<id:pk>/verify-win/",
        RegistrationVerifyWinApi.as_view(),
        name="api-registration-verify-win",
    ),
    path("accruals/", AccrualListApi.as_view(), name="api-accruals"),
    path("accruals/<id:pk>/approve/", AccrualApproveApi.as_view(), name="api-accrual-approve"),
    path("accruals/<id:pk>/mark-paid/", AccrualMarkPaidApi.as_view(), name="api-accrual-mark-paid"),
    path("reports/payouts.csv", PayoutsCsvApi.as_view(), name="api-reports-payouts-csv"),
    path("reports/incentives/", IncentiveReportApi.as_view(), name="api-reports-incentives"),
    path("reports/co-sell/", CoSellReportApi.as_view(), name="api-reports-co-sell"),
]
