"""Webhook endpoints (managers) and the deliveries each recorded event fans out to.

Deliveries are rows written in the same transaction as the event (so an event that rolls back
announces nothing, and a committed one is never lost), published to Celery after commit, and
re-driven by the periodic drain when the broker was down (integrations.delivery)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid

from django.db import transaction

from deals.models import EventAction, RegistrationEvent
from integrations import urlsafety
from integrations.delivery import ENDPOINTS_KEY, webhooks_forget, webhooks_publish
from integrations.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from partners.roles import is_manager
from prm.exceptions import DomainError, PermissionDeniedError
from prm.lib import hotcache
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now
from prm.lib.validation import Errors, check_text

# Recorded event action -> webhook event type (docs/api.md "Webhooks").
EVENT_TYPES = {
    EventAction.SUBMITTED: "registration.submitted",
    EventAction.RESUBMITTED: "registration.submitted",
    EventAction.APPROVED: "registration.approved",
    EventAction.AUTO_APPROVED: "registration.approved",
    EventAction.REJECTED: "registration.rejected",
    EventAction.REVOKED: "registration.revoked",
    EventAction.EXPIRED: "registration.expired",
    EventAction.CLOSED_WON: "registration.closed",
    EventAction.CLOSED_LOST: "registration.closed",
    EventAction.CONFLICT_DETECTED: "conflict.opened",
    EventAction.CONFLICT_RESOLVED: "conflict.resolved",
}


def _require_manager(actor) -> None:
    if not is_manager(actor):
        raise PermissionDeniedError("Only channel managers can manage webhooks.")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean(data, *, partial: bool) -> dict:
    errors = Errors()
    if not isinstance(data, dict):
        errors.add("non_field_errors", "Send an object.")
        errors.raise_if_any()
    cleaned: dict = {}
    if "url" in data or not partial:
        try:
            cleaned["url"] = urlsafety.check_url(data.get("url"))
        except urlsafety.UnsafeUrl as exc:
            raise DomainError(str(exc), code="invalid_url", fields={"url": [str(exc)]})
    if "events" in data or not partial:
        events = data.get("events")
        if not isinstance(events, list) or not events:
            errors.add("events", f"Send a non-empty list of: {', '.join(WEBHOOK_EVENTS)}.")
        elif any(not isinstance(e, str) or e not in WEBHOOK_EVENTS for e in events):
            errors.add("events", f"Unknown event. Known events: {', '.join(WEBHOOK_EVENTS)}.")
        else:
            cleaned["events"] = sorted(set(events))
    if "description" in data:
        cleaned["description"] = check_text(
            errors, "description", data.get("description"), 200, required=False
        )
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors.add("active", "Must be true or false.")
        else:
            cleaned["active"] = data["active"]
    errors.raise_if_any()
    return cleaned


def webhook_create(*, actor, data) -> WebhookEndpoint:
    _require_manager(actor)
    cleaned = _clean(data, partial=False)
    cleaned.pop("active", None)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(created_by=actor, secret=new_secret(), **cleaned)
        webhooks_forget()
    return endpoint


def webhook_update(*, actor, endpoint: WebhookEndpoint, data) -> WebhookEndpoint:
    _require_manager(actor)
    cleaned = _clean(data, partial=True)
    with transaction.atomic():
        for field, value in cleaned.items():
            setattr(endpoint, field, value)
        if cleaned.get("active"):
            endpoint.consecutive_failures, endpoint.disabled_reason = 0, ""
        endpoint.save()
        webhooks_forget()
    return endpoint


def webhook_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    _require_manager(actor)
    with transaction.atomic():
        endpoint.delete()
        webhooks_forget()


ROTATION_OVERLAP = dt.timedelta(hours=24)


def webhook_rotate_secret(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret; the old one keeps signing (a second signature) for 24 h."""
    _require_manager(actor)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = timezone_now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save()
    return endpoint


def delivery_redeliver(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (same webhook-id), whatever its status."""
    _require_manager(actor)
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone_now(), claimed_at=None
        )
        transaction.on_commit(lambda: webhooks_publish([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


# --- Fan-out ------------------------------------------------------------------------------------


def _active_endpoints() -> list[tuple[int, list[str]]]:
    return hotcache.read(
        ENDPOINTS_KEY,
        lambda: [
            (pk, list(events))
            for pk, events in WebhookEndpoint.objects.filter(active=True).values_list(
                "id", "events"
            )
        ],
    )


def on_event_recorded(sender, event: RegistrationEvent, **kwargs) -> None:
    """deals.events.event_recorded: one delivery per subscribed endpoint and announced fact."""
    kind = EVENT_TYPES.get(event.action)
    if kind is None or event.registration_id is None:
        return
    endpoints = [pk for pk, events in _active_endpoints() if kind in events]
    if not endpoints:
        return
    with system_context("webhook fan-out"):
        facts = _facts(kind, event)
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event=kind,
            message_id=f"msg_{uuid.uuid4().hex}",
            dedupe_key=dedupe_key,
            payload={"type": kind, "timestamp": event.at.isoformat(), "data": data},
        )
        for dedupe_key, data in facts
        for endpoint_id in endpoints
    ]
    if not rows:
        return
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(
            endpoint_id__in=endpoints,
            dedupe_key__in=[key for key, _ in facts],
            status=WebhookDelivery.Status.PENDING,
        ).values_list("id", flat=True)
    )
    transaction.on_commit(lambda: webhooks_publish(ids))


def _facts(kind: str, event: RegistrationEvent) -> list[tuple[str, dict]]:
    from deals.api.serializers import ConflictSerializer
    from deals.registrations.selectors import conflicts_for_registration

    if kind.startswith("registration."):
        return [(f"{kind}:{event.pk}", {"registration": _registration(event.registration_id)})]
    conflicts = conflicts_for_registration(event.registration_id)
    if kind == "conflict.opened":
        conflicts = conflicts.filter(status="open")
    else:
        ids = (event.details or {}).get("conflict")
        ids = ids if isinstance(ids, list) else [ids]
        conflicts = conflicts.filter(pk__in=[i for i in ids if isinstance(i, int)])
    return [
        (f"{kind}:{conflict.pk}", {"conflict": dict(ConflictSerializer(conflict).data)})
        for conflict in conflicts
    ]


def _registration(registration_id: int) -> dict:
    """The manager representation (docs/api.md), as of this transaction."""
    from deals.api.serializers import registration_representation
    from deals.models import DealRegistration
    from deals.registrations.selectors import conflicts_for_registration

    registration = DealRegistration.objects.select_related(
        "partner", "submitted_by", "owner", "decided_by"
    ).get(pk=registration_id)
    return registration_representation(
        registration,
        manager=True,
        conflicts=list(conflicts_for_registration(registration_id)),
    )
