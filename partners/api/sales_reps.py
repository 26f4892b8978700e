"""Sales reps API (docs/api.md "Roles"): managers create direct sales reps and list them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from partners import services
from partners.roles import is_integration, is_manager
from partners.selectors import sales_reps
from prm.api import ApiView, StrictInputSerializer, responses, validated
from prm.exceptions import PermissionDeniedError


class SalesRepSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)


class SalesRepInputSerializer(StrictInputSerializer):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    password = serializers.CharField(
        max_length=128,
        required=False,
        trim_whitespace=False,
        help_text="Optional: without one, the rep sets a password through the sign-in page's "
        "password reset.",
    )


def _require_manager(user) -> None:
    if not is_manager(user) or is_integration(user):
        raise PermissionDeniedError("Only channel managers can manage sales reps.")


class SalesRepListView(ApiView):
    @extend_schema(
        operation_id="sales_reps_list",
        tags=["identity"],
        responses=responses({200: SalesRepSerializer(many=True)}),
    )
    def get(self, request):
        _require_manager(request.user)
        return self.as_list(
            sales_reps(),
            lambda rows: SalesRepSerializer(rows, many=True).data,
            limit=1000,
        )

    @extend_schema(
        operation_id="sales_reps_create",
        tags=["identity"],
        request=SalesRepInputSerializer,
        responses=responses({201: SalesRepSerializer}, 400),
        description="Manager: a direct sales rep who owns the opportunities whose `owner_email` "
        "is this e-mail (case-insensitive).",
    )
    def post(self, request):
        _require_manager(request.user)
        data = validated(SalesRepInputSerializer, request.data)
        rep = services.sales_rep_create(
            actor=request.user,
            email=data["email"],
            name=data.get("name", ""),
            password=data.get("password"),
        )
        return Response(SalesRepSerializer(rep).data, status=status.HTTP_201_CREATED)
