"""The security log: one structured JSON record per security-relevant event on logger
"prm.security" (ASVS 7.1/7.2, docs/reliability.md AUD-04).

Events: login_failed, mfa_failed, rate_limited, csrf_failed, not_found_foreign (a cross-tenant
404), permission_denied. Each record carries who (user id + e-mail), partner, route (the URL
pattern, never the raw path: reset keys live in paths), object id, outcome and UTC time.

Never logged: passwords, tokens, TOTP/recovery codes, session ids, cookies, headers. Values from
user input are JSON-encoded with ensure_ascii, so CR/LF and every control character arrive
escaped and a record is always one line.

Call `log_event(...)` from anywhere (prm.ratelimit does, for its 429s). Signal receivers below
are connected by prm.apps.PrmConfig.ready (listed in INSTALLED_APPS).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re

from django.http import JsonResponse
from django.shortcuts import render

from prm.lib.tenancy import system_context

logger = logging.getLogger("prm.security")

# The request being served (set by prm.middleware.SecurityHeadersMiddleware), so code without a
# request at hand (deals.access) still logs who and which route.
current_request: contextvars.ContextVar = contextvars.ContextVar(
    "prm_current_request", default=None
)

# Keys in `extra` whose values are never written, whatever the caller passes.
_SECRET_KEY_RE = re.compile(
    r"pass|token|secret|code|otp|session|cookie|key|authorization|credential|csrf", re.I
)
_MAX_VALUE = 300
# The events already logged for a request (on the underlying HttpRequest): the 403/429
# backstop in SecurityHeadersMiddleware only logs a refusal that nothing logged yet, so each
# refusal gives exactly one record.
LOGGED_ATTR = "_prm_security_events"
DENIAL_EVENTS = frozenset(
    {"permission_denied", "csrf_failed", "mfa_enrolment_required", "not_found_foreign"}
)


def logged_events(request) -> set:
    base = getattr(request, "_request", request)  # DRF Request wraps the HttpRequest
    return getattr(base, LOGGED_ATTR, set()) if base is not None else set()


def _clip(value):
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


def _route_of(request) -> str | None:
    """The matched URL pattern ('api/v1/registrations/<id:pk>/'); the raw path only when nothing
    matched, with reset/confirmation keys cut off."""
    if request is None:
        return None
    match = getattr(request, "resolver_match", None)
    if match is not None and getattr(match, "route", None):
        return "/" + match.route.lstrip("/")
    path = getattr(request, "path", "") or ""
    path = re.sub(r"/(key|confirm-email|code)/.*$", r"/\1/…", path)
    return _clip(path)


def _who(user) -> tuple[int | None, str | None, int | None]:
    if user is None or not getattr(user, "is_authenticated", False):
        return None, None, None
    partner_id = None
    try:
        membership = user.membership
        partner_id = membership.partner_id
    except Exception:  # noqa: S110 - users without a membership (managers)
        pass
    return user.pk, _clip(getattr(user, "email", None)), partner_id


def _session_user(request):
    """The signed-in user of the session when request.user is not (yet) set: DRF refuses a CSRF
    failure while authenticating, before it sets the user."""
    base = getattr(request, "_request", request)
    session = getattr(base, "session", None)
    try:
        user_id = session.get("_auth_user_id") if session is not None else None
        if not user_id:
            return None
        from django.contrib.auth import get_user_model

        return get_user_model()._default_manager.filter(pk=user_id).first()
    except Exception:
        return None


def _client_ip(request) -> str | None:
    if request is None:
        return None
    try:
        from allauth.account.adapter import get_adapter

        return get_adapter().get_client_ip(request)
    except Exception:
        return request.META.get("REMOTE_ADDR")


def log_event(
    event: str,
    *,
    request=None,
    user=None,
    outcome: str = "denied",
    object_id=None,
    partner_id=None,
    route: str | None = None,
    **extra,
) -> dict:
    """Write one JSON record on "prm.security" and return it (tests read it back).

    `user` defaults to request.user; `extra` holds event-specific context (for example
    `attempted_email`, `limit`, `model`). Keys that look like secrets are dropped.
    """
    if request is None:
        request = current_request.get()
    if user is None and request is not None:
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False):
            user = _session_user(request) or user
    user_id, email, user_partner_id = _who(user)
    record = {
        "event": event,
        "outcome": outcome,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_id": user_id,
        "user": email,
        "partner_id": partner_id if partner_id is not None else user_partner_id,
        "route": _clip(route) if route is not None else _route_of(request),
        "method": getattr(request, "method", None),
        "object_id": _clip(object_id),
        "ip": _clip(_client_ip(request)),
    }
    for key, value in extra.items():
        if _SECRET_KEY_RE.search(key):
            continue
        record[key] = _clip(value)
    if request is not None:
        base = getattr(request, "_request", request)
        try:
            setattr(base, LOGGED_ATTR, logged_events(base) | {event})
        except AttributeError:  # noqa: S110 - an object that takes no attributes
            pass
    logger.warning(json.dumps(record, ensure_ascii=True, sort_keys=False, default=str))
    return record


def log_foreign_not_found(queryset, pk) -> None:
    """Called by deals.access when a scoped fetch found nothing: if the object exists outside
    the caller's scope, record a cross-tenant 404. Never raises: the caller answers 404 anyway,
    byte-identical for foreign and missing ids."""
    try:
        model = queryset.model
        # A deliberate cross-tenant read: only "exists" leaves it, into the security log.
        with system_context("cross-tenant 404 probe"):
            exists = model._base_manager.filter(pk=pk).exists()
        if exists:
            log_event(
                "not_found_foreign",
                outcome="denied",
                object_id=pk,
                model=model._meta.label_lower,
            )
    except Exception:  # noqa: S110 - logging must not change the response
        logging.getLogger("prm.api").warning("security log: foreign-404 probe failed")


# --- Signal receivers -----------------------------------------------------------------------------


def on_user_login_failed(sender, credentials=None, request=None, **kwargs):
    """Django's user_login_failed: every failed authenticate() (allauth forms, the token
    endpoint, the admin through allauth). Only the login identifier is kept."""
    credentials = credentials or {}
    attempted = credentials.get("email") or credentials.get("username") or ""
    log_event(
        "login_failed",
        request=request,
        user=None,
        outcome="denied",
        attempted_email=str(attempted).lower()[:254],
    )


def on_mfa_failed(sender, request=None, user=None, authenticator=None, **kwargs):
    log_event(
        "mfa_failed",
        request=request,
        user=user,
        outcome="denied",
        authenticator_type=getattr(authenticator, "type", None),
        reauthentication=bool(kwargs.get("reauthentication")),
    )


# --- allauth adapter: rate-limit hits that surface as form errors -----------------------------------


def _account_adapter_base():
    from django.utils.module_loading import import_string

    return import_string("partners.adapters.AccountAdapter")


class SecurityAccountAdapter(_account_adapter_base()):
    """partners.adapters.AccountAdapter plus a log record when allauth refuses a login (or an
    MFA code) because of its rate limit: those refusals are form errors, not 429 responses."""

    def validation_error(self, code, *args, **kwargs):
        if code == "too_many_login_attempts":
            from allauth.core import context

            request = getattr(context, "request", None)
            log_event(
                "rate_limited",
                request=request,
                outcome="blocked",
                limit="allauth:login_failed",
            )
        return super().validation_error(code, *args, **kwargs)


# --- CSRF failure view ----------------------------------------------------------------------------


def csrf_failure(request, reason=""):
    """settings.CSRF_FAILURE_VIEW: log, then JSON 403 on the API and a page elsewhere."""
    log_event("csrf_failed", request=request, outcome="denied", reason=_clip(reason))
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "csrf_failed", "detail": "CSRF verification failed. Reload and try again."},
            status=403,
        )
    return render(
        request,
        "errors/403.html",
        {"reason": "Your form expired or was sent from another site. Reload and try again."},
        status=403,
    )
