"""Extension requests: a partner asks for more protection time, a manager decides."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import F

from deals import lifecycle
from deals.events import _registration_event
from deals.models import (
    DealRegistration,
    EventAction,
    ExtensionRequest,
    ExtensionStatus,
)
from deals.permissions import _require_manager, _require_partner_user
from deals.policy import max_extensions_for, policy_current
from deals.registrations.indexing import _index_registration
from deals.registrations.services import _locked
from deals.registrations.validation import _clean_note
from prm.exceptions import (
    InvalidTransition,
    StateConflict,
)
from prm.lib.time import timezone_now

# --- Extensions -------------------------------------------------------------------------------


def extension_request_create(
    *, registration: DealRegistration, actor, reason: str
) -> ExtensionRequest:
    """A partner asks to extend an approved registration's protection."""
    _require_partner_user(actor, registration.partner)
    reason = _clean_note(reason, "reason", required=True)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status != lifecycle.APPROVED:
            raise InvalidTransition("Only approved registrations can be extended.")
        limit = max_extensions_for(registration.partner, policy_current())
        if registration.extensions_used >= limit:
            raise StateConflict(
                f"This registration has used its {limit} extension(s).",
                code="max_extensions_reached",
            )
        if registration.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
            raise StateConflict("An extension request is already pending.")
        try:
            with transaction.atomic():
                request = ExtensionRequest.objects.create(
                    registration=registration, requested_by=actor, reason=reason
                )
        except IntegrityError:
            raise StateConflict("An extension request is already pending.") from None
        _registration_event(
            registration,
            actor,
            EventAction.EXTENSION_REQUESTED,
            from_status=registration.status,
            to_status=registration.status,
            details={"extension_request": request.pk, "reason": reason},
        )
    return request


def extension_request_decide(
    *, request: ExtensionRequest, actor, approve: bool, note: str = ""
) -> ExtensionRequest:
    """Approve (moves expires_at by the policy's extension length) or reject a request."""
    _require_manager(actor)
    note = _clean_note(note, "note")
    with transaction.atomic(durable=True):
        registration = _locked(request.registration)
        request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != ExtensionStatus.PENDING:
            raise StateConflict("This extension request has already been decided.")
        policy = policy_current()
        now = timezone_now()
        updates: dict[str, Any] = {"decided_by": actor, "decided_at": now, "decision_note": note}
        if approve:
            if registration.status != lifecycle.APPROVED:
                raise InvalidTransition("Only approved registrations can be extended.")
            limit = max_extensions_for(registration.partner, policy)
            # Approved registrations always have expires_at (a database constraint).
            expires_at = cast(dt.datetime, registration.expires_at)
            new_expiry = expires_at + dt.timedelta(days=policy.extension_days)
            changed = DealRegistration.objects.filter(
                pk=registration.pk, status=lifecycle.APPROVED, extensions_used__lt=limit
            ).update(
                expires_at=new_expiry,
                extensions_used=F("extensions_used") + 1,
                updated_at=now,
            )
            if not changed:
                raise StateConflict(f"This registration has used its {limit} extension(s).")
            updates.update(
                status=ExtensionStatus.APPROVED,
                previous_expires_at=registration.expires_at,
                new_expires_at=new_expiry,
            )
            registration.expires_at = new_expiry
            registration.extensions_used += 1
            _index_registration(registration, active=True)
        else:
            updates["status"] = ExtensionStatus.REJECTED
        ExtensionRequest.objects.filter(pk=request.pk, status=ExtensionStatus.PENDING).update(
            **updates
        )
        request.refresh_from_db()
        _registration_event(
            registration,
            actor,
            EventAction.EXTENSION_APPROVED if approve else EventAction.EXTENSION_REJECTED,
            from_status=registration.status,
            to_status=registration.status,
            details={
                "extension_request": request.pk,
                "note": note,
                "expires_at": cast(dt.datetime, registration.expires_at).isoformat(),
            },
            policy_version=policy.version,
        )
    return request
