"""`Authorization: Token <key>` with hashed, expiring, revocable tokens.

One lookup per request: the MFA middleware (which must know a token's user before DRF
authenticates) and DRF share `token_for_key`, which remembers its answer on the request.

The lookup is cached by the key's hash in the shared cache (prm.lib.hotcache, never a
per-process cache), with the token's user, membership and partner (not the password hash).
Whatever ends or changes a token's access forgets its entries at once: token_revoke,
user_revoke_access (password change, deactivation, partner suspension) and
partner_user_set_role call tokens_forget, and so do the saves of a user, a membership or a
partner (partners.signals). Expiry needs nothing: expires_at is checked on every request
against the clock."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from partners.models import ApiToken, hash_token
from prm.lib import hotcache
from prm.lib.time import timezone_now

_REQUEST_CACHE = "_prm_api_token"


LAST_USED_EVERY = 300  # seconds between two writes of a token's last_used_at


def _cache_key(key_hash: str) -> str:
    return f"prm:api-token:{key_hash}"


def _fetch(key: str) -> ApiToken | None:
    key_hash = hash_token(key)
    return hotcache.read(
        _cache_key(key_hash),
        lambda: (
            ApiToken.objects.select_related("user", "user__membership__partner")
            .defer("user__password")
            .filter(key_hash=key_hash)
            .first()
        ),
    )


# {key hash: when this process last saw the token's last_used_at written}. Not a cache of
# anything that grants access: it only spares a shared-cache round trip per request while a
# cached token row still carries the last_used_at from before the latest write.
_use_noted: dict[str, float] = {}


def _note_use(token: ApiToken, now) -> None:
    """Write last_used_at at most once per LAST_USED_EVERY seconds across every process."""
    at = now.timestamp()
    noted = _use_noted.get(token.key_hash)
    if noted is not None and 0 <= at - noted < LAST_USED_EVERY:
        return
    if len(_use_noted) > 10_000:
        _use_noted.clear()
    _use_noted[token.key_hash] = at
    if hotcache.once(f"prm:api-token-used:{token.key_hash}", LAST_USED_EVERY):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def tokens_forget(*, tokens=None, users=None) -> None:
    """Drop the cached lookups of `tokens` (ApiToken rows or querysets) and of every token of
    `users` (User rows, ids or a queryset of users)."""
    hashes = []
    if tokens is not None:
        hashes += [t.key_hash for t in tokens]
    if users is not None:
        hashes += ApiToken.objects.filter(user__in=users).values_list("key_hash", flat=True)
    hotcache.forget(_cache_key(h) for h in hashes)


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
    now = now or timezone_now()
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
        now = timezone_now()
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        membership = getattr(user, "membership", None)
        if membership is not None and membership.partner.status != "active":
            raise exceptions.AuthenticationFailed("Your partner company is suspended.")
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > LAST_USED_EVERY
        ):
            _note_use(token, now)
        return (user, token)
