"""Access ends when the password changes or the account is deactivated (AUTH-06).

- allauth's password_changed / password_set / password_reset: every other session of the user
  ends and every API token is revoked (the session that made the change is kept).
- Any other path that changes a password or deactivates a user (the Django admin, a shell,
  `manage.py changepassword`) saves the user: post_save revokes the tokens. Django already
  rejects the user's other sessions after a password change (session auth hash) and for an
  inactive user, so only the tokens need revoking there.

A password *change* is told apart from a hash upgrade on login: AbstractBaseUser.save() keeps
the new raw password in `_password` until after post_save, while check_password's upgrade
clears it before saving.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.utils import timezone


def _session_key(request) -> str | None:
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None)


def on_password_event(sender, request=None, user=None, **kwargs) -> None:
    from partners.services import user_revoke_access

    if user is not None and user.pk:
        user_revoke_access(user=user, keep_session_key=_session_key(request))


def on_user_saved(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    if created or instance.pk is None:
        return
    password_changed = getattr(instance, "_password", None) is not None
    if password_changed or not instance.is_active:
        from partners.models import ApiToken

        ApiToken.objects.filter(user_id=instance.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


def connect() -> None:
    from allauth.account import signals as account_signals
    from django.contrib.auth import get_user_model

    for name in ("password_changed", "password_set", "password_reset"):
        getattr(account_signals, name).connect(
            on_password_event, dispatch_uid=f"partners_revoke_on_{name}"
        )
    post_save.connect(
        on_user_saved, sender=get_user_model(), dispatch_uid="partners_revoke_tokens_on_save"
    )
