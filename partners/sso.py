"""Single sign-on through django-allauth's social accounts (docs/sso.md).

An identity provider (partners.models.IdentityProvider) is either the vendor's — managers,
administrators and sales reps sign in through it — or one partner company's. Every active row
becomes an allauth app (`SocialAccountAdapter.list_apps`), so the admin is the one place to
connect one. On every sign-in through a provider, `account_for_sign_in` decides which account
it may open:

- only an address the provider asserts as verified, matched case-insensitively;
- a partner's provider opens only accounts of that partner whose address is at the partner's
  domains (or one of its exceptions); the vendor's provider only vendor staff accounts. Any
  other account — another partner's, a manager's through a partner's provider — is refused
  with the same words as an unknown address, so the answer confirms nothing;
- a partner's provider with `create_users` adds a verified address at the partner's domains as
  a member of that partner (never of another partner); otherwise only invited accounts sign in.

Managers still need a second factor: the TOTP step of allauth runs after an SSO sign-in unless
the provider's ID token asserts MFA in its `amr` claim (RFC 8176), and the enrolment the
ManagerMfaMiddleware demands is waived for such a session. A provider marked `required` takes
the password away from the users it covers (portal sign-in and API tokens from a password).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from partners.models import IdentityProvider, Membership, Partner, User
from partners.roles import partner_of
from partners.services import is_vendor_staff_email, partner_user_email_errors

# RFC 8176 methods that are a second factor (or say so outright: "mfa"). A provider that
# asserts one of them has done what the TOTP step would do.
SECOND_FACTOR_AMR = frozenset(
    {"mfa", "otp", "hwk", "swk", "sc", "sms", "tel", "fpt", "face", "iris", "retina", "vbm"}
)
# Session key: this session was opened through a provider that asserted MFA.
SESSION_IDP_MFA = "prm_idp_mfa"
REFUSED = _(
    "This identity provider cannot sign you in to Dealbridge. Sign in with your e-mail and "
    "password, or ask your company's partner admin (vendor staff: an administrator) for access."
)
UNVERIFIED = _(
    "Your identity provider did not confirm your e-mail address, so Dealbridge cannot match it "
    "to an account. Ask your IT team to mark the address as verified."
)
PASSWORD_REFUSED = _(
    "Your company signs in to Dealbridge through single sign-on: use “Sign in with single "
    "sign-on” and your work e-mail address."
)


class SsoRefused(Exception):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# --- Which provider ---------------------------------------------------------------------------


def active_providers() -> list[IdentityProvider]:
    return list(IdentityProvider.objects.filter(active=True).select_related("partner"))


def provider_for_email(email: str) -> IdentityProvider | None:
    """The provider a person with `email` signs in through: the vendor's for a vendor staff
    address, else the provider of the (active) partner whose domains cover the address."""
    address = (email or "").strip().lower()
    host = address.rpartition("@")[2].rstrip(".")
    if "@" not in address or not host:
        return None
    providers = active_providers()
    if is_vendor_staff_email(address):
        return next((p for p in providers if p.partner_id is None), None)
    for provider in providers:
        partner = provider.partner
        if partner is None or partner.status != Partner.Status.ACTIVE:
            continue
        if any(host == d or host.endswith("." + d) for d in partner.domains or []):
            return provider
    return None


def is_vendor_staff(user: User) -> bool:
    return bool(user.is_staff or user.is_superuser or user.is_sales_rep) and not (
        user.is_integration or partner_of(user) is not None
    )


def provider_covers(provider: IdentityProvider, user: User) -> bool:
    """Whether `provider` may open `user`'s account."""
    if not user.is_active or user.is_integration:
        return False
    if provider.partner_id is None:
        return is_vendor_staff(user)
    partner = partner_of(user)
    return (
        partner is not None
        and partner.pk == provider.partner_id
        and partner.status == Partner.Status.ACTIVE
        and not partner_user_email_errors(partner, user.email)
    )


