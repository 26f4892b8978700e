"""Periodic sweeps over registrations (run by deals.tasks): expiry, expiry reminders and SLA escalation.

Reminders and SLA escalations are events too (REMINDER_DUE, SLA_BREACHED), recorded once per
registration and key under the registration's row lock, so notifications always come from
events and running a sweep twice (or twice at once) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from django.db import transaction

from deals.models import (
    DealRegistration,
    EventAction,
    RegistrationEvent,
)
from deals.policy import policy_current
from deals.registrations.services import registration_expire
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now


@system_context("expiry sweep")
def registrations_expire_due(*, now=None) -> int:
    """Expire every approved registration whose expires_at has passed (the periodic sweep)."""
    now = now or timezone_now()
    due = DealRegistration.objects.expiring_before(now).order_by("pk").values_list("pk", flat=True)
    expired = 0
    for pk in list(due):
        if registration_expire(registration=DealRegistration(pk=pk), now=now):
            expired += 1
    return expired


# --- Reminders and SLA escalation (periodic sweeps) ---------------------------------------------


def _record_once(
    registration_id: int, action: str, key: str, details: dict, internal: bool
) -> bool:
    """Record `action` for the registration unless an event with the same key exists.

    The registration row lock (PostgreSQL) or SQLite's BEGIN IMMEDIATE serialises two sweeps,
    so the existence check and the insert cannot interleave; the notification dedupe keys are
    the backstop."""
    from deals.events import event_record

    with transaction.atomic():
        registration = DealRegistration.objects.select_for_update().get(pk=registration_id)
        existing = RegistrationEvent.objects.filter(
            registration_id=registration_id, action=action
        ).values_list("details", flat=True)
        if any((d or {}).get("key") == key for d in existing):
            return False
        event_record(
            chain=f"r:{registration.pk}",
            registration=registration,
            actor=None,
            action=action,
            from_status=registration.status,
            to_status=registration.status,
            details={**details, "key": key},
            internal=internal,
        )
    return True


@system_context("expiry reminder sweep")
def reminders_send_due(*, now=None) -> int:
    """Expiry reminders at the policy's reminder_days before expires_at (default 14 and 3).

    Each (registration, days, expiry date) is reminded once; an extension moves the expiry
    date and so starts a new set. When several thresholds are due at once (the job was down)
    only the nearest is sent. A threshold not shorter than the whole window is skipped (a
    14-day reminder for a 10-day protection would arrive at approval)."""

    now = now or timezone_now()
    days_list = sorted({int(d) for d in (policy_current().reminder_days or []) if int(d) > 0})
    if not days_list:
        return 0
    horizon = now + timedelta(days=max(days_list))
    # expires_at is filtered on, so never None here.
    candidates = cast(
        "Iterable[tuple[int, datetime | None, datetime]]",
        DealRegistration.objects.filter(
            status="approved", expires_at__gt=now, expires_at__lte=horizon
        )
        .order_by("pk")
        .values_list("pk", "approved_at", "expires_at"),
    )
    sent = 0
    for pk, approved_at, expires_at in candidates:
        remaining = expires_at - now
        due = [
            d
            for d in days_list
            if remaining <= timedelta(days=d)
            and (approved_at is None or expires_at - approved_at > timedelta(days=d))
        ]
        if not due:
            continue
        days = min(due)
        key = f"reminder:{pk}:{days}:{expires_at.date().isoformat()}"
        details = {"days": days, "expires_at": expires_at.isoformat()}
        if _record_once(pk, EventAction.REMINDER_DUE, key, details, internal=False):
            sent += 1
    return sent


@system_context("SLA escalation sweep")
def sla_escalate_due(*, now=None) -> int:
    """Escalate submitted registrations past their review SLA, once per breach.

    sla_due_at is computed at submission in business days (weekends and the policy's holidays
    skipped); an information request stops the clock and a resubmission sets a new due time,
    hence a new breach key."""
    now = now or timezone_now()
    overdue = cast(
        "Iterable[tuple[int, datetime, int, int]]",  # sla_due_at is filtered on: never None
        DealRegistration.objects.filter(
            status="submitted", sla_due_at__isnull=False, sla_due_at__lte=now
        )
        .order_by("pk")
        .values_list("pk", "sla_due_at", "approval_step", "approval_steps"),
    )
    escalated = 0
    for pk, sla_due_at, step, steps in overdue:
        # Each approval step has its own due time (deals.registrations.routing), hence its
        # own breach key: step 2 breaching after step 1 did is escalated again.
        key = f"sla:{pk}:{sla_due_at.isoformat()}"
        details = {"sla_due_at": sla_due_at.isoformat(), "step": step, "steps": steps}
        if _record_once(pk, EventAction.SLA_BREACHED, key, details, internal=True):
            escalated += 1
    return escalated
