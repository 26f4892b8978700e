"""`Authorization: Token <key>` with hashed, expiring, revocable tokens.

One lookup per request: the MFA middleware (which must know a token's user before DRF
authenticates) and DRF share `token_for_key`, which remembers its answer on the request."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from partners.models import ApiToken, hash_token
from prm.frozen import frozen_first

_REQUEST_CACHE = "_prm_api_token"


def _fetch(key: str) -> ApiToken | None:
    return frozen_first(
        ("api_token",),
        lambda key_hash: (
            ApiToken.objects.select_related("user", "user__membership__partner")
            .filter(key_hash=key_hash)
            .order_by()[:1]
        ),
        {"key_hash": hash_token(key)},
    )


def token_for_key(key: str, request=None) -> ApiToken | None:
    """The ApiToken row of a raw key (live or not) with its user, membership and partner
    joined; None for an unknown key. With `request`, looked up once per request."""
    if not key or len(key) > 200:
        return None
    if request is not None:
        cached = getattr(request, _REQUEST_CACHE, None)
        if cached is not None and cached[0] == key:
            return cached[1]
    token = _fetch(key)
    if request is not None:
        setattr(request, _REQUEST_CACHE, (key, token))
    return token


def live_token_user(token: ApiToken | None, now=None):
    """The token's user if the token is live and the user may use it, else None."""
    now = now or timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    return token.user if token.user.is_active else None


class HashedTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        self._request = getattr(request, "_request", request)
        try:
            return super().authenticate(request)
        finally:
            self._request = None

    def authenticate_credentials(self, key):
        if not key or len(key) > 200:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = token_for_key(key, getattr(self, "_request", None))
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
