"""GET /manage/registrations/<id>/audit.json and /audit.csv: a registration's event chain
with its verification result, for managers (dispute evidence). Read-only: events cannot be
changed through any route (they are append-only in the ORM and the database)."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from deals import events as audit
from deals.access import access_registration_for_user
from partners.roles import is_manager
from prm.exceptions import NotFound
from prm.security_log import log_event


def _manager_export(view):
    @functools.wraps(view)
    @require_GET
    @login_required
    def wrapper(request, pk):
        if not is_manager(request.user):
            raise PermissionDenied("Only channel managers can export audit trails.")
        try:
            registration = access_registration_for_user(request.user, pk)
        except NotFound:
            raise Http404() from None
        data = audit.registration_audit(registration)
        log_event(
            "audit_export",
            request=request,
            outcome="allowed",
            object_id=registration.pk,
            format=view.__name__.rsplit("_", 1)[-1],
            verified=data["verification"]["verified"],
        )
        return view(request, registration, data)

    return wrapper


def _filename(registration, extension: str) -> str:
    name = registration.reference or f"registration-{registration.pk}"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return f"{safe}-audit.{extension}"


@_manager_export
def audit_export_json(request, registration, data):
    response = HttpResponse(audit.audit_json(data), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_filename(registration, "json")}"'
    return response


@_manager_export
def audit_export_csv(request, registration, data):
    response = HttpResponse(audit.audit_csv(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(registration, "csv")}"'
    return response