def required_provider(user: User) -> IdentityProvider | None:
    """The provider `user` must sign in through (None: the password still works). Superusers
    always keep their password, so an identity provider outage never locks out the admin."""
    if user.is_superuser or user.is_integration:
        return None
    partner = partner_of(user)
    queryset = IdentityProvider.objects.filter(active=True, required=True)
    if partner is not None:
        return queryset.filter(partner=partner).first()
    if is_vendor_staff(user):
        return queryset.filter(partner__isnull=True).first()
    return None


# --- Which account ----------------------------------------------------------------------------


def account_for_sign_in(
    provider: IdentityProvider, *, email: str, verified: bool, name: str = ""
) -> User:
    """The account a sign-in through `provider` asserting `email` opens (created when the
    provider may create users); SsoRefused otherwise."""
    address = (email or "").strip().lower()
    if not address or not verified:
        raise SsoRefused(UNVERIFIED, "email_unverified")
    user = User.objects.filter(email__iexact=address).first()
    if user is not None:
        if not provider_covers(provider, user):
            raise SsoRefused(REFUSED, "not_covered")
        return user
    partner = provider.partner
    if (
        partner is None
        or not provider.create_users
        or partner.status != Partner.Status.ACTIVE
        or is_vendor_staff_email(address)
        or partner_user_email_errors(partner, address)
    ):
        raise SsoRefused(REFUSED, "no_account")
    with transaction.atomic():
        user = User.objects.create_user(email=address, password=None, name=(name or "")[:150])
        Membership.objects.create(user=user, partner=partner, role=Membership.Role.MEMBER)
    from prm.security_log import log_event

    log_event("sso_user_created", user=user, outcome="created", partner_id=partner.pk)
    return user


def asserted_email(sociallogin) -> tuple[str, bool]:
    addresses = list(getattr(sociallogin, "email_addresses", []) or [])
    primary = next((a for a in addresses if a.primary), addresses[0] if addresses else None)
    if primary is None:
        return "", False
    return primary.email or "", bool(primary.verified)


def asserted_mfa(extra_data: dict[str, Any]) -> bool:
    """Whether the provider's ID token (or its userinfo) says a second factor was used."""
    for part in ("id_token", "userinfo"):
        claims = extra_data.get(part) or {}
        amr = claims.get("amr") if isinstance(claims, dict) else None
        if isinstance(amr, str):
            amr = [amr]
        if isinstance(amr, list) and SECOND_FACTOR_AMR.intersection(str(v).lower() for v in amr):
            return True
    return False


def refused_response(request: HttpRequest, refusal: SsoRefused, provider=None):
    from prm.security_log import log_event

    log_event(
        "sso_refused",
        request=request,
        outcome="denied",
        reason=refusal.reason,
        provider=getattr(provider, "slug", ""),
    )
    return render(
        request, "account/sso_refused.html", {"message": str(refusal.message)}, status=403
    )


# --- allauth adapters -------------------------------------------------------------------------


def _social_account_adapter_base():
    from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

    return DefaultSocialAccountAdapter


