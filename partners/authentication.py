"""`Authorization: Token <key>` with hashed, expiring, revocable tokens."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from partners.models import ApiToken, hash_token


class HashedTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        if not key or len(key) > 200:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = (
            ApiToken.objects.select_related("user", "user__membership__partner")
            .filter(key_hash=hash_token(key))
            .first()
        )
        now = timezone.now()
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        membership = getattr(user, "membership", None)
        if membership is not None and membership.partner.status != "active":
            raise exceptions.AuthenticationFailed("Your partner company is suspended.")
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (user, token)
