"""Issuing API tokens from e-mail + password (POST /api/v1/auth/token/).

- Brute force (AUTH-02): an atomic limiter, not DRF's throttle. Each attempt is counted
  *before* the password is verified, so however many requests race, at most `limit` of them
  per e-mail reach the hasher in a window; the count is given back when the password turns out
  to be right, so legitimate use does not lock the account. Once locked, even the right
  password answers 429 until the window ends. A per-IP limit caps spraying over many e-mails.
- MFA (ASVS 6.3.4): a user with two-factor authentication gets no token from e-mail +
  password alone (403 `mfa_required`); they sign in to the portal with their second factor and
  create a token there. This is the documented pathway, of equal strength.
- Tokens are hashed at rest, expire (API_TOKEN_TTL) and are revoked on password change and
  deactivation (partners.signals, partners.services.user_revoke_access).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.signals import user_login_failed

from partners.models import ApiToken, User
from partners.roles import membership_of
from partners.services import token_create
from prm import ratelimit
from prm.exceptions import DomainError, PermissionDeniedError

INVALID_CREDENTIALS = "Unable to sign in with the e-mail address and password provided."
MFA_REQUIRED = (
    "This account uses two-factor authentication, so API tokens cannot be created from an "
    "e-mail address and password alone. Sign in to the portal with your second factor and "
    "create an API token there."
)


class InvalidCredentials(DomainError):
    """Unable to sign in with the e-mail address and password provided."""

    code = "invalid_credentials"
    status_code = 400


def _rate(name: str, default: str) -> tuple[int, int]:
    return ratelimit.parse_rate(getattr(settings, name, default))


def client_ip(request) -> str:
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter().get_client_ip(request)
    except Exception:  # noqa: BLE001 - no usable address: one shared bucket
        return "unknown"


def _failed(email: str, request) -> InvalidCredentials:
    # Same signal as a failed authenticate(): the security log records it.
    user_login_failed.send(sender=__name__, credentials={"email": email}, request=request)
    return InvalidCredentials(INVALID_CREDENTIALS)


def token_obtain(*, email: str, password: str, request) -> tuple[ApiToken, str]:
    """Verify the credentials under the limiters and create a token; returns (token, raw)."""
    ip = client_ip(request)
    ip_limit, ip_window = _rate("TOKEN_LOGIN_RATE_IP", "20/m")
    if not ratelimit.hit(f"token:ip:{ip}", ip_limit, ip_window):
        raise ratelimit.RateLimited("Too many sign-in attempts from your address; retry later.")
    email = (email or "").strip().lower()
    key_limit, key_window = _rate("TOKEN_LOGIN_RATE", "5/300s")
    email_key = f"token:email:{email}"
    if not ratelimit.hit(email_key, key_limit, key_window):
        raise ratelimit.RateLimited("Too many failed sign-in attempts; retry later.")

    user = User.objects.filter(email__iexact=email).first() if email else None
    if user is None:
        make_password(password)  # same work as a real check, so timing does not reveal accounts
        raise _failed(email, request)
    if not user.check_password(password):
        raise _failed(email, request)
    # The password is right: this attempt was not a failure.
    ratelimit.refund(email_key, key_window)
    membership = membership_of(user)
    if not user.is_active or (membership is not None and not membership.partner.is_active):
        raise _failed(email, request)

    from allauth.mfa.utils import is_mfa_enabled

    from partners.sso import password_sign_in_refusal

    refusal = password_sign_in_refusal(user)
    if refusal:
        # Single sign-on required: a password opens nothing, neither the portal nor a token.
        raise PermissionDeniedError(refusal, code="sso_required")
    if is_mfa_enabled(user):
        raise PermissionDeniedError(MFA_REQUIRED, code="mfa_required")
    return token_create(user=user, name="API token (e-mail + password)")
