"""Comments, internal notes and logged sales activity on a registration."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.db import transaction

from deals import lifecycle
from deals.events import _registration_event
from deals.models import (
    ActivityEntry,
    ActivityKind,
    Attachment,
    Comment,
    DealRegistration,
    EventAction,
)
from deals.permissions import _require_partner_user
from deals.registrations.services import _locked
from deals.registrations.validation import _clean_note
from partners.roles import is_manager
from prm.exceptions import (
    InvalidTransition,
    PermissionDeniedError,
)
from prm.lib.ids import parse_id
from prm.lib.validation import (
    Errors,
    check_date,
    check_text,
    today,
)

# --- Comments and activity ----------------------------------------------------------------------


def comment_create(
    *, registration: DealRegistration, actor, body: str, internal: bool = False
) -> Comment:
    """Add a comment. Internal notes are for managers only and never reach partners."""
    manager = is_manager(actor)
    if not manager:
        _require_partner_user(actor, registration.partner)
        if internal:
            raise PermissionDeniedError("Only channel managers can write internal notes.")
    body = _clean_note(body, "body", required=True, limit=5000)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        comment = Comment.objects.create(
            registration=registration, author=actor, body=body, internal=bool(internal)
        )
        _registration_event(
            registration,
            actor,
            EventAction.INTERNAL_NOTE if internal else EventAction.COMMENTED,
            from_status=registration.status,
            to_status=registration.status,
            details={"comment": comment.pk},
            internal=bool(internal),
        )
    return comment


def activity_create(
    *,
    registration: DealRegistration,
    actor,
    kind: str,
    occurred_on,
    summary: str,
    attachment_id=None,
) -> ActivityEntry:
    """The partner records work on the deal (meeting, demo, proposal...), optionally pointing
    to one of the registration's attachments as its evidence."""
    _require_partner_user(actor, registration.partner)
    errors = Errors()
    if kind not in ActivityKind.values:
        errors.add("kind", f"Choose one of: {', '.join(ActivityKind.values)}.")
    day = check_date(errors, "occurred_on", occurred_on)
    if day and day > today() + dt.timedelta(days=1):
        errors.add("occurred_on", "The date cannot be in the future.")
    summary = check_text(errors, "summary", summary, 1000, required=True)
    attachment = None
    if attachment_id not in (None, ""):
        pk = parse_id(attachment_id)
        attachment = (
            Attachment.objects.filter(
                pk=pk, registration=registration, deleted_at__isnull=True
            ).first()
            if pk is not None
            else None
        )
        if attachment is None:
            errors.add("attachment", "Choose one of this registration's files.")
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status in lifecycle.TERMINAL_STATUSES:
            raise InvalidTransition("Activity can only be logged on open registrations.")
        entry = ActivityEntry.objects.create(
            registration=registration,
            author=actor,
            kind=kind,
            occurred_on=cast(dt.date, day),  # required: raise_if_any above refused a missing one
            summary=summary,
            attachment=attachment,
        )
        details: dict = {"activity": entry.pk, "kind": kind}
        if attachment is not None:
            details["attachment"] = attachment.pk
        _registration_event(
            registration,
            actor,
            EventAction.ACTIVITY_LOGGED,
            from_status=registration.status,
            to_status=registration.status,
            details=details,
        )
    return entry
