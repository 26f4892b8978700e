"""Writes on partners and their users: create/update partners, invite, deactivate, suspend,
tokens. Revocation (sessions and tokens) lives here so every path that ends access calls it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from partners.authentication import tokens_forget
from partners.dispatch import invitation_created, invitation_withheld, user_deactivating
from partners.models import ApiToken, Invitation, Membership, Partner, Tier, User, hash_token
from partners.roles import is_manager, is_partner_admin, partner_of
from prm.exceptions import PermissionDeniedError, StateConflict, ValidationFailed
from prm.lib.time import timezone_now


def _require_manager(actor: User) -> None:
    if not is_manager(actor):
        raise PermissionDeniedError("Only channel managers can do this.")


def _require_partner_admin_or_manager(actor: User, partner: Partner) -> None:
    if is_manager(actor):
        return
    own = partner_of(actor)
    if own is None or own.pk != partner.pk or not is_partner_admin(actor):
        raise PermissionDeniedError("Only your company's partner admins can manage users.")


def _clean_domains(value: object) -> list[str]:
    from prm.lib.domains import registrable_domain

    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationFailed("Invalid domains.", fields={"domains": ["Send a list of domains."]})
    domains = []
    for item in value:
        domain = registrable_domain(item) if isinstance(item, str) and "\x00" not in item else ""
        if not domain:
            raise ValidationFailed(
                "Invalid domains.", fields={"domains": [f"Not a website domain: {str(item)[:60]}"]}
            )
        domains.append(domain)
    return sorted(set(domains))


def _domain_covers(host: str, domain: str) -> bool:
    """`host` is `domain` or one of its subdomains."""
    domain = (domain or "").strip().lower().rstrip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def is_vendor_staff_email(email: str) -> bool:
    host = (email or "").rpartition("@")[2].strip().lower().rstrip(".")
    return any(_domain_covers(host, d) for d in settings.VENDOR_STAFF_DOMAINS)


def partner_user_email_errors(partner: Partner, email: str) -> list[str]:
    """Why `email` cannot belong to a user of `partner` (empty when it can): it must be at one
    of the partner's domains (or their subdomains) or match an exception a manager added for
    the partner (an address or a domain), and it is never a vendor staff address, whatever
    the exceptions. The one rule for the portal, the API, the admin and allauth."""
    address = (email or "").strip().lower()
    host = address.rpartition("@")[2].rstrip(".")
    if not host:
        return ["Enter a valid e-mail address."]
    if is_vendor_staff_email(address):
        return ["This is a vendor staff address; a partner user cannot have it."]
    if any(_domain_covers(host, d) for d in partner.domains or []):
        return []
    from partners.models import PartnerEmailException

    for value in PartnerEmailException.objects.filter(partner=partner).values_list(
        "value", flat=True
    ):
        value = value.strip().lower()
        if value == address if "@" in value else _domain_covers(host, value):
            return []
    domains = ", ".join(partner.domains or []) or "none yet"
    return [
        f"Use an address at your company's domains ({domains}); a channel manager can add "
        "an exception for another address."
    ]


def partner_create(
    *,
    actor: User,
    name: str,
    country: str,
    tier: Tier,
    domains: object = None,
    legal_name: str = "",
) -> Partner:
    _require_manager(actor)
    from prm.lib.validation import Errors, check_country, check_text

    errors = Errors()
    name = check_text(errors, "name", name, 200, required=True)
    legal_name = check_text(errors, "legal_name", legal_name, 200)
    country = check_country(errors, "country", country)
    if name and Partner.objects.filter(name__iexact=name).exists():
        errors.add("name", "A partner with this name already exists.")
    errors.raise_if_any()
    return Partner.objects.create(
        name=name,
        legal_name=legal_name,
        country=country,
        tier=tier,
        domains=_clean_domains(domains),
    )


def partner_update(*, actor: User, partner: Partner, **changes: Any) -> Partner:
    _require_manager(actor)
    from prm.lib.validation import Errors, check_country, check_text

    errors = Errors()
    if "name" in changes:
        changes["name"] = check_text(errors, "name", changes["name"], 200, required=True)
        if (
            changes["name"]
            and Partner.objects.filter(name__iexact=changes["name"]).exclude(pk=partner.pk).exists()
        ):
            errors.add("name", "A partner with this name already exists.")
    if "country" in changes:
        changes["country"] = check_country(errors, "country", changes["country"])
    if "status" in changes and changes["status"] not in Partner.Status.values:
        errors.add("status", "Choose active or suspended.")
    if "domains" in changes:
        try:
            changes["domains"] = _clean_domains(changes["domains"])
        except ValidationFailed as exc:
            errors.update(exc.fields or {})
    errors.raise_if_any()
    with transaction.atomic():
        suspended = changes.get("status") == Partner.Status.SUSPENDED and partner.is_active
        for name, value in changes.items():
            setattr(partner, name, value)
        partner.save()
        if suspended:
            for user in User.objects.filter(membership__partner=partner):
                user_revoke_access(user=user)
    return partner


def partner_user_create(
    *,
    actor: User,
    partner: Partner,
    email: str,
    name: str = "",
    role: str = "member",
    password: object = None,
) -> User:
    """Add a user to a partner. Without a password, an invitation e-mail with a link to set
    one is sent after commit."""
    _require_partner_admin_or_manager(actor, partner)
    from prm.lib.validation import Errors, check_email, check_text

    errors = Errors()
    email = check_email(errors, "email", email, required=True)
    name = check_text(errors, "name", name, 150)
    if role not in Membership.Role.values:
        errors.add("role", "Choose member or admin.")
    withheld = False
    existing = User.objects.filter(email__iexact=email).first() if email else None
    if existing is not None and Membership.objects.filter(user=existing, partner=partner).exists():
        # Their own company's user: the admin sees the list anyway, nothing leaks.
        errors.add("email", "This person is already a user of your company.")
    elif existing is not None and is_manager(actor):
        errors.add("email", "A user with this e-mail address already exists.")
    elif email:
        for message in partner_user_email_errors(partner, email):
            errors.add("email", message)
        # An account elsewhere (another partner, vendor staff) must not be confirmed to a
        # partner admin: the answer, and its timing, are those of a fresh invitation.
        withheld = existing is not None
    if password is not None:
        if not isinstance(password, str) or "\x00" in password:
            errors.add("password", "Invalid password.")
        else:
            from django.contrib.auth.password_validation import validate_password
            from django.core.exceptions import ValidationError

            try:
                validate_password(password, User(email=email, name=name))
            except ValidationError as exc:
                errors["password"] = list(exc.messages)
    errors.raise_if_any()
    with transaction.atomic():
        # Withheld (the address has an account elsewhere): the same writes under a stand-in
        # address, rolled back, so neither the answer nor its timing tells the two apart.
        stand_in = f"withheld-{uuid.uuid4().hex}@invitations.invalid" if withheld else email
        user = User.objects.create_user(email=stand_in, password=password or None, name=name)
        Membership.objects.create(user=user, partner=partner, role=role)
        if password is None:
            invitation = Invitation.objects.create(user=user, partner=partner, invited_by=actor)
            # Through the notification outbox: written in this transaction, e-mailed after
            # commit with retries, so an SMTP outage never turns this into a 500.
            invitation_created.send(sender=Invitation, invitation=invitation)
        if withheld:
            transaction.set_rollback(True)
            from prm.security_log import log_event

            log_event(
                "invitation_withheld",
                user=actor,
                outcome="withheld",
                object_id=existing.pk if existing is not None else None,
                partner_id=partner.pk,
            )
            user.email = email
            user.invitation_withheld = True
            user.invited_role = role
    if withheld and existing is not None:
        # The account holder learns that someone tried (the partner admin does not).
        with transaction.atomic():
            invitation_withheld.send(
                sender=Invitation, user=existing, partner=partner, invited_by=actor
            )
    return user


def _password_errors(errors, password: object, user: User) -> None:
    if password is None:
        return
    if not isinstance(password, str) or "\x00" in password:
        errors.add("password", "Invalid password.")
        return
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password, user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)


def sales_rep_create(*, actor: User, email: object, name: object = "", password: object = None):
    """A direct sales rep (a manager creates them): a vendor staff account marked as a rep,
    without admin access, that owns the direct opportunities whose owner e-mail is theirs
    (case-insensitive). Without a password the account has none yet: the rep sets one through
    "Forgot your password?" on the sign-in page. Reps sign in like managers, with TOTP
    (partners.middleware.ManagerMfaMiddleware)."""
    _require_manager(actor)
    from prm.lib.validation import Errors, check_email, check_text

    errors = Errors()
    email = check_email(errors, "email", email, required=True)
    name = check_text(errors, "name", name, 150)
    if email and User.objects.filter(email__iexact=email).exists():
        errors.add("email", "A user with this e-mail address already exists.")
    _password_errors(errors, password, User(email=email or "", name=name or ""))
    errors.raise_if_any()
    return User.objects.create_user(
        email=email, password=password or None, name=name, is_sales_rep=True
    )


def user_time_zone_set(*, user: User, time_zone: object) -> User:
    """A user's own time zone for pages (IANA name, or "" for UTC). Unknown → 400."""
    from prm.lib.time import valid_time_zone

    if time_zone is None:
        time_zone = ""
    if not isinstance(time_zone, str) or (
        time_zone.strip() and valid_time_zone(time_zone.strip()) is None
    ):
        raise ValidationFailed(
            gettext("Unknown time zone."),
            fields={"time_zone": [gettext("Choose a time zone from the list.")]},
        )
    user.time_zone = time_zone.strip()
    user.save(update_fields=["time_zone"])
    return user


