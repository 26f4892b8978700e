"""GET|POST /api/v1/registration-fields/ and PATCH|DELETE /api/v1/registration-fields/{key}/:
the custom registration fields (deals.customfields). Everyone reads the fields that apply to
their partner's tier (managers: all); managers write them, each write a new form version."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from deals import customfields
from deals.api import serializers as s
from partners.roles import is_manager, partner_of
from prm.api import ApiView, responses, validated
from prm.exceptions import NotFound, PermissionDeniedError


def _fields_for(user) -> tuple[list[customfields.FieldDef], bool]:
    manager = is_manager(user)
    form = customfields.form_current()
    if manager:
        return list(form.fields), True
    partner = partner_of(user)
    if partner is None:
        return [], False  # a sales rep belongs to no partner: no field applies
    return form.for_tier(partner.tier_id), False


def _require_manager_for_field(user) -> None:
    """Partner users never learn whether a key exists (404, as for a missing key); other
    non-managers are refused (403)."""
    if is_manager(user):
        return
    if partner_of(user) is not None:
        raise NotFound()
    raise PermissionDeniedError("Only channel managers can do this.")


def _field_response(user, key: str, code=status.HTTP_200_OK) -> Response:
    field = customfields.form_current().get(key)
    data = s.registration_field_representation(field, manager=True) if field else {}
    return Response(data, status=code)


class RegistrationFieldListView(ApiView):
    @extend_schema(
        operation_id="registration_fields_list",
        tags=["registrations"],
        responses=responses({200: s.RegistrationFieldSerializer(many=True)}),
        description="The custom registration fields that apply to the caller's partner (by "
        "tier); managers see every active field. Registrations carry their values in "
        "`custom`.",
    )
    def get(self, request):
        fields, manager = _fields_for(request.user)
        return Response([s.registration_field_representation(f, manager=manager) for f in fields])

    @extend_schema(
        operation_id="registration_fields_create",
        tags=["registrations"],
        request=s.RegistrationFieldInputSerializer,
        responses=responses({201: s.RegistrationFieldSerializer}, 400),
        description="Managers: add a field (a new form version). A key once used, even by a "
        "deleted field, cannot be reused (400).",
    )
    def post(self, request):
        if not is_manager(request.user):
            raise PermissionDeniedError("Only channel managers can do this.")
        data = validated(s.RegistrationFieldInputSerializer, request.data)
        field = customfields.field_create(actor=request.user, data=data)
        return _field_response(request.user, field.key, status.HTTP_201_CREATED)


KEY_PARAMETER = OpenApiParameter(
    "key",
    str,
    OpenApiParameter.PATH,
    required=True,
    pattern=r"^[a-z][a-z0-9_]{0,39}$",
    description="The field's key.",
)


class RegistrationFieldDetailView(ApiView):
    @extend_schema(
        operation_id="registration_fields_partial_update",
        tags=["registrations"],
        parameters=[KEY_PARAMETER],
        request=s.RegistrationFieldUpdateInputSerializer,
        responses=responses({200: s.RegistrationFieldSerializer}, 400, 404),
        description="Managers: change a field's definition (not its key or type): a new form "
        "version; registrations keep their values and the version they were submitted with.",
    )
    def patch(self, request, key):
        _require_manager_for_field(request.user)
        field = customfields.field_get(key)
        data = validated(s.RegistrationFieldUpdateInputSerializer, request.data, partial=True)
        field = customfields.field_update(actor=request.user, field=field, data=data)
        return _field_response(request.user, field.key)

    @extend_schema(
        operation_id="registration_fields_destroy",
        tags=["registrations"],
        parameters=[KEY_PARAMETER],
        responses=responses({204: OpenApiResponse(description="Deleted from the form.")}, 404),
        description="Managers: remove a field from the form (a new form version). Stored "
        "values are kept and stay readable on the registrations that have them.",
    )
    def delete(self, request, key):
        _require_manager_for_field(request.user)
        field = customfields.field_get(key)
        customfields.field_deactivate(actor=request.user, field=field)
        return Response(status=status.HTTP_204_NO_CONTENT)
