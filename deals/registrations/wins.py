"""Verifying a won registration (issue 19): the registration side of a verified win.

A partner's close as won waits for verification; it comes from a channel manager or from the
CRM's closed-won, whichever comes first. The first one sets `win_verified_at` (compare-and-set
on a null value, under the registration's row lock) and records one WIN_VERIFIED event; any
later one finds it set and is refused (`StateConflict` "already_verified", 409 in the API).

This is not a status change (the registration stays `won`), so it is not a lifecycle move.
It runs inside the caller's transaction: the rewards app (above deals) wraps it with the
accrual it creates, so a verification and its accrual commit or roll back together.
"""

from __future__ import annotations

from django.db import transaction

from deals import lifecycle
from deals.events import _registration_event
from deals.models import DealRegistration, EventAction
from deals.registrations.services import _locked
from prm.exceptions import InvalidTransition, StateConflict
from prm.lib.time import timezone_now

WIN_SOURCES = ("manager", "crm")


def registration_mark_win_verified(
    *, registration: DealRegistration, actor, source: str, details: dict | None = None
) -> DealRegistration:
    """Mark a `won` registration's win as verified, once. Must run inside a transaction (the
    caller's: rewards.services.win_verify). Returns the locked, updated registration.

    Raises InvalidTransition when the registration is not won, StateConflict
    (`already_verified`) when its win was verified before."""
    if source not in WIN_SOURCES:
        raise ValueError(f"unknown verification source {source!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("registration_mark_win_verified runs inside the caller's transaction")
    registration = _locked(registration)
    if registration.status != lifecycle.WON:
        raise InvalidTransition(
            "Only a registration closed as won can have its win verified "
            f"(this one is {registration.status.replace('_', ' ')})."
        )
    if registration.win_verified_at is not None:
        raise StateConflict("This win was already verified.", code="already_verified")
    now = timezone_now()
    # The row lock serialises verifiers on PostgreSQL (SQLite: the write lock at BEGIN); the
    # filter on a null win_verified_at is the compare-and-set that makes a second one fail.
    changed = DealRegistration.objects.filter(
        pk=registration.pk, status=lifecycle.WON, win_verified_at__isnull=True
    ).update(win_verified_at=now, updated_at=now)
    if changed != 1:
        raise StateConflict("This win was already verified.", code="already_verified")
    registration.win_verified_at = now
    registration.updated_at = now
    _registration_event(
        registration,
        actor,
        EventAction.WIN_VERIFIED,
        from_status=registration.status,
        to_status=registration.status,
        details={
            "source": source,
            "actual_value": str(registration.actual_value)
            if registration.actual_value is not None
            else None,
            "late": registration.win_late,
            **(details or {}),
        },
        policy_version=registration.benefit_policy_version,
    )
    return registration