def user_language_set(*, user: User, language: object) -> User:
    """A user's own language for pages and e-mails (a code of settings.LANGUAGES, or "" for
    the browser's choice). Unknown → 400."""
    if language is None:
        language = ""
    codes = {code for code, _name in settings.LANGUAGES}
    if not isinstance(language, str) or (language.strip() and language.strip() not in codes):
        raise ValidationFailed(
            gettext("Unknown language."),
            fields={"language": [gettext("Choose a language from the list.")]},
        )
    user.language = language.strip()
    user.save(update_fields=["language"])
    return user


def partner_user_deactivate(
    *, actor: User, partner: Partner, user: User, new_owner_id: int | None = None
) -> User:
    """Deactivate a partner user: sessions end, tokens are revoked, and their open work is
    handed over in the same transaction (partners.dispatch.user_deactivating): to
    `new_owner_id` (an active user of the partner) when given, else to a partner admin."""
    _require_partner_admin_or_manager(actor, partner)
    if user.pk == actor.pk:
        raise StateConflict("You cannot deactivate yourself.")
    with transaction.atomic():
        user_deactivating.send(
            sender=User, user=user, partner=partner, actor=actor, new_owner_id=new_owner_id
        )
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        user_revoke_access(user=user)
    return user


def partner_user_set_role(*, actor: User, partner: Partner, user: User, role: str) -> User:
    _require_partner_admin_or_manager(actor, partner)
    if role not in Membership.Role.values:
        raise ValidationFailed("Invalid role.", fields={"role": ["Choose member or admin."]})
    Membership.objects.filter(user=user, partner=partner).update(role=role)
    tokens_forget(users=[user])  # cached token lookups carry the membership
    return user