class SocialAccountAdapter(_social_account_adapter_base()):
    """settings.SOCIALACCOUNT_ADAPTER: apps from IdentityProvider rows, accounts by the rules
    above, never allauth's own sign-up (no open sign-up: accounts come from invitations or,
    for a partner's provider that may, from account_for_sign_in)."""

    def list_apps(self, request, provider=None, client_id=None):
        from allauth.socialaccount import providers
        from allauth.socialaccount.models import SocialApp

        apps = []
        for idp in active_providers():
            if providers.registry.get_class(idp.protocol) is None:
                continue  # SAML without django-allauth[saml] installed
            settings: dict[str, Any] = dict(idp.provider_settings or {})
            if idp.protocol == IdentityProvider.Protocol.OIDC:
                settings.setdefault("server_url", idp.server_url)
                settings.setdefault("oauth_pkce_enabled", True)  # RFC 7636 on every flow
            app = SocialApp(
                provider=idp.protocol,
                provider_id=idp.slug,
                name=idp.name,
                client_id=idp.client_id,
                secret=idp.client_secret,
                settings=settings,
            )
            if provider and provider not in (app.provider, app.provider_id):
                continue
            if client_id and client_id != app.client_id:
                continue
            apps.append(app)
        return apps

    def is_open_for_signup(self, request, sociallogin):
        return False

    def pre_social_login(self, request, sociallogin):
        from allauth.core.exceptions import ImmediateHttpResponse

        slug = sociallogin.account.provider
        provider = (
            IdentityProvider.objects.filter(slug=slug, active=True)
            .select_related("partner")
            .first()
        )
        try:
            if provider is None:
                raise SsoRefused(REFUSED, "unknown_provider")
            if sociallogin.is_existing:
                # The provider's subject was linked before: the account must still be one
                # this provider covers (moved partner, deactivated, became staff...).
                if not provider_covers(provider, sociallogin.user):
                    raise SsoRefused(REFUSED, "not_covered")
                return
            email, verified = asserted_email(sociallogin)
            user = account_for_sign_in(
                provider,
                email=email,
                verified=verified,
                name=(sociallogin.account.extra_data.get("userinfo") or {}).get("name", "")
                if isinstance(sociallogin.account.extra_data.get("userinfo"), dict)
                else "",
            )
        except SsoRefused as refusal:
            raise ImmediateHttpResponse(refused_response(request, refusal, provider)) from None
        sociallogin.connect(request, user)

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ):
        from prm.security_log import log_event

        log_event(
            "sso_error",
            request=request,
            outcome="failed",
            reason=str(error or "")[:60],
            provider=getattr(getattr(provider, "app", None), "provider_id", "") or "",
        )
        return super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )


def login_stages(stages: list[str]) -> list[str]:
    """allauth's login stages with its MFA step replaced by one that an identity provider's
    MFA assertion satisfies."""
    return [
        "partners.sso.IdpAwareAuthenticateStage"
        if path == "allauth.mfa.stages.AuthenticateStage"
        else path
        for path in stages
    ]


def _authenticate_stage_base():
    from allauth.mfa.stages import AuthenticateStage

    return AuthenticateStage


class IdpAwareAuthenticateStage(_authenticate_stage_base()):
    """allauth's TOTP step, skipped when the sign-in came through an identity provider whose
    ID token asserted a second factor."""

    def handle(self):
        sociallogin = (self.login.signal_kwargs or {}).get("sociallogin")
        if sociallogin is not None and asserted_mfa(sociallogin.account.extra_data or {}):
            return None, True
        return super().handle()


def note_sign_in(request: HttpRequest, signal_kwargs: dict | None) -> None:
    """After any sign-in: remember whether an identity provider asserted MFA for this session."""
    session = getattr(request, "session", None)
    if session is None:
        return
    sociallogin = (signal_kwargs or {}).get("sociallogin")
    if sociallogin is not None and asserted_mfa(sociallogin.account.extra_data or {}):
        session[SESSION_IDP_MFA] = True
    else:
        session.pop(SESSION_IDP_MFA, None)


def form_action_origins() -> list[str]:
    """The origins the SSO page's form may lead to: its POST answers with a redirect to the
    provider, and browsers hold redirects after a form submission to the page's CSP
    `form-action`. The issuer's origin (where authorization endpoints live in practice) and any
    authorization endpoint set in the provider's settings."""
    from urllib.parse import urlsplit

    origins: set[str] = set()
    for provider in active_providers():
        overrides = (provider.provider_settings or {}).get("openid_configuration_overrides")
        candidates = [provider.server_url]
        if isinstance(overrides, dict):
            candidates.append(str(overrides.get("authorization_endpoint") or ""))
        for url in candidates:
            parts = urlsplit(url or "")
            if parts.scheme in ("http", "https") and parts.netloc and " " not in parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}".replace(";", ""))
    return sorted(origins)


def with_form_action_to_providers(response):
    from prm.middleware import CSP

    origins = " ".join(form_action_origins())
    if origins:
        response["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {origins}"
        )
    return response


def password_sign_in_refusal(user: User) -> str | None:
    """Why `user` may not sign in with a password (None when they may)."""
    return str(PASSWORD_REFUSED) if required_provider(user) is not None else None
