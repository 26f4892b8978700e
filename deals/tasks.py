"""Celery tasks: thin wrappers that take ids, call one service and return.

Every task here is idempotent (the services guard on state and claim with compare-and-set),
which is what makes `acks_late` (settings: CELERY_TASK_ACKS_LATE) safe: a message redelivered
after a worker crash, or a periodic job running twice at once, changes nothing twice.
Services are imported inside the task bodies so importing this module stays cheap.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task

logger = logging.getLogger("prm.notifications")


def _notification_deliver_failure(notification_id: int, exc: BaseException) -> None:
    """Final-failure hook: an unexpected error left the row claimed; record the attempt so
    the row is retried with backoff or, after the last attempt, marked failed."""
    from deals.notifications import notification_attempt_failed

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
def notification_deliver(self, notification_id: int) -> str:
    """Deliver one outbox row. Idempotent: the compare-and-set claim lets exactly one caller
    send; a duplicate message, a redelivery or a concurrent drain gets "skipped". A failed
    send is retried with exponential backoff and jitter until the row's attempts run out,
    after which the row is marked failed (the service decides; this only schedules)."""
    from deals.notifications import notification_deliver as deliver

    result = deliver(notification_id=notification_id)
    if result.status == "retry":
        # If publishing the retry fails (broker down) Celery rejects this message; harmless,
        # the drain picks the row up once its next_attempt_at has passed.
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(name="deals.tasks.notifications_drain", acks_late=True)
def notifications_drain() -> dict:
    """Periodic: deliver pending notifications and re-drive ones stuck in "sending".
    Idempotent and safe to overlap with itself (compare-and-set claims)."""
    from deals.notifications import notifications_drain as drain

    return drain()


@shared_task(name="deals.tasks.registrations_expire", acks_late=True)
def registrations_expire() -> int:
    """Periodic: expire approved registrations whose window has passed. Idempotent: each
    expiry is a compare-and-set on the status, so a second run expires nothing again."""
    from deals.services import registrations_expire_due

    return registrations_expire_due()


@shared_task(name="deals.tasks.reminders_send", acks_late=True)
def reminders_send() -> int:
    """Periodic: expiry reminders. Idempotent: one REMINDER_DUE event per registration, days
    and expiry date, checked under the registration's row lock."""
    from deals.notifications import reminders_send_due

    return reminders_send_due()


@shared_task(name="deals.tasks.sla_escalate", acks_late=True)
def sla_escalate() -> int:
    """Periodic: escalate reviews past their SLA. Idempotent: one SLA_BREACHED event per
    registration and due time, checked under the registration's row lock."""
    from deals.notifications import sla_escalate_due

    return sla_escalate_due()


@shared_task(name="deals.tasks.report_cells_compact", acks_late=True)
def report_cells_compact() -> int:
    """Periodic: fold the report rollup's delta rows into one row per key. Idempotent and
    safe to run twice at once (each delta is folded by exactly one run)."""
    from deals.rollup import report_cells_compact as compact

    return compact()
