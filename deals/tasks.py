"""Celery tasks: thin wrappers that take ids, call one service and return.

Every task here is idempotent (the services guard on state and claim with compare-and-set),
which is what makes `acks_late` (settings: CELERY_TASK_ACKS_LATE) safe: a message redelivered
after a worker crash, or a periodic job running twice at once, changes nothing twice.
Services are imported inside the task bodies so importing this module stays cheap; the
delivery task itself lives with the delivery service (deals/notifications/delivery.py), which
publishes it, and is re-exported here under its Celery name.
"""

from __future__ import annotations

from celery import shared_task

from deals.notifications.delivery import notification_deliver_task as notification_deliver

__all__ = ["notification_deliver"]


@shared_task(name="deals.tasks.notifications_drain", acks_late=True)
def notifications_drain() -> dict:
    """Periodic: deliver pending notifications and re-drive ones stuck in "sending".
    Idempotent and safe to overlap with itself (compare-and-set claims). Also re-drives the
    decline e-mails of partner applications (their applicants have no account, so they are
    claimed and marked on the application: partners.applications)."""
    from deals.notifications.delivery import notifications_drain as drain
    from partners.applications import application_notices_drain

    counts = drain()
    applications = application_notices_drain()
    if applications:
        counts["application_notices"] = applications
    return counts


@shared_task(name="deals.tasks.registrations_expire", acks_late=True)
def registrations_expire() -> int:
    """Periodic: expire approved registrations whose window has passed. Idempotent: each
    expiry is a compare-and-set on the status, so a second run expires nothing again."""
    from deals.registrations.sweeps import registrations_expire_due

    return registrations_expire_due()


@shared_task(name="deals.tasks.reminders_send", acks_late=True)
def reminders_send() -> int:
    """Periodic: expiry reminders. Idempotent: one REMINDER_DUE event per registration, days
    and expiry date, checked under the registration's row lock."""
    from deals.registrations.sweeps import reminders_send_due

    return reminders_send_due()


@shared_task(name="deals.tasks.sla_escalate", acks_late=True)
def sla_escalate() -> int:
    """Periodic: escalate reviews past their SLA. Idempotent: one SLA_BREACHED event per
    registration and due time, checked under the registration's row lock."""
    from deals.registrations.sweeps import sla_escalate_due

    return sla_escalate_due()


@shared_task(name="deals.tasks.report_cells_compact", acks_late=True)
def report_cells_compact() -> int:
    """Periodic: fold the report rollup's delta rows into one row per key. Idempotent and
    safe to run twice at once (each delta is folded by exactly one run)."""
    from deals.reports.rollup import report_cells_compact as compact

    return compact()
