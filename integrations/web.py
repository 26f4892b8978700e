"""The manager workspace's Webhooks page: each endpoint's health (failures in a row, why it was
disabled, the last deliveries), enabling a disabled endpoint again and redelivering what it
missed. Thin: the rules are integrations.services'."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from deals.web.common import manager_required
from integrations import services
from integrations.models import WebhookDelivery, WebhookEndpoint

RECENT_FAILURES = 10
REDELIVER_AT_MOST = 200


@manager_required
@require_GET
def webhook_list(request):
    failed = WebhookDelivery.Status.FAILED
    endpoints = list(
        WebhookEndpoint.objects.annotate(
            delivered=Count("deliveries", filter=Q(deliveries__status="delivered")),
            failed=Count("deliveries", filter=Q(deliveries__status=failed)),
            pending=Count("deliveries", filter=Q(deliveries__status__in=["pending", "sending"])),
        ).order_by("-active", "url", "id")
    )
    recent = list(
        WebhookDelivery.objects.filter(status=failed)
        .select_related("endpoint")
        .order_by("-created_at", "-id")[:RECENT_FAILURES]
    )
    return render(
        request,
        "manage/webhooks.html",
        {"endpoints": endpoints, "recent_failures": recent, "section": "webhooks"},
    )


@manager_required
@require_POST
def webhook_enable(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    services.webhook_update(actor=request.user, endpoint=endpoint, data={"active": True})
    messages.success(request, f"{endpoint.url} is enabled again; new events are sent to it.")
    return redirect("manage_webhooks")


@manager_required
@require_POST
def webhook_redeliver_failed(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if not endpoint.active:
        messages.error(request, "Enable the endpoint before redelivering to it.")
        return redirect("manage_webhooks")
    deliveries = list(
        endpoint.deliveries.filter(status=WebhookDelivery.Status.FAILED).order_by("id")[
            :REDELIVER_AT_MOST
        ]
    )
    for delivery in deliveries:
        services.delivery_redeliver(actor=request.user, delivery=delivery)
    messages.success(
        request,
        f"{len(deliveries)} failed deliver{'y' if len(deliveries) == 1 else 'ies'} sent again.",
    )
    return redirect("manage_webhooks")


urlpatterns = [
    path("manage/webhooks/", webhook_list, name="manage_webhooks"),
    path("manage/webhooks/<id:pk>/enable/", webhook_enable, name="manage_webhook_enable"),
    path(
        "manage/webhooks/<id:pk>/redeliver-failed/",
        webhook_redeliver_failed,
        name="manage_webhook_redeliver_failed",
    ),
]
