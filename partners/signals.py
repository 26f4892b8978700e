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

Cached token lookups (partners.authentication) carry the user, membership and partner: every
save of a user (but a login's last_login), of a membership or of a partner (partner_update
included), and the deletion of a token or a membership forget them here, which also covers
the admin and shell paths that bypass partners.services. A raw queryset update() behind
both (no signal) reaches a cached lookup when it expires (settings.HOT_CACHE_SECONDS).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from prm.lib.time import timezone_now


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
    from partners.authentication import tokens_forget

    if update_fields is None or set(update_fields) != {"last_login"}:
        tokens_forget(users=[instance.pk])
    password_changed = getattr(instance, "_password", None) is not None
    if password_changed or not instance.is_active:
        from partners.models import ApiToken

        ApiToken.objects.filter(user_id=instance.pk, revoked_at__isnull=True).update(
            revoked_at=timezone_now()
        )


def on_membership_changed(sender, instance, **kwargs) -> None:
    from partners.authentication import tokens_forget

    tokens_forget(users=[instance.user_id])


def on_partner_saved(sender, instance, created=False, **kwargs) -> None:
    if not created:
        from partners.authentication import tokens_forget
        from partners.models import User

        tokens_forget(users=User.objects.filter(membership__partner_id=instance.pk))


def on_token_deleted(sender, instance, **kwargs) -> None:
    from partners.authentication import tokens_forget

    tokens_forget(tokens=[instance])


def on_terms_changed(sender, instance, **kwargs) -> None:
    from partners.terms import terms_forget

    terms_forget()


def connect() -> None:
    from allauth.account import signals as account_signals
    from django.contrib.auth import get_user_model

    for name in ("password_changed", "password_set", "password_reset"):
        getattr(account_signals, name).connect(
            on_password_event, dispatch_uid=f"partners_revoke_on_{name}"
        )
    from partners.models import ApiToken, Membership, Partner

    post_save.connect(
        on_user_saved, sender=get_user_model(), dispatch_uid="partners_revoke_tokens_on_save"
    )
    for signal in (post_save, post_delete):
        signal.connect(on_membership_changed, sender=Membership, dispatch_uid="partners_tokens_m")
    post_save.connect(on_partner_saved, sender=Partner, dispatch_uid="partners_tokens_partner")
    post_delete.connect(on_token_deleted, sender=ApiToken, dispatch_uid="partners_tokens_del")
    from partners.models import ProgramTerms

    for signal in (post_save, post_delete):
        signal.connect(on_terms_changed, sender=ProgramTerms, dispatch_uid="partners_terms_forget")
