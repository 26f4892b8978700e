"""Integration accounts API (docs/api.md "Integration accounts"): managers create named service
accounts with scoped tokens (the token is shown once) and revoke them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from partners import services
from partners.models import IntegrationAccount
from partners.roles import is_integration, is_manager
from prm.api import ApiView, StrictInputSerializer, responses, validated
from prm.exceptions import NotFound, PermissionDeniedError


class IntegrationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=IntegrationAccount.SCOPES))
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class IntegrationCreatedSerializer(IntegrationSerializer):
    token = serializers.CharField(help_text="Shown only in this answer; it does not expire.")


class IntegrationInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=IntegrationAccount.SCOPES), min_length=1
    )


def _require_manager(user) -> None:
    # An integration account never manages integration accounts, whatever its scopes.
    if not is_manager(user) or is_integration(user):
        raise PermissionDeniedError("Only channel managers can manage integration accounts.")


class IntegrationListView(ApiView):
    @extend_schema(
        operation_id="integrations_list",
        tags=["identity"],
        responses=responses({200: IntegrationSerializer(many=True)}),
    )
    def get(self, request):
        _require_manager(request.user)
        return self.as_list(
            IntegrationAccount.objects.order_by("id"),
            lambda rows: IntegrationSerializer(rows, many=True).data,
            limit=1000,
        )

    @extend_schema(
        operation_id="integrations_create",
        tags=["identity"],
        request=IntegrationInputSerializer,
        responses=responses({201: IntegrationCreatedSerializer}, 400),
    )
    def post(self, request):
        _require_manager(request.user)
        data = validated(IntegrationInputSerializer, request.data)
        account, token = services.integration_create(
            actor=request.user, name=data["name"], scopes=list(data["scopes"])
        )
        data = {**IntegrationSerializer(account).data, "token": token}
        return Response(data, status=status.HTTP_201_CREATED)


class IntegrationDetailView(ApiView):
    @extend_schema(
        operation_id="integrations_destroy",
        tags=["identity"],
        responses=responses({204: OpenApiResponse(description="Revoked.")}, 404),
    )
    def delete(self, request, pk):
        manager = is_manager(request.user) and not is_integration(request.user)
        account = IntegrationAccount.objects.filter(pk=pk).first() if manager else None
        if account is None:
            raise NotFound("Not found.")  # invisible to everyone but managers
        services.integration_revoke(actor=request.user, account=account)
        return Response(status=status.HTTP_204_NO_CONTENT)
