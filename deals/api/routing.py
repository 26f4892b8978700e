"""Approval routing (issue 17 §4) in the API: a manager claims a registration awaiting a
decision, or assigns it to a manager, a team or nobody.

Parse -> access (404 outside the caller's tenant) -> role (403) -> service
(deals.registrations.routing) -> the registration, as every registration write answers (its
manager representation carries `approval`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from deals import access
from deals.api import views
from deals.api.serializers import EmptyInputSerializer, RegistrationSerializer
from deals.models import ApprovalTeam
from deals.registrations import routing
from partners.models import User
from partners.roles import is_manager
from prm.api import ApiView, StrictInputSerializer, responses, validated
from prm.exceptions import PermissionDeniedError, ValidationFailed
from prm.lib.ids import MAX_ID


class AssignInputSerializer(StrictInputSerializer):
    manager_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    team_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )


def _require_manager(user) -> None:
    if not is_manager(user):
        raise PermissionDeniedError("Only channel managers can assign reviews.")


class ClaimView(ApiView):
    @extend_schema(
        operation_id="registrations_claim",
        tags=["registrations"],
        request=EmptyInputSerializer,
        responses=responses({200: RegistrationSerializer}, 400, 404, 409),
        description="Manager: take a registration awaiting a decision that no one has "
        "personally (unassigned, or routed to a team the caller is on). Assigned to someone "
        "else → 409 `already_assigned`; partners → 403.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_manager(request.user)
        validated(EmptyInputSerializer, request.data)
        registration = routing.registration_claim(registration=registration, actor=request.user)
        return views.registration_response(request.user, registration)


class AssignView(ApiView):
    @extend_schema(
        operation_id="registrations_assign",
        tags=["registrations"],
        request=AssignInputSerializer,
        responses=responses({200: RegistrationSerializer}, 400, 404, 409),
        description="Manager: assign a registration awaiting a decision to a manager "
        "(`manager_id`), a team (`team_id`) or nobody (neither). Recorded as an internal "
        "event; the new assignee is notified. Partners → 403.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_manager(request.user)
        data = validated(AssignInputSerializer, request.data)
        manager = team = None
        if data.get("manager_id") and data.get("team_id"):
            raise ValidationFailed(
                "Assign to a manager or a team, not both.",
                fields={"team_id": ["Give manager_id or team_id."]},
            )
        if data.get("manager_id"):
            manager = User.objects.filter(pk=data["manager_id"], is_active=True).first()
            if manager is None:
                raise ValidationFailed(
                    "Unknown manager.", fields={"manager_id": ["Not a channel manager."]}
                )
        if data.get("team_id"):
            team = ApprovalTeam.objects.filter(pk=data["team_id"]).first()
            if team is None:
                raise ValidationFailed("Unknown team.", fields={"team_id": ["No such team."]})
        registration = routing.registration_assign(
            registration=registration, actor=request.user, manager=manager, team=team
        )
        return views.registration_response(request.user, registration)
