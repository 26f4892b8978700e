"""The deals API: registrations and their transitions, extension requests, comments, history,
the availability check, conflicts, direct opportunities, products and notifications.

Every handler is parse -> access (404 for anything outside the caller's tenant) -> role check
(403, *after* scoping so a foreign id never learns more than "not found") -> service ->
serialize. No business rule lives here.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from conflicts.models import RecordKind
from deals import access
from deals.api import serializers as s
from deals.catalog import product_create, products_active
from deals.models import CoSellAgreement, DealRegistration, DirectOpportunity
from deals.notifications.inbox import notifications_visible_to
from deals.opportunities.csv_import import opportunities_import_csv
from deals.opportunities.selectors import opportunities_visible_to
from deals.opportunities.services import (
    opportunities_bulk_upsert,
    opportunity_delete,
    opportunity_update,
    opportunity_upsert,
)
from deals.registrations import selectors, services
from deals.registrations.availability import availability_check
from deals.registrations.co_sell import conflict_co_sell_by_rep
from deals.registrations.collaboration import comment_create
from deals.registrations.extensions import extension_request_create, extension_request_decide
from partners.roles import is_manager, is_partner_user, is_sales_rep
from prm.api import (
    ApiView,
    Pagination,
    apply_ordering,
    ordering_parameter,
    responses,
    validated,
)
from prm.exceptions import PermissionDeniedError, ValidationFailed
from prm.lib.ids import query_id

REGISTRATION_ORDERING = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "submitted_at": "submitted_at",
    "expires_at": "expires_at",
    "expected_close_date": "expected_close_date",
    "estimated_value": "estimated_value",
    "customer_name": "customer_name",
    "reference": "reference",
    "status": "status",
}
MANAGER_REGISTRATION_ORDERING = {**REGISTRATION_ORDERING, "sla_due_at": "sla_due_at"}
OPPORTUNITY_ORDERING = {
    "updated_at": "updated_at",
    "created_at": "created_at",
    "external_id": "external_id",
    "account_name": "account_name",
    "amount": "amount",
    "close_date": "close_date",
}
CONFLICT_ORDERING = {"created_at": "created_at", "score": "score"}
BOOL_VALUES = {"true": True, "1": True, "false": False, "0": False}


def _require_partner_user(user) -> None:
    if not is_partner_user(user):
        raise PermissionDeniedError("Only users of the partner company can do this.")


def _require_manager(user) -> None:
    if not is_manager(user):
        raise PermissionDeniedError("Only channel managers can do this.")


def _int_param(params, name: str) -> int | None:
    return query_id(params, name)


# --- Registrations ------------------------------------------------------------------------------


PRODUCT_ORDER = ("product__product_line__name", "product__name")  # Product's Meta.ordering


def registrations_for_output(queryset, user):
    """`queryset` (already scoped by the selector) narrowed to what the representation reads:
    the partner and the submitter (and for managers the decider) joined, no prefetch. On
    PostgreSQL the product codes come in the same query (an array subquery); elsewhere a page
    reads them in one more query (_product_codes)."""
    related = ["partner", "submitted_by", "owner"]
    if is_manager(user):
        related.append("decided_by")
    queryset = queryset.select_related(None).select_related(*related).prefetch_related(None)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery

        codes = (
            DealRegistration.products.through.objects.filter(dealregistration_id=OuterRef("pk"))
            .order_by(*PRODUCT_ORDER)
            .values("product__code")
        )
        queryset = queryset.annotate(_product_codes=ArraySubquery(codes))
    return queryset


def _product_codes(registration_ids) -> dict[int, list[str]]:
    """{registration id: product codes}, in the order of the serializer's prefetch."""
    through = DealRegistration.products.through
    rows = (
        through.objects.filter(dealregistration_id__in=registration_ids)
        .order_by(*PRODUCT_ORDER)
        .values_list("dealregistration_id", "product__code")
    )
    codes = defaultdict(list)
    for registration_id, code in rows:
        codes[registration_id].append(code)
    return codes


