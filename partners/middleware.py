"""Middleware that needs partners' accounts: session lifetimes and the session registry, signing out deactivated users, each user's time zone, and MFA enrolment for managers."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone, translation

from prm.lib.time import valid_time_zone
from prm.middleware import path_is_api

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


class UserTimezoneMiddleware:
    """Pages show times in the signed-in user's time zone (User.time_zone, set on the
    preferences page); Django's template filters convert aware datetimes to it. UTC otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if getattr(user, "is_authenticated", False) else ""
        zone = valid_time_zone(name) if name else None
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class UserLanguageMiddleware:
    """Pages speak the signed-in user's saved language (User.language, set on the preferences
    page or with the language switcher). Runs after LocaleMiddleware, which has already chosen
    from the language cookie or Accept-Language; a saved choice overrides both (LocaleMiddleware
    then sends it as Content-Language). Token-authenticated API calls are signed in only inside
    the view, so they keep the cookie/Accept-Language choice."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        code = getattr(user, "language", "") if getattr(user, "is_authenticated", False) else ""
        if code and code in dict(settings.LANGUAGES):
            translation.activate(code)
            request.LANGUAGE_CODE = code
        return self.get_response(request)


# --- MFA enrolment ----------------------------------------------------------------------------

# Routes a manager without TOTP may still use: sign-in/out and MFA enrolment (/accounts/), the
# token and "who am I" API (to learn that enrolment is needed), health checks.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/v1/auth/", "/api/v1/me/")


class ManagerMfaMiddleware:
    """Managers, administrators (staff or superuser) and sales reps must enrol TOTP before using
    their pages or the API: 403 {"code": "mfa_required"} on /api/, a redirect to enrolment on pages."""

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
        if not getattr(user, "is_authenticated", False) or not (
            user.is_staff or user.is_superuser or getattr(user, "is_sales_rep", False)
        ):
            return False
        session = getattr(request, "session", None)
        if session is not None and session.get("prm_idp_mfa"):
            # Signed in through an identity provider that asserted a second factor (partners.sso).
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def _token_user(request):
    """The user of a live `Authorization: Token <key>` (None otherwise; DRF answers 401)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "token" or len(parts[1]) > 200:
        return None
    from partners.authentication import live_token_user, token_for_key

    return live_token_user(token_for_key(parts[1], request))


# --- Program terms -----------------------------------------------------------------------------

# Pages a partner user with terms pending may still open: the terms page itself, sign-in/out
# and account pages, the application page, static files, health checks and the admin. The API
# is not redirected: its registration create and submit answer 403 `terms_not_accepted`
# (deals.registrations.services), the rest of it keeps working.
TERMS_EXEMPT_PREFIXES = (
    "/terms/",
    "/accounts/",
    "/static/",
    "/healthz",
    "/apply/",
    "/admin/",
    "/api/",
)


class ProgramTermsMiddleware:
    """A partner user who has not accepted the partner program terms in force is sent to the
    terms page (then back) before any other portal page: the first admin accepts them on their
    first sign-in, everyone accepts each later version before registering deals. Nothing is
    asked while no version is published (partners.terms)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False) and not request.path.startswith(
            TERMS_EXEMPT_PREFIXES
        ):
            from partners.terms import terms_pending_version

            if terms_pending_version(user) is not None:
                from django.urls import reverse
                from django.utils.http import urlencode

                target = reverse("program_terms")
                if request.method == "GET":
                    target += "?" + urlencode({"next": request.get_full_path()})
                if getattr(request, "htmx", False):
                    from django.http import HttpResponse

                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target
                    return response
                return redirect(target)
        return self.get_response(request)
