"""Webhook endpoints and their deliveries (docs/api.md "Webhooks")."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from prm.lib.fields import UpdatedAtField
from prm.lib.time import timezone_now

WEBHOOK_EVENTS = (
    "registration.submitted",
    "registration.approved",
    "registration.rejected",
    "registration.revoked",
    "registration.expired",
    "registration.closed",
    "conflict.opened",
    "conflict.resolved",
)


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types this endpoint receives.")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    # The signing key (whsec_<base64>): shown once at creation; needed to sign every delivery.
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the previous secret also signs, until previous_secret_until (24 h), so
    # receivers can switch without losing a delivery.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    # The Standard Webhooks `webhook-id`: the same on every attempt and redelivery.
    message_id = models.CharField(max_length=60)
    # One delivery per endpoint and announced fact (e.g. "conflict.opened:12").
    dedupe_key = models.CharField(max_length=120)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone_now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"], name="webhook_delivery_once_per_fact"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


# The CRM connectors' models live in integrations.crm.models (one package per concern); Django
# finds an app's models through this module.
from integrations.crm.models import (  # noqa: E402
    CrmConnection,
    CrmFieldMap,
    CrmLink,
    CrmPush,
    RecordError,
    SyncRun,
)

__all__ = [
    "WEBHOOK_EVENTS",
    "CrmConnection",
    "CrmFieldMap",
    "CrmLink",
    "CrmPush",
    "RecordError",
    "SyncRun",
    "WebhookDelivery",
    "WebhookEndpoint",
]
