"""Attachments as evidence (issue 17 §2): a partner's files on its registration.

- Who: users of the registration's partner upload and remove; managers, sales reps (on the
  registrations they may see) and integrations with `registrations:read` only list and
  download (the API and the pages refuse their writes before the service is reached; the
  service refuses them too).
- When: upload while the registration is open (draft, submitted, info requested, approved);
  removal while it is open to the partner's edits (draft, info requested), so the evidence a
  manager decides on cannot change under review. Otherwise 409 `invalid_transition`.
- What: at most ATTACHMENT_MAX_BYTES (10 MB) per file, ATTACHMENT_MAX_PER_REGISTRATION (20)
  live files per registration (409 `attachment_limit`); the type is sniffed from the content
  (prm.lib.uploads), never taken from the name or the browser; anything else is 400
  `unsupported_file`. The stored name is sanitised; the storage key is ours alone
  (`attachments/<registration id>/<random>`), so a name never reaches the storage.
- Evidence: each upload and removal is one event in the registration's hash chain carrying the
  file's SHA-256, so the audit export proves what evidence existed when a decision was made.
  A removed attachment keeps its row (deleted_at, deleted_by) and loses its bytes after commit.
- The bytes are never logged: errors name the file and the rule, nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction

from deals import lifecycle
from deals.events import _registration_event
from deals.models import Attachment, DealRegistration, EventAction, attachments_storage
from deals.permissions import _require_partner_user
from deals.registrations.services import _locked
from prm.exceptions import (
    InvalidTransition,
    NotFound,
    StateConflict,
    UnsupportedFile,
    ValidationFailed,
)
from prm.lib.time import timezone_now
from prm.lib.uploads import ACCEPTED_LABELS, safe_file_name, sniff_content_type

logger = logging.getLogger("deals.attachments")

UPLOAD_STATUSES = lifecycle.OPEN_STATUSES
DELETE_STATUSES = lifecycle.EDITABLE_STATUSES


def upload_allowed(registration: DealRegistration) -> bool:
    """Open registrations take evidence; so does a won one until its win is verified (the
    customer's purchase order behind the reported win, issue 19)."""
    if registration.status in UPLOAD_STATUSES:
        return True
    return registration.status == lifecycle.WON and registration.win_verified_at is None


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def max_per_registration() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_PER_REGISTRATION", 20))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _too_large() -> UnsupportedFile:
    limit = _megabytes(max_bytes())
    return UnsupportedFile(
        f"The file is larger than {limit}.", fields={"file": [f"Attach a file of {limit} or less."]}
    )


def _checked_file(upload) -> dict[str, Any]:
    """Name, size, sniffed type and SHA-256 of an upload, or the 400 that refuses it."""
    if upload is None or not hasattr(upload, "chunks"):
        raise ValidationFailed("Choose a file to attach.", fields={"file": ["No file was sent."]})
    limit = max_bytes()
    if (upload.size or 0) > limit:
        raise _too_large()
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        size += len(chunk)
        if size > limit:
            raise _too_large()
        digest.update(chunk)
    if size == 0:
        raise UnsupportedFile("The file is empty.", fields={"file": ["The file is empty."]})
    raw_name = str(getattr(upload, "name", "") or "")
    content_type = sniff_content_type(upload, raw_name)
    if content_type is None:
        raise UnsupportedFile(
            f"Attach a {ACCEPTED_LABELS} file: this file's content is none of these.",
            fields={"file": [f"Only {ACCEPTED_LABELS} files can be attached."]},
        )
    return {
        "name": safe_file_name(raw_name, content_type),
        "size": size,
        "content_type": content_type,
        "sha256": digest.hexdigest(),
    }


def _require_open(registration: DealRegistration) -> None:
    if not upload_allowed(registration):
        raise InvalidTransition(
            "Files can only be attached while the registration is open (draft, submitted, "
            "awaiting information or approved) or won and not yet verified."
        )


def _require_room(registration: DealRegistration) -> None:
    limit = max_per_registration()
    live = Attachment.objects.filter(registration=registration, deleted_at__isnull=True).count()
    if live >= limit:
        raise StateConflict(
            f"A registration holds at most {limit} files; remove one before attaching another.",
            code="attachment_limit",
        )


def _storage_key(registration: DealRegistration) -> str:
    return f"attachments/{registration.pk}/{secrets.token_hex(16)}"


def attachment_upload(*, registration: DealRegistration, actor, upload) -> Attachment:
    """A partner user attaches `upload` (a Django UploadedFile) to their registration.

    The bytes are checked and hashed first, stored, then the row and its event are written in
    one transaction under the registration's row lock (which also makes the per-registration
    limit exact); if that transaction fails the stored bytes are removed again."""
    _require_partner_user(actor, registration.partner)
    facts = _checked_file(upload)
    _require_open(registration)
    storage = attachments_storage()
    upload.seek(0)
    key = storage.save(_storage_key(registration), upload)
    try:
        with transaction.atomic(durable=True):
            registration = _locked(registration)
            _require_open(registration)
            _require_room(registration)
            attachment = Attachment.objects.create(
                registration=registration, uploaded_by=actor, storage_key=key, **facts
            )
            _registration_event(
                registration,
                actor,
                EventAction.ATTACHMENT_ADDED,
                from_status=registration.status,
                to_status=registration.status,
                details={"attachment": attachment.pk, **facts},
            )
    except BaseException:
        storage.delete(key)
        raise
    logger.info(
        "attachment %s stored for registration %s (%s, %s bytes)",
        attachment.pk,
        registration.pk,
        facts["content_type"],
        facts["size"],
    )
    return attachment


def _delete_bytes(key: str) -> None:
    try:
        attachments_storage().delete(key)
    except Exception:  # the row already says "removed"; a leftover object is only storage
        logger.warning("could not remove the bytes of a removed attachment (%s)", key)


def attachment_delete(*, attachment: Attachment, actor) -> Attachment:
    """A user of the registration's partner removes an attachment while the registration is
    open to their edits. The row stays (deleted_at, deleted_by) and the event keeps the hash;
    the bytes are removed after commit."""
    registration = attachment.registration
    _require_partner_user(actor, registration.partner)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status not in DELETE_STATUSES:
            raise InvalidTransition(
                "Files can only be removed while the registration is a draft or awaiting "
                "your information."
            )
        now = timezone_now()
        changed = Attachment.objects.filter(
            pk=attachment.pk, registration=registration, deleted_at__isnull=True
        ).update(deleted_at=now, deleted_by=actor)
        if changed != 1:
            raise NotFound()
        _registration_event(
            registration,
            actor,
            EventAction.ATTACHMENT_DELETED,
            from_status=registration.status,
            to_status=registration.status,
            details={
                "attachment": attachment.pk,
                "name": attachment.name,
                "sha256": attachment.sha256,
            },
        )
        stored = attachment.storage_key
        transaction.on_commit(lambda: _delete_bytes(stored))
    attachment.deleted_at = now
    attachment.deleted_by = actor
    return attachment


def attachment_open(attachment: Attachment):
    """The stored bytes, opened for reading (the caller streams and closes them). Bytes that
    are gone from the storage answer like a missing attachment (and are logged)."""
    try:
        return attachments_storage().open(attachment.storage_key, "rb")
    except FileNotFoundError:
        logger.error("the bytes of attachment %s are missing from the storage", attachment.pk)
        raise NotFound() from None
