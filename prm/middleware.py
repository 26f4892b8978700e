"""Cross-cutting HTTP rules: security headers, session lifetimes (and the session registry),
refusing deactivated users and suspended partners at once, and MFA enrolment for managers."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect

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


# --- Sessions ---------------------------------------------------------------------------------

STARTED_KEY = "prm_started_at"
LAST_SEEN_KEY = "prm_last_seen_at"


class SessionLifetimeMiddleware:
    """Idle timeout (SESSION_IDLE_TIMEOUT, 30 min) and absolute lifetime
    (SESSION_ABSOLUTE_LIFETIME, 12 h) for browser sessions, both counted from the server clock
    (the cookie's own expiry is only the browser's side)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get("_auth_user_id"):
            now = time.time()
            started = session.get(STARTED_KEY)
            last_seen = session.get(LAST_SEEN_KEY)
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_LIFETIME.total_seconds()
            if (started and now - started > absolute) or (last_seen and now - last_seen > idle):
                _forget_session_key(session.session_key)
                session.flush()
            else:
                if not started:
                    session[STARTED_KEY] = now
                # Written at most once a minute, so not every request saves the session; the
                # idle limit is therefore exact to within a minute.
                if not last_seen or now - last_seen > 60:
                    session[LAST_SEEN_KEY] = now
        key_before = getattr(session, "session_key", None)
        response = self.get_response(request)
        # The key changed under a signed-in user without a login (update_session_auth_hash
        # after a password change cycles it): keep the session registry pointing at it.
        key_after = getattr(session, "session_key", None)
        user = getattr(request, "user", None)
        if key_after and key_after != key_before and getattr(user, "is_authenticated", False):
            from partners.sessions import session_forget, session_register

            if key_before:
                session_forget(key_before)
            session_register(user, key_after)
        return response


def on_user_logged_in(sender, request=None, user=None, **kwargs):
    """user_logged_in: start the lifetime clocks and record the session in the registry (so
    user_revoke_access can end it by key). Django has already cycled the session key."""
    session = getattr(request, "session", None)
    if session is None or user is None:
        return
    now = time.time()
    session[STARTED_KEY] = now
    session[LAST_SEEN_KEY] = now
    if session.session_key is None:
        session.save()
    from partners.sessions import session_register

    session_register(user, session.session_key)


def on_user_logged_out(sender, request=None, user=None, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        _forget_session_key(session.session_key)


def _forget_session_key(session_key) -> None:
    if session_key:
        from partners.sessions import session_forget

        session_forget(session_key)


# --- Accounts ---------------------------------------------------------------------------------


class ActiveAccountMiddleware:
    """A deactivated user, or a user of a suspended partner, is signed out on the next request
    (0 grace requests). Token requests are refused by HashedTokenAuthentication the same way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False):
            from partners.roles import membership_of

            membership = membership_of(user)
            if not user.is_active or (
                membership is not None and membership.partner.status != "active"
            ):
                logout(request)
        return self.get_response(request)


# --- MFA enrolment ----------------------------------------------------------------------------

# Routes a manager without TOTP may still use: sign-in/out and MFA enrolment (/accounts/), the
# token and "who am I" API (to learn that enrolment is needed), health checks.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/v1/auth/", "/api/v1/me/")


class ManagerMfaMiddleware:
    """Managers and administrators (staff or superuser) must enrol TOTP before using manager
    pages or the API: 403 {"code": "mfa_required"} on /api/, a redirect to enrolment on pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(settings, "MFA_REQUIRED_FOR_MANAGERS", True) and self._needs_enrolment(request):
            from prm.security_log import log_event

            log_event(
                "mfa_enrolment_required",
                request=request,
                user=getattr(request, "_prm_mfa_user", None),
                outcome="denied" if request.path.startswith("/api/") else "redirected",
            )
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "mfa_required",
                        "detail": "Enrol two-factor authentication before using manager routes.",
                    },
                    status=403,
                )
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _needs_enrolment(request) -> bool:
        if request.path.startswith(MFA_EXEMPT_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False) and path_is_api(request):
            # Token requests are authenticated later, by DRF: look the token's user up here so
            # a manager cannot skip enrolment by using a token instead of a session.
            user = _token_user(request)
            request._prm_mfa_user = user
        if not getattr(user, "is_authenticated", False) or not (user.is_staff or user.is_superuser):
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def path_is_api(request) -> bool:
    return request.path.startswith("/api/")


def _token_user(request):
    """The user of a live `Authorization: Token <key>` (None otherwise; DRF answers 401)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "token" or len(parts[1]) > 200:
        return None
    from partners.authentication import live_token_user, token_for_key

    return live_token_user(token_for_key(parts[1], request))


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
                from django.http import HttpResponseBadRequest

                return HttpResponseBadRequest("Query parameters must not contain NUL characters.")
        return self.get_response(request)