def registration_for_output(user, pk) -> DealRegistration:
    """access_registration_for_user (same scoping, same 404 and security-log record) with what
    registrations_for_output reads, in plain SQL (deals.sql: the hot detail path)."""
    return access.access_registration_detail_for_user(user, pk)


def registrations_data(rows, user, *, many=True):
    """Registrations as `user` may see them (s.RegistrationSerializer's shape, built by
    s.registration_representation): product codes from the fetch (PostgreSQL) or in one
    query, and for managers their conflicts in one more."""
    manager = is_manager(user)
    items = rows if many else [rows]
    ids = [r.pk for r in items]
    if all(hasattr(r, "_product_codes") for r in items):
        codes = {r.pk: r._product_codes for r in items}
    else:
        codes = _product_codes(ids) if ids else {}
    by_registration: dict[int, list] = defaultdict(list)
    if manager and ids:
        by_registration = _conflicts_both_sides(user, ids)
    data = [
        s.registration_representation(
            registration,
            manager=manager,
            conflicts=by_registration.get(registration.pk),
            products=codes.get(registration.pk, []),
            conflict_status=selectors.manager_conflict_status(
                registration, by_registration.get(registration.pk, ())
            )
            if manager
            else None,
        )
        for registration in items
    ]
    return data if many else data[0]


def _conflicts_both_sides(user, ids) -> dict[int, list]:
    """{registration id: its conflicts on both sides}, as seen from that registration: a
    conflict raised by a later registration appears on the earlier one with the later one as
    `other_id` / `other_label`. One query (the later registration's label is a subquery)."""
    wanted = set(ids)
    by_registration: dict[int, list] = defaultdict(list)
    later = DealRegistration.objects.filter(pk=OuterRef("registration_id"))
    rows = (
        selectors.conflicts_visible_to(user)
        .filter(id__in=selectors.conflicts_touching_any(ids).values("id"))
        .annotate(
            later_reference=Subquery(later.values("reference")[:1]),
            later_customer=Subquery(later.values("customer_name")[:1]),
        )
    )
    for conflict in rows:
        if conflict.registration_id in wanted:
            by_registration[conflict.registration_id].append(conflict)
        if conflict.kind == RecordKind.REGISTRATION and conflict.other_id in wanted:
            by_registration[conflict.other_id].append(
                s.ConflictView(
                    id=conflict.id,
                    kind=conflict.kind,
                    other_id=conflict.registration_id,
                    other_label=f"{conflict.later_reference} · {conflict.later_customer}",
                    score=conflict.score,
                    reasons=conflict.reasons,
                    severity=conflict.severity,
                    status=conflict.status,
                    resolution=conflict.resolution,
                )
            )
    for conflicts in by_registration.values():
        conflicts.sort(key=lambda c: (-c.score, c.id))
    return by_registration


def registration_response(user, registration: DealRegistration, code=status.HTTP_200_OK):
    # Re-read through the tenant accessor: the same joins and the same shape as a GET.
    fresh = registration_for_output(user, registration.pk)
    return Response(registrations_data(fresh, user, many=False), status=code)


REGISTRATION_FILTERS = [
    OpenApiParameter(
        "status",
        str,
        required=False,
        description="Comma-separated statuses, e.g. `submitted,approved`.",
    ),
    OpenApiParameter("conflict_status", str, required=False, description="Comma-separated."),
    OpenApiParameter("partner", int, required=False, description="Partner id (managers)."),
    OpenApiParameter(
        "overdue", str, enum=["true", "false"], required=False, description="Managers."
    ),
    OpenApiParameter("search", str, required=False, description="Customer name or reference."),
    OpenApiParameter(
        "owner",
        str,
        required=False,
        description="`me` (the caller's own registrations) or a user id.",
    ),
    ordering_parameter(MANAGER_REGISTRATION_ORDERING),
]


