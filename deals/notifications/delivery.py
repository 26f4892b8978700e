"""Delivering the outbox: publishing rows to Celery after commit, the compare-and-set claim, sending, retries with backoff, and the periodic drain."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db.models import F
from django.template.loader import render_to_string

from deals.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationKind,
)
from deals.notifications.links import _invitation_link, absolute_url
from prm.lib.i18n import recipient_locale
from prm.lib.publish import Publisher
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now

logger = logging.getLogger("prm.notifications")


# --- Publishing (after commit) ------------------------------------------------------------------


def notifications_publish(ids: list[int]) -> int:
    """Queue a delivery task per id. Never raises when the broker is unreachable: the rows
    stay pending and the drain delivers them. Returns the number published."""
    return _publisher.publish(ids)


# --- Delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # sent | skipped | retry | failed
    retry_in: float = 0.0


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter: min(cap, base * 2**(attempt-1)) scaled to 50-100 %."""
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    cap = settings.NOTIFICATION_RETRY_MAX_SECONDS
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security


def message_id_for(notification: Notification) -> str:
    """Stable per notification, so a retry after an unclear outcome reuses it."""
    digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:16]
    return f"<notification-{notification.pk}-{digest}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def email_render(notification: Notification) -> tuple[str, str, str]:
    """(subject, text, html) for an e-mail notification, in the recipient's language and time
    zone as they are when it is sent (User.language, User.time_zone). The title (the subject)
    and the body were written in the recipient's language with the notification."""
    with recipient_locale(notification.recipient):
        return _email_render(notification)


def _email_render(notification: Notification) -> tuple[str, str, str]:
    ctx = dict(notification.context or {})
    ctx.setdefault("title", notification.title)
    ctx.setdefault("body", notification.body)
    ctx["link"] = absolute_url(notification.url) if notification.url else settings.SITE_URL
    ctx["recipient_name"] = notification.recipient.get_short_name()
    ctx["kind_label"] = str(NotificationKind(notification.kind).label)
    ctx["site_url"] = settings.SITE_URL
    ctx["occurred_at"] = notification.created_at
    template = "notification"
    if notification.kind == NotificationKind.USER_INVITED:
        template = "invitation"
        ctx["link"] = _invitation_link(notification.recipient)
    text = render_to_string(f"emails/{template}.txt", ctx)
    html = render_to_string(f"emails/{template}.html", ctx)
    subject = " ".join(notification.title.split())
    return subject, text, html


def _email_send(notification: Notification, message_id: str) -> None:
    from django.core.mail import EmailMultiAlternatives, get_connection

    subject, text, html = email_render(notification)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={"Message-ID": message_id, "X-Dealbridge-Notification": str(notification.pk)},
        connection=get_connection(fail_silently=False),
    )
    message.attach_alternative(html, "text/html")
    message.send()


@system_context("notification delivery")
def notification_deliver(*, notification_id: int, now=None) -> DeliveryResult:
    """Deliver one notification. Idempotent: only the caller that moves the row from pending
    to sending (compare-and-set) sends; everyone else gets "skipped".

    A failed send puts the row back to pending with a backoff (result "retry") or, after
    NOTIFICATION_MAX_ATTEMPTS, marks it failed with the error.
    """
    now = now or timezone_now()
    claimed = Notification.objects.filter(pk=notification_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return DeliveryResult("skipped")
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    claimed_here = Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.SENDING)
    if notification.channel == Channel.IN_APP:
        claimed_here.update(status=DeliveryStatus.SENT, sent_at=now)
        return DeliveryResult("sent")
    if not notification.recipient.is_active:
        claimed_here.update(status=DeliveryStatus.FAILED, last_error="Recipient is deactivated.")
        return DeliveryResult("failed")
    message_id = notification.message_id or message_id_for(notification)
    if not notification.message_id:
        claimed_here.update(message_id=message_id)
    try:
        _email_send(notification, message_id)
    except Exception as exc:  # SMTP errors, timeouts, template errors: all count as attempts
        error = f"{type(exc).__name__}: {exc}"[:2000]
        return notification_attempt_failed(notification_id=notification.pk, error=error)
    # Between the SMTP accept above and this commit is the one duplicate window: if the
    # process dies here the row is re-driven later with the same Message-ID.
    claimed_here.update(status=DeliveryStatus.SENT, sent_at=timezone_now(), last_error="")
    return DeliveryResult("sent")


