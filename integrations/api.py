"""Webhooks API (docs/api.md "Webhooks"): managers register endpoints, read their delivery log
and redeliver. Thin: parsing and shapes here, rules in integrations.services."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from integrations import services
from integrations.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from partners.roles import is_manager
from prm.api import ApiView, StrictInputSerializer, responses, validated
from prm.exceptions import NotFound, PermissionDeniedError

DELIVERY_LOG_LIMIT = 200


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS))
    active = serializers.BooleanField()
    description = serializers.CharField(allow_blank=True)
    disabled_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="whsec_<base64>: shown only in this answer.")


class WebhookInputSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookUpdateSerializer(WebhookInputSerializer):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS),
        min_length=1,
        max_length=20,
        required=False,
    )
    active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["status"] == WebhookDelivery.Status.SENDING:
            data["status"] = "pending"  # an attempt in flight is still pending to the reader
        return data


def _manager(request) -> None:
    if not is_manager(request.user):
        raise PermissionDeniedError("Only channel managers can manage webhooks.")


def _endpoint(request, pk: int) -> WebhookEndpoint:
    """Endpoints are invisible to everyone but managers: the same 404 as a missing id."""
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first() if is_manager(request.user) else None
    if endpoint is None:
        raise NotFound("Not found.")
    return endpoint


class WebhookListView(ApiView):
    @extend_schema(
        operation_id="webhooks_list",
        tags=["webhooks"],
        responses=responses({200: WebhookSerializer(many=True)}),
    )
    def get(self, request):
        _manager(request)
        return self.as_list(
            WebhookEndpoint.objects.order_by("id"),
            lambda rows: WebhookSerializer(rows, many=True).data,
            limit=1000,
        )

    @extend_schema(
        operation_id="webhooks_create",
        tags=["webhooks"],
        request=WebhookInputSerializer,
        responses=responses({201: WebhookCreatedSerializer}, 400),
    )
    def post(self, request):
        _manager(request)
        data = validated(WebhookInputSerializer, request.data)
        endpoint = services.webhook_create(actor=request.user, data=data)
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(ApiView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        tags=["webhooks"],
        responses=responses({200: WebhookSerializer}, 404),
    )
    def get(self, request, pk):
        return Response(WebhookSerializer(_endpoint(request, pk)).data)

    @extend_schema(
        operation_id="webhooks_update",
        tags=["webhooks"],
        request=WebhookUpdateSerializer,
        responses=responses({200: WebhookSerializer}, 400, 404),
    )
    def patch(self, request, pk):
        endpoint = _endpoint(request, pk)
        data = validated(WebhookUpdateSerializer, request.data)
        endpoint = services.webhook_update(actor=request.user, endpoint=endpoint, data=data)
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        tags=["webhooks"],
        responses=responses({204: OpenApiResponse(description="Deleted.")}, 404),
    )
    def delete(self, request, pk):
        services.webhook_delete(actor=request.user, endpoint=_endpoint(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(ApiView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        tags=["webhooks"],
        request=None,
        responses=responses({200: WebhookCreatedSerializer}, 400, 404),
        description="A new secret (shown only here); the previous one also signs for 24 hours.",
    )
    def post(self, request, pk):
        endpoint = services.webhook_rotate_secret(
            actor=request.user, endpoint=_endpoint(request, pk)
        )
        return Response(WebhookCreatedSerializer(endpoint).data)


class DeliveryListView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        tags=["webhooks"],
        responses=responses({200: DeliverySerializer(many=True)}, 404),
        description=f"The endpoint's deliveries, newest first (at most {DELIVERY_LOG_LIMIT}).",
    )
    def get(self, request, pk):
        endpoint = _endpoint(request, pk)
        return self.as_list(
            endpoint.deliveries.order_by("-id"),
            lambda rows: DeliverySerializer(rows, many=True).data,
            limit=DELIVERY_LOG_LIMIT,
        )


class RedeliverView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        tags=["webhooks"],
        request=None,
        responses=responses({202: DeliverySerializer}, 400, 404),
    )
    def post(self, request, pk, delivery_id):
        delivery = _endpoint(request, pk).deliveries.filter(pk=delivery_id).first()
        if delivery is None:
            raise NotFound("Not found.")
        delivery = services.delivery_redeliver(actor=request.user, delivery=delivery)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("webhooks/", WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<id:pk>/", WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<id:pk>/rotate-secret/",
        RotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path("webhooks/<id:pk>/deliveries/", DeliveryListView.as_view(), name="api-webhook-deliveries"),
    path(
        "webhooks/<id:pk>/deliveries/<id:delivery_id>/redeliver/",
        RedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
]
