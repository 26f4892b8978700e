"""Sending webhook deliveries (Standard Webhooks): publish after commit, a compare-and-set
claim, signing with the `standardwebhooks` library, retries with backoff and jitter for about
a day (the specification's schedule), then failed; an endpoint whose deliveries keep failing
is disabled. The periodic drain re-drives deliveries the broker never carried and claims left
by a crashed worker."""

from __future__ import annotations

import json
import logging
import random
from datetime import timedelta

import httpx
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from standardwebhooks.webhooks import Webhook

from deals.models import NotificationKind
from deals.notifications.outbox import managers_notify
from integrations import urlsafety
from integrations.models import WebhookDelivery, WebhookEndpoint
from prm.lib import hotcache
from prm.lib.publish import Publisher
from prm.lib.time import timezone_now

logger = logging.getLogger("prm.webhooks")

# Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 h in all).
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
STUCK_AFTER = timedelta(minutes=5)
RESPONSE_EXCERPT = 500

ENDPOINTS_KEY = "prm:webhook-endpoints"


def webhooks_forget() -> None:
    """The active endpoints list (read on every recorded event) changed."""
    hotcache.forget([ENDPOINTS_KEY])


def webhooks_publish(ids: list[int]) -> int:
    """Queue a delivery task per id; never raises when the broker is down (the drain then
    delivers them)."""
    return _publisher.publish(ids)


def retry_delay(attempt: int) -> float:
    """Delay before the retry after `attempt` failed attempts, with ±10 % jitter."""
    base = RETRY_SCHEDULE[min(attempt, len(RETRY_SCHEDULE)) - 1]
    return base * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


def _claim(delivery_id: int) -> bool:
    now = timezone_now()
    return (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).update(status=WebhookDelivery.Status.SENDING, claimed_at=now)
        == 1
    )


def signed_request(delivery: WebhookDelivery, endpoint: WebhookEndpoint, when=None):
    """The body and the Standard Webhooks headers of one attempt: signed with the endpoint's
    secret and, within 24 h of a rotation, also with the previous one (space-separated
    signatures, as the specification allows)."""
    when = when or timezone_now()
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (endpoint.previous_secret_until or when) > when:
        secrets.append(endpoint.previous_secret)
    signature = " ".join(Webhook(s).sign(delivery.message_id, when, body) for s in secrets)
    headers = {
        "content-type": "application/json",
        "user-agent": "Dealbridge-Webhooks/1",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def webhook_deliver(delivery_id: int, *, send=None) -> str:
    """One attempt: delivered | retry | failed | skipped (not due, or claimed elsewhere)."""
    if not _claim(delivery_id):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        _finish(delivery, ok=False, error="The endpoint is disabled.", final=True)
        return "failed"
    try:
        urlsafety.check_url(endpoint.url)
    except urlsafety.UnsafeUrl as exc:
        _finish(delivery, ok=False, error=str(exc), final=True)
        return "failed"
    body, headers = signed_request(delivery, endpoint)
    status_code, error = None, ""
    try:
        response = (send or _send)(endpoint.url, body, headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:RESPONSE_EXCERPT]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {str(exc)[:RESPONSE_EXCERPT]}"
    ok = not error
    final = not ok and delivery.attempts + 1 > len(RETRY_SCHEDULE)
    _finish(delivery, ok=ok, error=error, final=final, status_code=status_code)
    return "delivered" if ok else ("failed" if final else "retry")


def _send(url: str, body: bytes, headers: dict):
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers)


def _finish(delivery, *, ok: bool, error: str, final: bool, status_code=None) -> None:
    now = timezone_now()
    attempts = delivery.attempts + 1
    with transaction.atomic():
        if ok:
            status, next_at = WebhookDelivery.Status.DELIVERED, delivery.next_attempt_at
        elif final:
            status, next_at = WebhookDelivery.Status.FAILED, delivery.next_attempt_at
        else:
            status = WebhookDelivery.Status.PENDING
            next_at = now + timedelta(seconds=retry_delay(attempts))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempts=attempts,
            response_status=status_code,
            last_error=error[:RESPONSE_EXCERPT],
            next_attempt_at=next_at,
            claimed_at=None,
            delivered_at=now if ok else None,
        )
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        if ok:
            endpoints.exclude(consecutive_failures=0).update(consecutive_failures=0)
        elif final:
            endpoints.update(consecutive_failures=F("consecutive_failures") + 1)
            limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
            disabled = endpoints.filter(active=True, consecutive_failures__gte=limit).update(
                active=False,
                disabled_reason=f"Disabled after {limit} deliveries failed in a row.",
            )
            if disabled:
                webhooks_forget()
                logger.warning("Webhook endpoint %s disabled after failures.", delivery.endpoint_id)
                _tell_managers_disabled(delivery.endpoint_id, limit, error, now)


def _tell_managers_disabled(endpoint_id: int, limit: int, error: str, now) -> None:
    """Bell and e-mail to every manager (in the transaction that disabled the endpoint; only
    the writer whose update disabled it gets here, once per disabling)."""
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    last = f" The last error: {error[:200]}" if error else ""
    managers_notify(
        kind=NotificationKind.WEBHOOK_DISABLED,
        key=f"{endpoint_id}:{int(now.timestamp())}",
        title=f"Webhook disabled: {endpoint.url[:200]}",
        body=(
            f"Dealbridge stopped sending events to {endpoint.url} after {limit} deliveries in "
            f"a row failed.{last} Events are no longer queued for it. Fix the receiver, then "
            "enable the endpoint again on the Webhooks page and redeliver what it missed."
        ),
        url="/manage/webhooks/",
        now=now,
    )


def webhooks_drain(limit: int = 200) -> dict:
    """Periodic: release stuck claims, then attempt every due pending delivery (oldest first)."""
    now = timezone_now()
    released = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=WebhookDelivery.Status.PENDING, claimed_at=None)
    due = list(
        WebhookDelivery.objects.filter(
            Q(status=WebhookDelivery.Status.PENDING), next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    outcomes: dict[str, int] = {"released": released}
    for pk in due:
        outcome = webhook_deliver(pk)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="integrations.tasks.webhook_deliver", acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str:
    return webhook_deliver(delivery_id)


_publisher = Publisher(webhook_deliver_task, "webhook(s)")
