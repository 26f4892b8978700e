"""Audiences and the links a notification carries."""

from __future__ import annotations

from django.conf import settings

PARTNER = "partner"
MANAGER = "manager"
REP = "rep"


# --- Paths ------------------------------------------------------------------------------------


def registration_path(registration_id: int, audience: str) -> str:
    """The page a recipient opens: the portal for partners, the rep workspace for sales reps,
    the manager pages for other staff."""
    if audience == PARTNER:
        return f"/registrations/{registration_id}/"
    if audience == REP:
        return f"/rep/registrations/{registration_id}/"
    return f"/manage/registrations/{registration_id}/"


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}" if path.startswith("/") else path


def _invitation_link(user) -> str:
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from django.urls import reverse

    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    return absolute_url(path)