@system_context("notification delivery")
def notification_attempt_failed(*, notification_id: int, error: str) -> DeliveryResult:
    """Record a failed attempt of a claimed (sending) row: back to pending with a backoff, or
    failed after the last attempt (visible in the admin, never silently dropped)."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.status != DeliveryStatus.SENDING:
        return DeliveryResult("skipped")
    if notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        Notification.objects.filter(pk=notification_id, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED, last_error=error
        )
        logger.error(
            "Notification %s failed after %s attempts: %s",
            notification_id,
            notification.attempts,
            error,
        )
        return DeliveryResult("failed")
    delay = retry_delay(notification.attempts)
    Notification.objects.filter(pk=notification_id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=timezone_now() + timedelta(seconds=delay),
        last_error=error,
    )
    logger.warning(
        "Notification %s attempt %s failed (%s); retry in %.0fs",
        notification_id,
        notification.attempts,
        error,
        delay,
    )
    return DeliveryResult("retry", retry_in=delay)


@system_context("notification drain")
def notifications_drain(*, now=None, budget_seconds: float | None = None) -> dict[str, int]:
    """Deliver what is pending and due; re-drive rows stuck in "sending" (a worker died between
    claim and mark). Safe to run concurrently with itself and with delivery tasks: every row
    goes through the same compare-and-set claim."""
    now = now or timezone_now()
    started = time.monotonic()
    budget = (
        budget_seconds if budget_seconds is not None else settings.NOTIFICATION_DRAIN_SECONDS * 0.8
    )
    stale_before = now - timedelta(seconds=settings.NOTIFICATION_STALE_SECONDS)
    stuck = Notification.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale_before)
    failed = stuck.filter(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS).update(
        status=DeliveryStatus.FAILED,
        last_error="The worker was lost during the last delivery attempt.",
    )
    redriven = stuck.update(status=DeliveryStatus.PENDING, next_attempt_at=F("claimed_at"))
    due_before = now - timedelta(seconds=settings.NOTIFICATION_DRAIN_GRACE_SECONDS)
    due = list(
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=due_before)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: settings.NOTIFICATION_DRAIN_BATCH]
    )
    counts = {"redriven": redriven, "failed": failed, "sent": 0, "retry": 0, "skipped": 0}
    for pk in due:
        result = notification_deliver(notification_id=pk)
        counts[result.status] = counts.get(result.status, 0) + 1
        if time.monotonic() - started > budget:
            break
    return counts


# --- The delivery task (Celery name kept: deals.tasks.notification_deliver) ------------------


def _notification_deliver_failure(notification_id: int, exc: BaseException) -> None:
    """Final-failure hook: an unexpected error left the row claimed; record the attempt so
    the row is retried with backoff or, after the last attempt, marked failed."""
    from deals.notifications.delivery import notification_attempt_failed

    notification_attempt_failed(
        notification_id=notification_id, error=f"{type(exc).__name__}: {exc}"[:2000]
    )


class _DeliverTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        notification_id = (args or [kwargs.get("notification_id")])[0]
        if notification_id is not None:
            try:
                _notification_deliver_failure(notification_id, exc)
            except Exception:  # the database may be what failed; the drain re-drives later
                logger.exception("Could not record the failure of notification %s", notification_id)


@shared_task(
    bind=True,
    base=_DeliverTask,
    name="deals.tasks.notification_deliver",
    acks_late=True,
    max_retries=None,  # the row's attempts counter (NOTIFICATION_MAX_ATTEMPTS) is the limit
)
def notification_deliver_task(self, notification_id: int) -> str:
    """Deliver one outbox row. Idempotent: the compare-and-set claim lets exactly one caller
    send; a duplicate message, a redelivery or a concurrent drain gets "skipped". A failed
    send is retried with exponential backoff and jitter until the row's attempts run out,
    after which the row is marked failed (the service decides; this only schedules)."""
    from deals.notifications.delivery import notification_deliver as deliver

    result = deliver(notification_id=notification_id)
    if result.status == "retry":
        # If publishing the retry fails (broker down) Celery rejects this message; harmless,
        # the drain picks the row up once its next_attempt_at has passed.
        raise self.retry(countdown=result.retry_in)
    return result.status


_publisher = Publisher(notification_deliver_task, "notification(s)")
