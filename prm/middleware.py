"""Cross-cutting HTTP rules that need no app: security headers and refusing unstorable query
strings. Session lifetimes, signing out deactivated users and MFA enrolment need partners'
accounts and live in partners/middleware.py."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

# HTML pages: only our own origin, no inline script anywhere, no plugins, no <base>, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Swagger UI (/api/docs/, SpectacularSwaggerSplitView: its init script is a separate same-origin
# file, the bundle comes from the sidecar's static files). Its page has one inline <style> block,
# and Swagger UI sets style attributes: inline *styles* only are allowed there, never scripts.
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# Anything that is not HTML (JSON, CSV, JS): nothing may load from it and nobody may frame it.
CSP_NON_HTML = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def _is_authenticated_request(request, response) -> bool:
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return True
    if "HTTP_AUTHORIZATION" in request.META or request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return True
    # A response that sets (or clears) the session cookie is about a signed-in user too.
    return settings.SESSION_COOKIE_NAME in response.cookies


class SecurityHeadersMiddleware:
    """On every response that reaches Django views (static files are served before it by
    WhiteNoise, which with SecurityMiddleware still sends nosniff/HSTS/Referrer/COOP):
    CSP (strict on HTML), COOP, nosniff, Referrer-Policy, frame denial, Permissions-Policy, and
    `Cache-Control: no-store` on anything authenticated. Also the security-log backstop for
    429 responses that no limiter logged itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from prm.security_log import current_request

        token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        content_type = response.get("Content-Type", "")
        if request.path.startswith("/api/docs"):
            policy = CSP_DOCS if "text/html" in content_type else CSP_NON_HTML
        elif "text/html" in content_type:
            policy = CSP
        else:
            policy = CSP_NON_HTML
        response.setdefault("Content-Security-Policy", policy)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin")
        response.setdefault("X-Frame-Options", "DENY")
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if _is_authenticated_request(request, response):
            response["Cache-Control"] = "no-store"
            response.setdefault("Pragma", "no-cache")
        if response.status_code in (403, 429):
            _log_refusal(request, response.status_code)
        return response


def _log_refusal(request, status: int) -> None:
    """Backstop: a 403/429 that no view, limiter or handler logged still gives one record."""
    from prm.security_log import DENIAL_EVENTS, log_event, logged_events

    done = logged_events(request)
    if status == 429 and "rate_limited" not in done:
        log_event("rate_limited", request=request, outcome="blocked", limit="http_429")
    elif status == 403 and not (done & DENIAL_EVENTS):
        log_event("permission_denied", request=request, outcome="denied", reason="http_403")


def path_is_api(request) -> bool:
    return request.path.startswith("/api/")


def _unstorable(value: str) -> bool:
    """NUL and lone surrogates: no database stores them (PostgreSQL refuses NUL, the drivers
    refuse surrogates), so any filter built from them would end in a 500."""
    return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)


class RejectUnstorableQueryMiddleware:
    """A query string carrying characters no database can hold answers 400 before any view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for key, values in request.GET.lists():
            if _unstorable(key) or any(_unstorable(v) for v in values):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "code": "validation_error",
                            "detail": "Query parameters must not contain NUL characters.",
                            "fields": {key.replace("\x00", ""): ["Invalid characters."]},
                        },
                        status=400,
                    )
                from prm.views import bad_request

                return bad_request(
                    request,
                    detail="The address contains characters that cannot be searched for "
                    "(such as a NUL). Remove them and try again.",
                )
        return self.get_response(request)


# --- A busy database ----------------------------------------------------------------------------


class DatabaseBusyMiddleware:
    """A view that fails on a lock timeout ("database is locked" after SQLite's busy timeout,
    PostgreSQL lock_timeout / serialization failure) answers 503 with Retry-After, never 500.
    API views are answered by DRF's handler (prm.api.exception_handler); this covers pages,
    and prm.views.server_error covers failures outside views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from prm.lib.db_busy import is_database_busy

        if not is_database_busy(exception):
            return None
        import logging

        from prm.views import service_busy

        logging.getLogger("prm.db").warning("Database busy on %s: %s", request.path, exception)
        return service_busy(request)
