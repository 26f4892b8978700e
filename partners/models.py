"""Partner companies, tiers, users and their roles."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prm.lib.fields import UpdatedAtField
from prm.lib.time import timezone_now


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address (no usernames)."""

    email = models.EmailField("e-mail address", unique=True, max_length=254)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Vendor staff (can use the admin).")
    is_active = models.BooleanField(default=True)
    is_integration = models.BooleanField(
        default=False,
        editable=False,
        help_text="The service user of an integration account (API token only, no sign-in).",
    )
    is_sales_rep = models.BooleanField(
        "sales rep",
        default=False,
        help_text="Direct sales rep: signs in to the rep workspace and sees the conflicts "
        "touching the direct opportunities whose owner e-mail is theirs (never a partner user).",
    )
    date_joined = models.DateTimeField(default=timezone_now)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA time zone the pages show times in (e.g. Europe/Berlin); empty: UTC.",
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        help_text="Language of the portal and e-mails (en, de, fr, es); empty: the browser's.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Tier(models.Model):
    """A partner programme level. Blank protection/extensions fall back to the policy."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField(default=0, help_text="Higher is a better tier.")
    protection_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Blank: the policy's protection days.",
    )
    max_extensions = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank: the policy's maximum."
    )
    auto_approve_ceiling = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Clear registrations below this value are approved at once. Blank: never.",
    )
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)

    class Meta:
        ordering = ["rank", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(protection_days__isnull=True) | Q(protection_days__gte=1),
                name="tier_protection_days_positive",
                violation_error_message="Protection days must be at least 1 (or empty for the "
                "policy's default).",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="tier_discount_percent_range",
                violation_error_message="The discount is a percentage between 0 and 100.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Partner(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200, unique=True)
    legal_name = models.CharField(max_length=200, blank=True)
    domains = models.JSONField(default=list, blank=True, help_text="Website domains.")
    country = models.CharField(max_length=2)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="partners")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        limit_choices_to={"is_staff": True},
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended"]), name="partner_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    """A user's place in one partner company. A user belongs to at most one partner."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        ADMIN = "admin", _("Partner admin")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["partner", "user__email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["member", "admin"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.role})"


class Invitation(models.Model):
    """An invitation sent to a new partner user; they set a password from the e-mailed link."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.user_id} to {self.partner_id}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class IntegrationAccount(models.Model):
    """A named service account for a system (a CRM sync, a data warehouse): its own user (no
    password, no sign-in), scoped tokens that do not expire with a person, revoked explicitly."""

    SCOPES = ("opportunities:write", "registrations:read", "webhooks:manage")

    name = models.CharField(max_length=100)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration"
    )
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """An API token. Only a SHA-256 of the key is stored; the key is shown once at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def generate_key() -> str:
        return "db_" + secrets.token_urlsafe(32)

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone_now()


class UserSession(models.Model):
    """Which browser sessions belong to which user (written on login, removed on logout), so
    password change, deactivation and suspension end them without scanning every session."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_records"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="usersession_user_created")]

    def __str__(self) -> str:
        return f"session of {self.user_id}"


class PartnerEmailException(models.Model):
    """An address or a domain outside the partner's own domains that its users may still have
    (a subsidiary, a consultant), added by a channel manager. Never a vendor staff address
    (partners.services.partner_user_email_errors)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="email_exceptions")
    value = models.CharField(
        max_length=254, help_text="An e-mail address (jane@example.org) or a domain (example.org)."
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["partner", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "value"], name="partner_email_exception_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value} for {self.partner}"


class IdentityProvider(models.Model):
    """A single sign-on identity provider (OpenID Connect, or SAML through allauth's SAML
    support): the vendor's own (no partner: vendor staff sign in through it) or one partner
    company's. partners.sso turns each active row into an allauth app and decides, on every
    sign-in through it, which account it may open (docs/sso.md)."""

    class Protocol(models.TextChoices):
        OIDC = "openid_connect", "OpenID Connect"
        SAML = "saml", "SAML 2.0"

    name = models.CharField(max_length=100, help_text='Shown on the button: "Sign in with …".')
    slug = models.SlugField(
        max_length=50,
        unique=True,
        help_text="Part of the callback URL: /accounts/oidc/<slug>/login/callback/.",
    )
    protocol = models.CharField(max_length=20, choices=Protocol.choices, default=Protocol.OIDC)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="identity_providers",
        help_text="Empty: the vendor's identity provider, for managers and sales reps.",
    )
    server_url = models.URLField(
        "issuer URL",
        max_length=300,
        blank=True,
        help_text="OpenID Connect issuer (its /.well-known/openid-configuration is read).",
    )
    client_id = models.CharField(max_length=200, blank=True)
    client_secret = models.CharField(max_length=500, blank=True)
    provider_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Extra allauth provider settings (SAML: idp/sp/attribute_mapping).",
    )
    required = models.BooleanField(
        default=False,
        help_text="Users it covers may sign in only through it (no password sign-in, no API "
        "token from a password). Superusers keep their password.",
    )
    create_users = models.BooleanField(
        "create users on first sign-in",
        default=False,
        help_text="Partner providers only: a verified address at the partner's domains without "
        "an account becomes a member of that partner on first sign-in.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["partner__name", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(protocol__in=["openid_connect", "saml"]),
                name="identity_provider_protocol_valid",
                violation_error_message="Choose OpenID Connect or SAML.",
            ),
            models.CheckConstraint(
                condition=Q(create_users=False) | Q(partner__isnull=False),
                name="identity_provider_creates_partner_users_only",
                violation_error_message="Only a partner's identity provider can create users.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- Becoming a partner -----------------------------------------------------------------------


class PartnerApplication(models.Model):
    """A company's application to join the partner program, sent from the public page
    (/apply/) and decided by a channel manager (partners.applications)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    company_name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200)
    domain = models.CharField(
        "website domain", max_length=253, help_text="The registrable domain (acme.example)."
    )
    country = models.CharField(max_length=2)
    contact_name = models.CharField(max_length=150)
    contact_email = models.EmailField(max_length=254)
    expected_focus = models.TextField(
        help_text="What the applicant expects to sell, to whom, where (their words)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField(default=timezone_now, editable=False)
    submitter_ip_hash = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Keyed hash of the sender's address."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="applications",
        help_text="The partner created by the approval.",
    )
    # The decline e-mail to the applicant (who has no account, so not a deals Notification):
    # claimed, sent, then marked (partners.applications.application_notice_deliver).
    notice_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    notice_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="application_status_submitted"),
            models.Index(fields=["domain"], name="application_domain"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["submitted", "approved", "declined"]),
                name="application_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.domain})"


class ProgramTerms(models.Model):
    """One version of the partner program's terms. Published versions are never edited (a
    change is a new version); the latest published version is the one in force."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="Partner program terms")
    text = models.TextField()
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: a draft. Published versions are read-only."
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False)

    class Meta:
        ordering = ["-version"]
        verbose_name = "program terms version"
        verbose_name_plural = "program terms"

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class TermsAcceptance(models.Model):
    """A partner user accepted a version of the program terms (who, for which partner, when)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    terms = models.ForeignKey(ProgramTerms, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=timezone_now, editable=False)

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "terms"], name="terms_acceptance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} accepted v{self.terms_id}"
