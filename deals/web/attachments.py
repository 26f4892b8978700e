"""Evidence on the pages: a partner attaches and removes files on their registration's page;
everyone who may see the registration downloads them here (never from a public URL).
Thin: access (404 outside the tenant) -> service (deals.registrations.attachments)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deals import access
from deals.registrations import selectors
from deals.registrations.attachments import (
    DELETE_STATUSES,
    attachment_delete,
    attachment_open,
    attachment_upload,
    max_bytes,
    upload_allowed,
)
from deals.web.common import domain_errors, partner_required
from prm.lib.downloads import file_download_response

EVIDENCE_ANCHOR = "#evidence"
# The multipart envelope around a file of the largest accepted size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def evidence_context(registration, *, partner: bool) -> dict:
    """What the Evidence section of a registration page shows (one query for the list)."""
    attachments = list(selectors.attachments_of(registration))
    return {
        "attachments": attachments,
        "can_attach": partner and upload_allowed(registration),
        "can_remove_attachments": partner and registration.status in DELETE_STATUSES,
    }


def activity_attachment_choices(form, attachments) -> None:
    """Offer the registration's files in the activity form's evidence select."""
    form.fields["attachment"].widget.choices = [("", "None")] + [
        (str(a.pk), a.name) for a in attachments
    ]


def _back(pk) -> str:
    return reverse("registration_detail", kwargs={"pk": pk}) + EVIDENCE_ANCHOR


@partner_required
@domain_errors(back="registration_detail")
@require_POST
def attachment_upload_page(request, pk):
    registration = access.access_registration_for_user(request.user, pk)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        length = 0
    if length > max_bytes() + MULTIPART_OVERHEAD_BYTES:
        # Refused by its declared length, before the body is read (so no form echo either).
        messages.error(request, "The file is larger than 10 MB: attach a file of 10 MB or less.")
        return redirect(_back(registration.pk))
    attachment = attachment_upload(
        registration=registration, actor=request.user, upload=request.FILES.get("file")
    )
    messages.success(request, f"{attachment.name} attached.")
    return redirect(_back(registration.pk))


@partner_required
@domain_errors()
@require_POST
def attachment_delete_page(request, pk):
    attachment = access.access_attachment_for_user(request.user, pk)
    registration_pk = attachment.registration_id

    @domain_errors(back="registration_detail")
    def remove(request, pk):
        attachment_delete(attachment=attachment, actor=request.user)
        messages.success(request, f"{attachment.name} removed.")
        return redirect(_back(pk))

    return remove(request, pk=registration_pk)


@login_required
@domain_errors()
@require_GET
def attachment_download_page(request, pk):
    attachment = access.access_attachment_for_user(request.user, pk)
    return file_download_response(
        attachment_open(attachment),
        name=attachment.name,
        content_type=attachment.content_type,
        size=attachment.size,
    )