class RegistrationListView(ApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="registrations_list",
        tags=["registrations"],
        parameters=REGISTRATION_FILTERS,
        responses=responses({200: s.RegistrationSerializer(many=True)}, 400, 404),
        description="Partners: their own partner's registrations; managers: all. Custom "
        "fields filter as `?custom.<key>=<value>` (a multi-choice field: includes the value; "
        "yes/no: true or false); an unknown key or a value of the wrong type → 400.",
    )
    def get(self, request):
        user = request.user
        manager = is_manager(user)
        queryset = selectors.registrations_filter(
            selectors.registrations_visible_to(user), params=request.query_params, user=user
        )
        queryset = registrations_for_output(queryset, user)
        queryset = apply_ordering(
            queryset,
            request,
            MANAGER_REGISTRATION_ORDERING if manager else REGISTRATION_ORDERING,
            ["-created_at"],
        )
        return self.paginate(queryset, lambda rows: registrations_data(rows, user))

    @extend_schema(
        operation_id="registrations_create",
        tags=["registrations"],
        request=s.RegistrationInputSerializer,
        responses=responses({201: s.RegistrationSerializer}, 400, 409, 429),
        description="Partner users. Submitted and conflict-checked at once unless `draft` "
        "is true. A certain match with your own active registration → 409 "
        "`duplicate_registration` with `existing_id`. A submission spends the availability "
        "check's budget (429 `throttled` when spent) and is logged as a check.",
    )
    def post(self, request):
        _require_partner_user(request.user)
        data = validated(s.RegistrationInputSerializer, request.data)
        draft = data.pop("draft", False)
        registration = services.registration_create(
            actor=request.user, data=_registration_payload(data), submit=not draft
        )
        return registration_response(request.user, registration, status.HTTP_201_CREATED)


def _registration_payload(data: dict) -> dict:
    return {key: ("" if value is None else value) for key, value in data.items()}


