"""Cross-cutting HTTP rules: security headers, session lifetimes, refusing deactivated users
and suspended partners at once, and MFA enrolment for managers."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    """CSP on every HTML page, COOP everywhere, no-store on authenticated responses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if "text/html" in content_type and not request.path.startswith("/api/docs"):
            response.setdefault("Content-Security-Policy", CSP)
        elif request.path.startswith("/api/docs"):
            # Swagger UI (served from our own static files) needs inline styles only.
            response.setdefault(
                "Content-Security-Policy",
                CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
            )
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin")
        response.setdefault("X-Frame-Options", "DENY")
        user = getattr(request, "user", None)
        if (
            getattr(user, "is_authenticated", False)
            or "HTTP_AUTHORIZATION" in request.META
            or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        ):
            response["Cache-Control"] = "no-store"
        return response


class SessionLifetimeMiddleware:
    """Idle timeout and absolute lifetime for browser sessions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get("_auth_user_id"):
            now = time.time()
            started = session.get("prm_started_at")
            last_seen = session.get("prm_last_seen_at")
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_LIFETIME.total_seconds()
            if (started and now - started > absolute) or (last_seen and now - last_seen > idle):
                session.flush()
            else:
                if not started:
                    session["prm_started_at"] = now
                # Write at most once a minute so every request doesn't save the session.
                if not last_seen or now - last_seen > 60:
                    session["prm_last_seen_at"] = now
        return self.get_response(request)


class ActiveAccountMiddleware:
    """A deactivated user or a user of a suspended partner is signed out on the next request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False):
            membership = getattr(user, "membership", None) if hasattr(user, "membership") else None
            if not user.is_active or (
                membership is not None and membership.partner.status != "active"
            ):
                logout(request)
        return self.get_response(request)


MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/v1/auth/", "/api/v1/me/")


class ManagerMfaMiddleware:
    """Managers and administrators must enrol TOTP before using manager pages or the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(settings, "MFA_REQUIRED_FOR_MANAGERS", True) and self._needs_enrolment(request):
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
        path = request.path
        if path.startswith(MFA_EXEMPT_PREFIXES) or path == "/":
            return False
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False) or not (
            user.is_staff or user.is_superuser
        ):
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