def user_revoke_access(*, user: User, keep_session_key: str | None = None) -> None:
    """End every session of `user` (but `keep_session_key`) and revoke every API token.
    Called on password change, deactivation and partner suspension. Sessions are found through
    the session registry (partners.sessions), not by decoding every stored session."""
    from partners.sessions import sessions_end_for_user

    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone_now())
    tokens_forget(users=[user])
    sessions_end_for_user(user, keep_session_key=keep_session_key)


def token_create(
    *, user: User, name: str = "", ttl: dt.timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create an API token; returns (token, raw key). Only the hash is stored."""
    raw = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:10],
        key_hash=hash_token(raw),
        expires_at=timezone_now() + (ttl or settings.API_TOKEN_TTL),
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone_now())
    tokens_forget(tokens=[token])


# --- Integration accounts ---------------------------------------------------------------------

NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def integration_create(*, actor: User, name: object, scopes: object):
    """A named service account with one token that does not expire (shown once)."""
    import uuid

    from partners.models import IntegrationAccount

    _require_manager(actor)
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
        errors["name"] = ["Enter a name of at most 100 characters."]
    known = IntegrationAccount.SCOPES
    if (
        not isinstance(scopes, list)
        or not scopes
        or any(not isinstance(s, str) or s not in known for s in scopes)
    ):
        errors["scopes"] = [f"Send a non-empty list of: {', '.join(known)}."]
    if errors:
        raise ValidationFailed("Some fields are not valid.", fields=errors)
    assert isinstance(name, str) and isinstance(scopes, list)
    with transaction.atomic():
        user = User.objects.create_user(
            email=f"integration-{uuid.uuid4().hex[:12]}@integrations.invalid",
            password=None,
            name=name.strip(),
            is_integration=True,
        )
        account = IntegrationAccount.objects.create(
            name=name.strip(), user=user, scopes=sorted(set(scopes)), created_by=actor
        )
        raw = ApiToken.generate_key()
        ApiToken.objects.create(
            user=user,
            name=f"integration: {name.strip()}"[:100],
            prefix=raw[:10],
            key_hash=hash_token(raw),
            expires_at=NEVER,
        )
    return account, raw


def integration_revoke(*, actor: User, account) -> None:
    """Revoke at once: the account's tokens stop working on the next request."""
    _require_manager(actor)
    with transaction.atomic():
        type(account).objects.filter(pk=account.pk, revoked_at__isnull=True).update(
            revoked_at=timezone_now()
        )
        User.objects.filter(pk=account.user_id).update(is_active=False)
        user_revoke_access(user=account.user)


# --- Invitations: resend, reactivate ------------------------------------------------------------

RESEND_PAUSE_SECONDS = 60


def invitation_resend(*, actor: User, partner: Partner, user: User) -> Invitation:
    """Send a fresh invitation e-mail to a user of `partner` who has not set a password yet
    (a new Invitation row: its e-mail carries a new set-password link). At most one a minute
    per user (409 otherwise); a deactivated user or one who already signed up → 409."""
    _require_partner_admin_or_manager(actor, partner)
    if not Membership.objects.filter(user=user, partner=partner).exists():
        raise PermissionDeniedError("Only your company's users can be invited again.")
    if not user.is_active:
        raise StateConflict("This user is deactivated; reactivate them first.")
    if user.has_usable_password():
        raise StateConflict("This user has already set a password; they can sign in.")
    from prm.lib import hotcache

    if not hotcache.once(f"prm:invitation-resend:{user.pk}", RESEND_PAUSE_SECONDS):
        raise StateConflict("An invitation was sent less than a minute ago; wait a moment.")
    with transaction.atomic():
        invitation = Invitation.objects.create(user=user, partner=partner, invited_by=actor)
        invitation_created.send(sender=Invitation, invitation=invitation)
    return invitation


def partner_user_reactivate(*, actor: User, partner: Partner, user: User) -> User:
    """Let a deactivated user of `partner` sign in again. Their address must still be allowed
    for the partner (its domains or a manager's exception: partner_user_email_errors) and the
    partner must be active; their old sessions and tokens stay ended (new ones are needed)."""
    _require_partner_admin_or_manager(actor, partner)
    if not Membership.objects.filter(user=user, partner=partner).exists():
        raise PermissionDeniedError("Only your company's users can be reactivated.")
    if user.is_active:
        raise StateConflict("This user is already active.")
    if not partner.is_active:
        raise StateConflict("The partner company is suspended.")
    problems = partner_user_email_errors(partner, user.email)
    if problems:
        raise ValidationFailed("This user cannot be reactivated.", fields={"email": problems})
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    tokens_forget(users=[user])
    return user
