"""Error pages: JSON for the API, a plain page otherwise; never a traceback."""

import logging
import secrets
import sys

from django.http import JsonResponse
from django.shortcuts import render

from prm.lib.db_busy import BUSY_DETAIL, RETRY_AFTER_SECONDS, is_database_busy

logger = logging.getLogger("prm.errors")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None, *, detail: str = ""):
    if _is_api(request):
        return JsonResponse({"code": "bad_request", "detail": detail or "Bad request."}, status=400)
    return render(request, "errors/400.html", {"detail": detail}, status=400)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": "You do not have permission."}, status=403
        )
    return render(request, "errors/403.html", status=403)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "errors/404.html", status=404)


def service_busy(request):
    """503 + Retry-After: the database stayed locked past the busy timeout; nothing was done."""
    if _is_api(request):
        response = JsonResponse({"code": "service_busy", "detail": BUSY_DETAIL}, status=503)
    else:
        response = render(request, "errors/503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    # Called inside Django's exception handling: a lock timeout raised anywhere (a view, a
    # middleware saving the session) is a busy database, not a server error.
    if is_database_busy(sys.exc_info()[1]):
        return service_busy(request)
    # A reference the user can quote to support, logged with the error (Django's own
    # django.request log line carries the traceback; this one ties the two together).
    reference = secrets.token_hex(6).upper()
    logger.error("server error %s on %s %s", reference, request.method, request.path, exc_info=True)
    if _is_api(request):
        response = JsonResponse(
            {
                "code": "server_error",
                "detail": f"Something went wrong on our side (reference {reference}).",
            },
            status=500,
        )
    else:
        response = render(request, "errors/500.html", {"reference": reference}, status=500)
    response["X-Error-Reference"] = reference
    return response