class RegistrationDetailView(ApiView):
    @extend_schema(
        operation_id="registrations_retrieve",
        tags=["registrations"],
        responses=responses({200: s.RegistrationSerializer}, 404),
    )
    def get(self, request, pk):
        registration = registration_for_output(request.user, pk)
        return Response(registrations_data(registration, request.user, many=False))

    @extend_schema(
        operation_id="registrations_partial_update",
        tags=["registrations"],
        request=s.RegistrationUpdateInputSerializer,
        responses=responses({200: s.RegistrationSerializer}, 400, 404, 409),
        description="The owning partner, while `draft` or `info_requested` (else 409).",
    )
    def patch(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_partner_user(request.user)
        data = validated(s.RegistrationUpdateInputSerializer, request.data, partial=True)
        registration = services.registration_update(
            registration=registration, actor=request.user, data=_registration_payload(data)
        )
        return registration_response(request.user, registration)


class _TransitionView(ApiView):
    """POST /registrations/{id}/<action>/: access, role, input, service, the registration."""

    role = "partner"  # "partner" | "manager" | "any"
    input_serializer = s.EmptyInputSerializer

    def perform(self, registration, actor, data):
        raise NotImplementedError

    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        if self.role == "manager":
            _require_manager(request.user)
        elif self.role == "partner":
            _require_partner_user(request.user)
        data = validated(self.input_serializer, request.data)
        registration = self.perform(registration, request.user, data)
        return registration_response(request.user, registration)


def _transition_schema(operation_id, request, description, *codes):
    return extend_schema(
        operation_id=operation_id,
        tags=["registrations"],
        request=request,
        responses=responses({200: s.RegistrationSerializer}, 400, 404, 409, *codes),
        description=description + " Illegal from the current status → 409 `invalid_transition`.",
    )


class SubmitView(_TransitionView):
    @_transition_schema(
        "registrations_submit",
        s.EmptyInputSerializer,
        "Partner: submit a draft or resubmit after an information request (re-runs the "
        "conflict check; spends the availability check's budget, 429 when spent).",
        429,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_submit(registration=registration, actor=actor)


class ApproveView(_TransitionView):
    role = "manager"
    input_serializer = s.ApproveInputSerializer

    @_transition_schema(
        "registrations_approve",
        s.ApproveInputSerializer,
        "Manager: approve; protection starts now for the tier's (else the policy's) days. "
        "An open conflict with another partner's approved registration or an open direct "
        "opportunity → 409 `unresolved_conflict` with `conflict_ids`, unless "
        "`override_reason` is given.",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_approve(
            registration=registration,
            actor=actor,
            note=data.get("note") or "",
            protection_days=data.get("protection_days"),
            override_reason=data.get("override_reason") or "",
        )


class RevokeView(_TransitionView):
    role = "manager"
    input_serializer = s.RevokeInputSerializer

    @_transition_schema(
        "registrations_revoke",
        s.RevokeInputSerializer,
        "Manager: end an approved registration's protection at once (status `revoked`; the "
        "reason goes in `rejection_reason`, `note` required for `other`).",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_revoke(
            registration=registration,
            actor=actor,
            reason=data["reason"],
            note=data.get("note") or "",
        )


class RejectView(_TransitionView):
    role = "manager"
    input_serializer = s.RejectInputSerializer

    @_transition_schema(
        "registrations_reject",
        s.RejectInputSerializer,
        "Manager: reject with a reason (`note` required for `other`).",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_reject(
            registration=registration,
            actor=actor,
            reason=data["reason"],
            note=data.get("note") or "",
        )


class RequestInfoView(_TransitionView):
    role = "manager"
    input_serializer = s.RequestInfoInputSerializer

    @_transition_schema(
        "registrations_request_info",
        s.RequestInfoInputSerializer,
        "Manager: ask the partner for more information.",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_request_info(
            registration=registration, actor=actor, message=data["message"]
        )


class WithdrawView(_TransitionView):
    @_transition_schema(
        "registrations_withdraw", s.EmptyInputSerializer, "Partner: withdraw an open registration."
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_withdraw(registration=registration, actor=actor)


class CloseView(_TransitionView):
    role = "any"
    input_serializer = s.CloseInputSerializer

    @_transition_schema(
        "registrations_close",
        s.CloseInputSerializer,
        "Partner or manager: report an approved registration as won or lost.",
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def perform(self, registration, actor, data):
        return services.registration_close(
            registration=registration,
            actor=actor,
            outcome=data["outcome"],
            close_date=data["close_date"],
            actual_value=data.get("actual_value"),
            lost_reason=data.get("lost_reason") or "",
        )


# --- Extension requests -------------------------------------------------------------------------


class ExtensionRequestCreateView(ApiView):
    @extend_schema(
        operation_id="registrations_extension_requests_create",
        tags=["extension requests"],
        request=s.ExtensionRequestInputSerializer,
        responses=responses({201: s.ExtensionRequestSerializer}, 400, 404, 409),
        description="Partner, approved registrations only. 409 when the maximum number of "
        "extensions is reached or a request is already pending.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_partner_user(request.user)
        data = validated(s.ExtensionRequestInputSerializer, request.data)
        extension = extension_request_create(
            registration=registration, actor=request.user, reason=data["reason"]
        )
        extension = access.access_extension_request_for_user(request.user, extension.pk)
        return Response(
            s.ExtensionRequestSerializer(extension).data, status=status.HTTP_201_CREATED
        )


class _ExtensionDecisionView(ApiView):
    approve = True

    def post(self, request, pk):
        extension = access.access_extension_request_for_user(request.user, pk)
        _require_manager(request.user)
        data = validated(s.DecisionInputSerializer, request.data)
        extension_request_decide(
            request=extension, actor=request.user, approve=self.approve, note=data.get("note", "")
        )
        extension = access.access_extension_request_for_user(request.user, pk)
        return Response(s.ExtensionRequestSerializer(extension).data)


class ExtensionApproveView(_ExtensionDecisionView):
    approve = True

    @extend_schema(
        operation_id="extension_requests_approve",
        tags=["extension requests"],
        request=s.DecisionInputSerializer,
        responses=responses({200: s.ExtensionRequestSerializer}, 400, 404, 409),
        description="Manager: extend the protection by the policy's extension days.",
    )
    def post(self, request, pk):
        return super().post(request, pk)


class ExtensionRejectView(_ExtensionDecisionView):
    approve = False

    @extend_schema(
        operation_id="extension_requests_reject",
        tags=["extension requests"],
        request=s.DecisionInputSerializer,
        responses=responses({200: s.ExtensionRequestSerializer}, 400, 404, 409),
        description="Manager: refuse the extension.",
    )
    def post(self, request, pk):
        return super().post(request, pk)


# --- Comments and history -----------------------------------------------------------------------


class CommentListView(ApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="registrations_comments_list",
        tags=["registrations"],
        responses=responses({200: s.CommentSerializer(many=True)}, 400, 404),
        description="Partners never see internal notes.",
    )
    def get(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        queryset = selectors.comments_visible_to(request.user, registration).order_by(
            "created_at", "id"
        )
        return self.paginate(queryset, lambda rows: s.CommentSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="registrations_comments_create",
        tags=["registrations"],
        request=s.CommentInputSerializer,
        responses=responses({201: s.CommentSerializer}, 400, 403, 404, 409),
        description="`internal: true` (a note partners never see) is for managers only; a "
        "partner sending it gets 403.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        data = validated(s.CommentInputSerializer, request.data)
        comment = comment_create(
            registration=registration,
            actor=request.user,
            body=data["body"],
            internal=data.get("internal", False),
        )
        comment = access.access_comment_for_user(request.user, comment.pk)
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class HistoryView(ApiView):
    @extend_schema(
        operation_id="registrations_history_list",
        tags=["registrations"],
        responses=responses({200: s.HistoryEntrySerializer(many=True)}, 404),
        description="The registration's events, oldest first. Partners don't see internal "
        "events (notes, conflict details) nor internal details.",
    )
    def get(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        manager = is_manager(request.user)
        queryset = selectors.registration_timeline(registration, user=request.user)
        return self.as_list(
            queryset,
            lambda rows: (
                s.HistoryEntrySerializer(rows, many=True, context={"manager": manager}).data
            ),
        )


# --- Availability check -------------------------------------------------------------------------


class ConflictCheckView(ApiView):
    @extend_schema(
        operation_id="conflict_check",
        tags=["conflicts"],
        request=s.AvailabilityInputSerializer,
        responses=responses({200: s.AvailabilitySerializer}, 400, 429),
        description="Is this customer already engaged? Partners get the verdict and a "
        "neutral sentence (never the other party); managers also get `matches`. "
        "Rate-limited per user and per partner (429); every call is logged.",
    )
    def post(self, request):
        data = validated(s.AvailabilityInputSerializer, request.data)
        result = availability_check(actor=request.user, data=data, source="api")
        return Response(s.AvailabilitySerializer(result).data)


# --- Conflicts ----------------------------------------------------------------------------------


def _record_summaries(conflicts) -> dict:
    """{(kind, id): summary} for both sides of every conflict on the page (two queries)."""
    registration_ids = {c.registration_id for c in conflicts}
    registration_ids |= {c.other_id for c in conflicts if c.kind == RecordKind.REGISTRATION}
    opportunity_ids = {c.other_id for c in conflicts if c.kind == RecordKind.DIRECT_OPPORTUNITY}
    records = {}
    if registration_ids:
        for r in DealRegistration.objects.filter(pk__in=registration_ids).select_related("partner"):
            records[(RecordKind.REGISTRATION, r.pk)] = {
                "id": r.pk,
                "kind": RecordKind.REGISTRATION,
                "label": f"{r.reference or 'draft'} · {r.customer_name}",
                "status": r.status,
                "partner": {"id": r.partner_id, "name": r.partner.name},
            }
    if opportunity_ids:
        for o in DirectOpportunity.objects.filter(pk__in=opportunity_ids):
            records[(RecordKind.DIRECT_OPPORTUNITY, o.pk)] = {
                "id": o.pk,
                "kind": RecordKind.DIRECT_OPPORTUNITY,
                "label": f"{o.external_id} · {o.account_name}",
                "status": o.status,
                "partner": None,
            }
    return records


def conflicts_data(rows, *, many=True, manager=True):
    """Conflicts with both records summarised and their co-sell agreements (two queries more
    per page). A sales rep (manager=False) never reads the manager's resolution note."""
    items = rows if many else [rows]
    agreements = {
        a.conflict_id: a
        for a in CoSellAgreement.objects.filter(conflict_id__in=[c.pk for c in items])
    }
    context = {"records": _record_summaries(items), "co_sell": agreements}
    data = s.ConflictSerializer(rows, many=many, context=context).data
    if not manager:
        for item in data if many else [data]:
            item["resolution_note"] = ""
    return data


def _require_manager_or_sales_rep(user) -> None:
    if not (is_manager(user) or is_sales_rep(user)):
        raise PermissionDeniedError("Only channel managers and sales reps can do this.")


CONFLICT_LIST_LIMIT = 500


class ConflictListView(ApiView):
    @extend_schema(
        operation_id="conflicts_list",
        tags=["conflicts"],
        parameters=[
            OpenApiParameter("status", str, enum=["open", "resolved", "closed"], required=False),
            OpenApiParameter(
                "registration",
                int,
                required=False,
                description="A registration on either side of the conflict.",
            ),
            OpenApiParameter(
                "kind", str, enum=["registration", "direct_opportunity"], required=False
            ),
            ordering_parameter(CONFLICT_ORDERING),
        ],
        responses=responses({200: s.ConflictSerializer(many=True)}, 400, 404),
        description=f"Managers: every conflict; sales reps: those against an opportunity "
        f"they own. An array (docs/api.md) of at most {CONFLICT_LIST_LIMIT} conflicts in the "
        "requested order; narrow it with the filters.",
    )
    def get(self, request):
        _require_manager_or_sales_rep(request.user)
        params = request.query_params
        queryset = selectors.conflicts_visible_to(request.user)
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if params.get("kind"):
            queryset = queryset.filter(kind=params["kind"])
        registration_id = _int_param(params, "registration")
        if registration_id is not None:
            # Either side: the later registration (registration_id) or the earlier one.
            queryset = queryset.filter(
                id__in=selectors.conflicts_for_registration(registration_id).values("id")
            )
        queryset = apply_ordering(queryset, request, CONFLICT_ORDERING, ["-created_at"])
        manager = is_manager(request.user)
        return self.as_list(
            queryset,
            lambda rows: conflicts_data(rows, manager=manager),
            limit=CONFLICT_LIST_LIMIT,
        )


class ConflictResolveView(ApiView):
    @extend_schema(
        operation_id="conflicts_resolve",
        tags=["conflicts"],
        request=s.ConflictResolveInputSerializer,
        responses=responses({200: s.ConflictSerializer}, 400, 404, 409),
        description="Manager: resolve; the effect on both records follows the resolution "
        "(the losing registration is rejected, or revoked when approved). A resolved or "
        "closed conflict → 409 `invalid_transition`.",
    )
    def post(self, request, pk):
        conflict = access.access_conflict_for_user(request.user, pk)
        _require_manager(request.user)
        data = validated(s.ConflictResolveInputSerializer, request.data)
        conflict = services.conflict_resolve(
            conflict=conflict,
            actor=request.user,
            resolution=data["resolution"],
            note=data.get("note") or "",
            co_sell=data.get("co_sell"),
        )
        return Response(conflicts_data(conflict, many=False))


class ConflictCoSellView(ApiView):
    @extend_schema(
        operation_id="conflicts_co_sell",
        tags=["conflicts"],
        request=s.ConflictCoSellInputSerializer,
        responses=responses({200: s.ConflictSerializer}, 400, 403, 404, 409),
        description="Sales rep, on a conflict with an opportunity they own: `propose` co-sell "
        "on an open conflict, or `accept` the co-sell a manager agreed (recorded as a "
        "confirmation with role `sales_rep`); the manager decides. Anything else → 409 "
        "`invalid_transition`; managers and partners → 403 / 404.",
    )
    def post(self, request, pk):
        conflict = access.access_conflict_for_user(request.user, pk)
        if not is_sales_rep(request.user):
            raise PermissionDeniedError("Only the sales rep who owns the opportunity can do this.")
        data = validated(s.ConflictCoSellInputSerializer, request.data)
        conflict = conflict_co_sell_by_rep(
            conflict=conflict, actor=request.user, action=data["action"], note=data.get("note", "")
        )
        return Response(conflicts_data(conflict, many=False, manager=False))


# --- Direct opportunities -----------------------------------------------------------------------


class OpportunityListView(ApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="opportunities_list",
        tags=["opportunities"],
        parameters=[
            OpenApiParameter("status", str, enum=["open", "won", "lost"], required=False),
            OpenApiParameter("owner_email", str, required=False),
            OpenApiParameter("external_id", str, required=False),
            OpenApiParameter("country", str, required=False),
            OpenApiParameter(
                "search", str, required=False, description="External id, account name, domain."
            ),
            ordering_parameter(OPPORTUNITY_ORDERING),
        ],
        responses=responses({200: s.OpportunitySerializer(many=True)}, 400, 404),
        description="Managers and integrations.",
    )
    def get(self, request):
        _require_manager(request.user)
        from django.db.models import Q

        params = request.query_params
        queryset = opportunities_visible_to(request.user)
        for name in ("status", "external_id"):
            if params.get(name):
                queryset = queryset.filter(**{name: params[name]})
        if params.get("owner_email"):
            queryset = queryset.filter(owner_email__iexact=params["owner_email"])
        if params.get("country"):
            queryset = queryset.filter(country=params["country"].upper())
        search = (params.get("search") or "").strip()
        if search:
            queryset = queryset.filter(
                Q(external_id__icontains=search)
                | Q(account_name__icontains=search)
                | Q(account_domain__icontains=search)
            )
        queryset = apply_ordering(queryset, request, OPPORTUNITY_ORDERING, ["-updated_at"])
        return self.paginate(queryset, lambda rows: s.OpportunitySerializer(rows, many=True).data)

    @extend_schema(
        operation_id="opportunities_create",
        tags=["opportunities"],
        request=s.OpportunityInputSerializer,
        responses=responses(
            {
                201: s.OpportunitySerializer,
                200: OpenApiResponse(
                    s.OpportunitySerializer, description="Updated (same external_id)."
                ),
            },
            400,
        ),
        description="Create, or update the opportunity with the same `external_id`.",
    )
    def post(self, request):
        _require_manager(request.user)
        data = validated(s.OpportunityInputSerializer, request.data)
        opportunity, created = opportunity_upsert(data=data, actor=request.user)
        opportunity = access.access_opportunity_for_user(request.user, opportunity.pk)
        return Response(
            s.OpportunitySerializer(opportunity).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OpportunityDetailView(ApiView):
    @extend_schema(
        operation_id="opportunities_retrieve",
        tags=["opportunities"],
        responses=responses({200: s.OpportunitySerializer}, 404),
    )
    def get(self, request, pk):
        opportunity = access.access_opportunity_for_user(request.user, pk)
        return Response(s.OpportunitySerializer(opportunity).data)

    @extend_schema(
        operation_id="opportunities_partial_update",
        tags=["opportunities"],
        request=s.OpportunityInputSerializer,
        responses=responses({200: s.OpportunitySerializer}, 400, 404),
    )
    def patch(self, request, pk):
        opportunity = access.access_opportunity_for_user(request.user, pk)
        _require_manager(request.user)
        data = validated(s.OpportunityInputSerializer, request.data, partial=True)
        opportunity_update(opportunity=opportunity, data=data, actor=request.user)
        opportunity = access.access_opportunity_for_user(request.user, pk)
        return Response(s.OpportunitySerializer(opportunity).data)

    @extend_schema(
        operation_id="opportunities_destroy",
        tags=["opportunities"],
        responses=responses({204: OpenApiResponse(description="Deleted.")}, 404),
    )
    def delete(self, request, pk):
        opportunity = access.access_opportunity_for_user(request.user, pk)
        _require_manager(request.user)
        opportunity_delete(opportunity=opportunity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OpportunityBulkView(ApiView):
    @extend_schema(
        operation_id="opportunities_bulk",
        tags=["opportunities"],
        request=s.OpportunityBulkInputSerializer,
        responses=responses({200: s.OpportunityBulkResultSerializer}, 400),
        description="Upsert up to 1,000 opportunities by `external_id`, all or nothing: any "
        "invalid row → 400 `invalid_rows` with `rows` {index: {field: [...]}} and nothing "
        "written.",
    )
    def post(self, request):
        _require_manager(request.user)
        data = request.data
        rows = data.get("opportunities") if hasattr(data, "get") else None
        if not isinstance(rows, list):
            raise ValidationFailed(
                'Send {"opportunities": [...]}.',
                fields={"opportunities": ["Send a list of opportunities."]},
            )
        extra = sorted(str(k) for k in data.keys() if k != "opportunities")
        if extra:
            raise ValidationFailed(
                "Unknown fields.",
                fields={k[:100]: ["This field cannot be set."] for k in extra[:20]},
            )
        result = opportunities_bulk_upsert(rows=rows, actor=request.user)
        return Response(s.OpportunityBulkResultSerializer(result).data)


class OpportunityImportView(ApiView):
    parser_classes = [MultiPartParser]
    # The CSV rule (5 MB, then 400 invalid_rows) applies to files; the body cap is above it.
    max_body_bytes = 12 * 1024 * 1024

    @extend_schema(
        operation_id="opportunities_import",
        tags=["opportunities"],
        request={"multipart/form-data": s.OpportunityImportInputSerializer},
        responses=responses({200: s.OpportunityBulkResultSerializer}, 400, 415),
        description="CSV import, all or nothing, same columns as the bulk API (`products` "
        "as `;`-separated codes). UTF-8 (BOM accepted), ≤ 5 MB, no NUL bytes; otherwise "
        "400 `invalid_rows` with nothing written.",
    )
    def post(self, request):
        _require_manager(request.user)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                "Upload a CSV file in the `file` field.", fields={"file": ["No file was sent."]}
            )
        result = opportunities_import_csv(upload)
        return Response(s.OpportunityBulkResultSerializer(result).data)


# --- Products -----------------------------------------------------------------------------------


class ProductListView(ApiView):
    @extend_schema(
        operation_id="products_list",
        tags=["products"],
        responses=responses({200: s.ProductSerializer(many=True)}, 404),
    )
    def get(self, request):
        queryset = products_active().order_by("product_line__code", "code", "id")
        return self.as_list(queryset, lambda rows: s.ProductSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="products_create",
        tags=["products"],
        request=s.ProductInputSerializer,
        responses=responses({201: s.ProductSerializer}, 400),
        description="Managers only.",
    )
    def post(self, request):
        _require_manager(request.user)
        data = validated(s.ProductInputSerializer, request.data)
        product = product_create(actor=request.user, **data)
        return Response(s.ProductSerializer(product).data, status=status.HTTP_201_CREATED)


# --- Notifications ------------------------------------------------------------------------------


def _mark_read(queryset) -> int:
    from deals.notifications.inbox import notifications_mark_read

    return notifications_mark_read(queryset=queryset)


class NotificationListView(ApiView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="notifications_list",
        tags=["notifications"],
        parameters=[OpenApiParameter("unread", str, enum=["true", "false"], required=False)],
        responses=responses({200: s.NotificationSerializer(many=True)}, 400, 404),
    )
    def get(self, request):
        queryset = notifications_visible_to(request.user)
        unread = BOOL_VALUES.get(str(request.query_params.get("unread", "")).lower())
        if unread is True:
            queryset = queryset.filter(read_at__isnull=True)
        elif unread is False:
            queryset = queryset.filter(read_at__isnull=False)
        queryset = queryset.order_by("-created_at", "-id")
        return self.paginate(queryset, lambda rows: s.NotificationSerializer(rows, many=True).data)


class NotificationReadView(ApiView):
    @extend_schema(
        operation_id="notifications_read",
        tags=["notifications"],
        request=None,
        responses=responses({200: s.NotificationSerializer}, 404),
    )
    def post(self, request, pk):
        notification = access.access_notification_for_user(request.user, pk)
        _mark_read(notifications_visible_to(request.user).filter(pk=notification.pk))
        notification = access.access_notification_for_user(request.user, pk)
        return Response(s.NotificationSerializer(notification).data)


class NotificationReadAllView(ApiView):
    @extend_schema(
        operation_id="notifications_read_all",
        tags=["notifications"],
        request=None,
        responses=responses({200: s.ReadAllResultSerializer}),
    )
    def post(self, request):
        count = _mark_read(notifications_visible_to(request.user))
        return Response({"updated": count})
