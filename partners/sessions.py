"""The session registry: which browser sessions belong to which user (partners.UserSession),
so ending a user's access deletes their sessions by key instead of decoding every session.

Written on login and removed on logout by partners.middleware's signal receivers; used by
partners.services.user_revoke_access (password change, deactivation, partner suspension).
Defence in depth: Django already rejects a session after a password change (session auth hash)
and for an inactive user, and partners.middleware.ActiveAccountMiddleware signs out users of a
suspended partner; the registry makes the sessions disappear from the store as well.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings

from partners.models import UserSession
from prm.lib.time import timezone_now


def session_register(user, session_key: str) -> None:
    # Old rows of this user (sessions past their absolute lifetime) are pruned on the way.
    cutoff = timezone_now() - settings.SESSION_ABSOLUTE_LIFETIME - timedelta(days=1)
    UserSession.objects.filter(user=user, created_at__lt=cutoff).delete()
    UserSession.objects.update_or_create(session_key=session_key, defaults={"user": user})


def session_forget(session_key: str) -> None:
    UserSession.objects.filter(session_key=session_key).delete()


def sessions_end_for_user(user, *, keep_session_key: str | None = None) -> int:
    """End every registered session of `user` except `keep_session_key`; returns how many.
    Deletes through the configured SESSION_ENGINE, so it works with db, cache or signed stores."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(
        UserSession.objects.filter(user=user)
        .exclude(session_key=keep_session_key or "")
        .values_list("session_key", flat=True)
    )
    for key in keys:
        store_class().delete(key)
    UserSession.objects.filter(user=user, session_key__in=keys).delete()
    return len(keys)
