"""Owners and watchers of registrations (issue 17 §3): reassign, follow, unfollow.

Parse -> access (404 outside the caller's tenant) -> role (403) -> service
(deals.registrations.ownership) -> the registration, as every registration write answers."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deals import access
from deals.api import views
from deals.api.serializers import EmptyInputSerializer, RegistrationSerializer
from deals.registrations import ownership
from partners.roles import is_partner_user
from prm.api import ApiView, StrictInputSerializer, responses, validated
from prm.exceptions import PermissionDeniedError
from prm.lib.ids import MAX_ID


class ReassignInputSerializer(StrictInputSerializer):
    owner_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="An active user of the registration's partner.",
    )


class WatchSerializer(serializers.Serializer):
    watching = serializers.BooleanField(help_text="Whether the caller follows the registration.")


class ReassignView(ApiView):
    @extend_schema(
        operation_id="registrations_reassign",
        tags=["registrations"],
        request=ReassignInputSerializer,
        responses=responses({200: RegistrationSerializer}, 400, 404),
        description="A partner admin of the registration's partner, or a manager: make "
        "`owner_id` the registration's owner (recorded as an event; the new owner is "
        "notified). An owner outside the partner, an inactive user or an unknown id → 400; a "
        "partner user who is not an admin → 403.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        if not ownership.can_reassign(request.user, registration.partner_id):
            raise PermissionDeniedError(
                "Only your company's partner admins and channel managers can reassign "
                "registrations."
            )
        data = validated(ReassignInputSerializer, request.data)
        registration = ownership.registration_reassign(
            registration=registration, actor=request.user, owner_id=data["owner_id"]
        )
        return views.registration_response(request.user, registration)


class WatchView(ApiView):
    def _registration(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        if not is_partner_user(request.user):
            raise PermissionDeniedError("Only users of the partner company can follow it.")
        return registration

    @extend_schema(
        operation_id="registrations_watch",
        tags=["registrations"],
        request=EmptyInputSerializer,
        responses=responses({200: WatchSerializer}, 400, 404),
        description="A user of the registration's partner follows it: they are notified like "
        "its owner. Following twice changes nothing. Managers → 403.",
    )
    def post(self, request, pk):
        registration = self._registration(request, pk)
        validated(EmptyInputSerializer, request.data)
        ownership.registration_watch(registration=registration, actor=request.user)
        return Response(WatchSerializer({"watching": True}).data)

    @extend_schema(
        operation_id="registrations_unwatch",
        tags=["registrations"],
        request=None,
        responses=responses({200: WatchSerializer}, 404),
        description="Stop following the registration (also when not following it).",
    )
    def delete(self, request, pk):
        registration = self._registration(request, pk)
        ownership.registration_unwatch(registration=registration, actor=request.user)
        return Response(WatchSerializer({"watching": False}).data)
