"""Registrations, direct opportunities, products, the rules of engagement, events and the
notification outbox. Status is never assigned here: deals/registrations/services.py owns every
transition (through deals/lifecycle.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from partners.models import Partner
from prm.lib.fields import UpdatedAtField
from prm.lib.time import timezone_now
from prm.lib.validation import CURRENCY_CODES, Errors, check_money

# --- Catalog ----------------------------------------------------------------------------------


class ProductLine(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    product_line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="products")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product_line__name", "name"]

    def __str__(self) -> str:
        return self.name


# --- Rules of engagement (versioned) ------------------------------------------------------------


class ConflictScope(models.TextChoices):
    PRODUCT_LINE = "product_line", "Overlapping product lines"
    ANY_PRODUCT = "any_product", "Any product"


def default_reminder_days():
    return [14, 3]


def default_min_deal_values():
    return {"USD": "5000.00", "EUR": "5000.00", "GBP": "4000.00"}


def default_required_fields():
    return ["customer_name", "customer_country", "contact_name", "contact_email", "products"]


# The registration fields a policy may make required: the partner-editable fields
# (deals.registrations.validation.PARTNER_EDITABLE_FIELDS; a test keeps the two equal) except
# `custom`, whose fields carry their own "required" flag (deals.customfields).
REQUIRABLE_REGISTRATION_FIELDS = (
    "customer_name",
    "customer_domain",
    "customer_country",
    "customer_address",
    "contact_name",
    "contact_email",
    "contact_phone",
    "products",
    "estimated_value",
    "currency",
    "expected_close_date",
    "stage",
    "description",
    "competitors",
)


def policy_shape_errors(policy: RulesOfEngagement) -> dict[str, list[str]]:
    """What is wrong with the shape of a policy's list and mapping fields (reminder days,
    holidays, minimum deal values, required fields), in words an administrator can act on."""
    errors: dict[str, list[str]] = {}
    days = policy.reminder_days
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365 for d in days
    ):
        errors["reminder_days"] = ["Whole numbers of days before expiry, each from 1 to 365."]
    elif len(set(days)) != len(days):
        errors["reminder_days"] = ["Each reminder day only once."]
    holidays = policy.holidays
    bad_days = []
    if not isinstance(holidays, list):
        bad_days = ["?"]
    else:
        for value in holidays:
            try:
                if not isinstance(value, str) or len(value) != 10:
                    raise ValueError(value)
                dt.date.fromisoformat(value)
            except ValueError:
                bad_days.append(str(value)[:20])
    if bad_days:
        errors["holidays"] = [f"Dates as YYYY-MM-DD, one per line (not {', '.join(bad_days)})."]
    minimums = policy.min_deal_values
    if not isinstance(minimums, dict):
        errors["min_deal_values"] = ["One currency and amount per line, e.g. USD 5000.00."]
    else:
        problems = []
        for currency, amount in minimums.items():
            if currency not in CURRENCY_CODES:
                problems.append(f"{str(currency)[:10]} is not an ISO 4217 currency code.")
                continue
            money = Errors()
            check_money(money, currency, amount)
            if money:
                problems.append(f"{currency}: enter an amount such as 5000.00.")
        if problems:
            errors["min_deal_values"] = problems
    required = policy.required_fields
    if not isinstance(required, list) or not all(
        isinstance(name, str) and name in REQUIRABLE_REGISTRATION_FIELDS for name in required
    ):
        errors["required_fields"] = [
            f"Choose from the registration's fields: {', '.join(REQUIRABLE_REGISTRATION_FIELDS)}."
        ]
    return errors


class RulesOfEngagement(models.Model):
    """One version of the policy. Rows are never edited: a change creates a new version, and
    every decision and conflict outcome records the version it applied."""

    version = models.PositiveIntegerField(unique=True)
    protection_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1)]
    )
    extension_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])
    max_extensions = models.PositiveSmallIntegerField(default=1)
    reminder_days = models.JSONField(default=default_reminder_days)
    sla_business_days = models.PositiveSmallIntegerField("review SLA (business days)", default=2)
    holidays = models.JSONField(default=list, blank=True, help_text="ISO dates skipped by the SLA.")
    min_deal_values = models.JSONField(
        default=default_min_deal_values, help_text='Per currency, e.g. {"USD": "5000.00"}.'
    )
    required_fields = models.JSONField(default=default_required_fields)
    conflict_scope = models.CharField(
        max_length=20, choices=ConflictScope.choices, default=ConflictScope.PRODUCT_LINE
    )
    review_threshold = models.PositiveSmallIntegerField(default=85)
    certain_threshold = models.PositiveSmallIntegerField(default=95)
    direct_won_lookback_days = models.PositiveSmallIntegerField(default=90)
    reveal_conflict_kind = models.BooleanField(
        default=False,
        help_text="Tell partners whether a conflict is with direct sales or another registration.",
    )
    auto_approve_enabled = models.BooleanField(
        default=True, help_text="Master switch for the tiers' auto-approve ceilings."
    )
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = "rules of engagement version"
        verbose_name_plural = "rules of engagement"
        constraints = [
            models.CheckConstraint(
                condition=Q(review_threshold__lt=models.F("certain_threshold"))
                & Q(certain_threshold__lte=100),
                name="policy_thresholds_ordered",
                violation_error_message="The review threshold must be below the certain "
                "threshold, and the certain threshold at most 100.",
            ),
        ]

    def __str__(self) -> str:
        return f"Policy v{self.version}"

    def clean(self) -> None:
        errors = policy_shape_errors(self)
        if errors:
            raise ValidationError(errors)

    def min_deal_value(self, currency: str) -> Decimal | None:
        value = (self.min_deal_values or {}).get(currency)
        return Decimal(str(value)) if value not in (None, "") else None


class IncentiveRule(models.Model):
    """A registered-deal incentive of one policy version, per tier and (optionally) product
    line: a fixed amount or a percentage of the won value. Versioned with the rules of
    engagement: publishing a policy version carries the rules of the previous one forward
    (deals.policy.policy_publish), and a rule row is never edited once a decision used it.
    Without a matching rule the tier's registered-deal discount applies."""

    policy_version = models.PositiveIntegerField(db_index=True)
    tier = models.ForeignKey("partners.Tier", on_delete=models.PROTECT, related_name="+")
    product_line = models.ForeignKey(
        ProductLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Blank: every product line of the tier.",
    )
    kind = models.CharField(
        max_length=20,
        choices=[
            ("fixed", "Fixed incentive"),
            ("percent_of_won", "Percentage of the won value"),
        ],
    )
    value = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(
        max_length=3, blank=True, help_text="ISO 4217; required for a fixed incentive."
    )

    class Meta:
        ordering = ["-policy_version", "tier__rank", "product_line__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "tier", "product_line"],
                name="incentive_rule_unique_per_version",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["fixed", "percent_of_won"]),
                name="incentive_rule_kind_valid",
                violation_error_message="Choose a fixed amount or a percentage of the won value.",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0)
                & (~Q(kind="percent_of_won") | Q(value__lte=100))
                & (~Q(kind="fixed") | ~Q(currency="")),
                name="incentive_rule_value_valid",
                violation_error_message="The value cannot be negative, a percentage is at most "
                "100, and a fixed amount needs a currency.",
            ),
        ]

    def __str__(self) -> str:
        line = self.product_line.name if self.product_line_id else "any line"
        return f"v{self.policy_version} {self.tier} / {line}: {self.kind} {self.value}"

    def clean(self) -> None:
        if self.kind == "fixed" and not self.currency:
            raise ValidationError({"currency": "A fixed incentive needs its currency."})
        if self.kind == "percent_of_won" and self.value is not None and self.value > 100:
            raise ValidationError({"value": "A percentage from 0 to 100."})
        if self.currency and (len(self.currency) != 3 or not self.currency.isalpha()):
            raise ValidationError({"currency": "An ISO 4217 code, e.g. EUR."})


# --- Registrations ----------------------------------------------------------------------------


class RegistrationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    INFO_REQUESTED = "info_requested", _("Info requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class ConflictStatus(models.TextChoices):
    CLEAR = "clear", _("Clear")
    POTENTIAL_CONFLICT = "potential_conflict", _("Potential conflict")
    CONFLICT = "conflict", _("Conflict")


class Stage(models.TextChoices):
    QUALIFICATION = "qualification", _("Qualification")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")


class RejectionReason(models.TextChoices):
    DUPLICATE = "duplicate", _("Duplicate")
    DIRECT_OPPORTUNITY = "direct_opportunity", _("Existing direct opportunity")
    PARTNER_REGISTRATION = "partner_registration", _("Existing partner registration")
    INSUFFICIENT_INFORMATION = "insufficient_information", _("Insufficient information")
    NOT_QUALIFIED = "not_qualified", _("Not qualified")
    OUTSIDE_TERRITORY = "outside_territory", _("Outside territory")
    BELOW_MINIMUM = "below_minimum", _("Below minimum deal size")
    OTHER = "other", _("Other")


# What a partner reads for a reason (pages, e-mails): a conflict decided against them says
# the customer is engaged, never with whom (ISO-04). The API keeps the precise code.
ALREADY_ENGAGED = _("The customer is already engaged")
PARTNER_REASON_LABELS = {
    RejectionReason.DIRECT_OPPORTUNITY: ALREADY_ENGAGED,
    RejectionReason.PARTNER_REGISTRATION: ALREADY_ENGAGED,
}


class Outcome(models.TextChoices):
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class BenefitKind(models.TextChoices):
    DISCOUNT_PERCENT = "discount_percent", _("Discount (%)")
    FIXED = "fixed", _("Fixed incentive")
    PERCENT_OF_WON = "percent_of_won", _("Percentage of the won value")


class RegistrationQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=["draft", "submitted", "info_requested", "approved"])

    def awaiting_decision(self):
        return self.filter(status__in=["submitted", "info_requested"])

    def protecting(self, now=None):
        now = now or timezone_now()
        return self.filter(status="approved", expires_at__gt=now)

    def expiring_before(self, ts):
        return self.filter(status="approved", expires_at__lte=ts)


class DealRegistration(models.Model):
    reference = models.CharField(max_length=20, unique=True, null=True, blank=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="registrations")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="registrations"
    )
    # The partner-side owner (issue 17 §3): the submitter at creation; reassigned by a partner
    # admin or a manager (deals.registrations.ownership), handed over when a user is
    # deactivated. Notifications about the registration go to the owner and its watchers.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_registrations",
    )

    customer_name = models.CharField(max_length=200)
    customer_domain = models.CharField(max_length=253, blank=True)
    customer_country = models.CharField(max_length=2)
    customer_address = models.CharField(max_length=500, blank=True)
    contact_name = models.CharField(max_length=150, blank=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    products = models.ManyToManyField(Product, related_name="registrations")
    estimated_value = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    expected_close_date = models.DateField()
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.QUALIFICATION)
    description = models.TextField(blank=True, max_length=5000)
    competitors = models.CharField(max_length=500, blank=True)

    status = models.CharField(
        max_length=20, choices=RegistrationStatus.choices, default=RegistrationStatus.DRAFT
    )
    conflict_status = models.CharField(
        max_length=20, choices=ConflictStatus.choices, null=True, blank=True
    )
    conflict_message = models.CharField(max_length=300, blank=True)
    policy_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Policy version applied at the last submission."
    )
    decision_policy_version = models.PositiveIntegerField(null=True, blank=True)

    submitted_at = models.DateTimeField(null=True, blank=True)
    first_submitted_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_hours = models.FloatField(
        null=True,
        blank=True,
        help_text="Business hours from first submission to the decision, under the holidays "
        "of the policy in force at the decision (set with decided_at, never after).",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="When a manager ended the protection (status revoked)."
    )
    extensions_used = models.PositiveSmallIntegerField(default=0)
    rejection_reason = models.CharField(max_length=30, choices=RejectionReason.choices, blank=True)
    decision_note = models.TextField(blank=True, max_length=2000)
    co_sell = models.BooleanField(default=False)

    outcome = models.CharField(max_length=4, choices=Outcome.choices, null=True, blank=True)
    actual_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    lost_reason = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    win_late = models.BooleanField(
        default=False,
        help_text="Reported won after its protection had lapsed: accepted, flagged for review.",
    )
    win_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a manager or the CRM's closed-won verified the win (the first of them).",
    )

    # The registered-deal benefit, frozen at approval with the policy version it came from
    # (docs/product.md "Rewarding registered and co-sold deals"): later tier or rule changes
    # never change it. Blank kind: no benefit applied.
    benefit_kind = models.CharField(max_length=20, choices=BenefitKind.choices, blank=True)
    benefit_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    benefit_currency = models.CharField(max_length=3, blank=True)
    benefit_policy_version = models.PositiveIntegerField(null=True, blank=True)

    # Custom registration fields (deals.customfields): {key: value}, and the form version the
    # registration was last saved or submitted with (its labels stay readable from that
    # version after the fields change). PostgreSQL indexes `custom` with GIN (migration 0017).
    custom = models.JSONField(default=dict, blank=True)
    form_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Custom-field form version of the last save or submission."
    )

    # Approval routing (issue 17 §4, deals.registrations.routing): who reviews it (a manager,
    # a team, or nobody yet: the "unassigned" queue), and which approval step it waits for.
    # Internal: never in a partner's representation. Only the last step's approval starts the
    # protection; an earlier one is a STEP_APPROVED event and moves `approval_step` on.
    assigned_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_registrations",
        limit_choices_to={"is_staff": True},
    )
    assigned_team = models.ForeignKey(
        "ApprovalTeam",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_registrations",
    )
    approval_step = models.PositiveSmallIntegerField(default=1)
    approval_steps = models.PositiveSmallIntegerField(default=1)
    second_step_rule = models.ForeignKey(
        "SecondStepRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The second-step rule that matched at submission (none: one step).",
    )

    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_registration", "Can review deal registrations")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RegistrationStatus.values), name="registration_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(conflict_status__isnull=True)
                | Q(conflict_status__in=ConflictStatus.values),
                name="registration_conflict_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(estimated_value__gte=0), name="registration_value_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(expires_at__gt=models.F("approved_at")),
                name="registration_expires_after_approval",
            ),
            models.CheckConstraint(
                condition=Q(status="approved", approved_at__isnull=False, expires_at__isnull=False)
                | ~Q(status="approved"),
                name="registration_approved_has_window",
            ),
            models.CheckConstraint(
                condition=Q(approval_step__gte=1, approval_step__lte=models.F("approval_steps")),
                name="registration_approval_step_in_range",
            ),
            models.CheckConstraint(
                condition=Q(decided_at__isnull=True, decision_hours__isnull=True)
                | Q(decided_at__isnull=False, decision_hours__isnull=False, decision_hours__gte=0),
                name="registration_decision_hours_with_decision",
            ),
        ]
        indexes = [
            # The registration lists' default order (newest first): a filtered list (custom
            # fields, bench/custom_fields) walks it and stops at a page instead of sorting.
            models.Index(fields=["-created_at", "-id"], name="registration_newest"),
            models.Index(fields=["partner", "status"], name="registration_partner_status"),
            models.Index(fields=["status", "sla_due_at"], name="registration_queue"),
            models.Index(fields=["assigned_manager", "status"], name="registration_assignee"),
            models.Index(fields=["status", "expires_at"], name="registration_expiry"),
            models.Index(fields=["submitted_at"], name="registration_submitted"),
            # Reports select a cohort by first submission, overall or for one partner.
            models.Index(fields=["first_submitted_at"], name="registration_first_submitted"),
            models.Index(
                fields=["partner", "first_submitted_at"], name="registration_partner_first_sub"
            ),
            # The summary's "overdue" count reads this index alone (status is in its condition).
            models.Index(
                fields=["sla_due_at", "first_submitted_at", "partner"],
                name="registration_awaiting_sla",
                condition=Q(status__in=["submitted", "info_requested"]),
            ),
            # Dashboard breakdowns of the open pipeline (by partner, stage, product line) over
            # a period read this index alone, not the registrations' rows.
            models.Index(
                fields=[
                    "first_submitted_at",
                    "partner",
                    "stage",
                    "currency",
                    "estimated_value",
                    "id",
                ],
                name="registration_open_pipeline",
                condition=Q(status__in=["submitted", "info_requested", "approved"]),
            ),
            # The weekly decision trend (count, approvals, median hours per decision week).
            models.Index(
                fields=[
                    "first_submitted_at",
                    "decided_at",
                    "decision_hours",
                    "approved_at",
                    "partner",
                ],
                name="registration_decisions",
                condition=Q(decision_hours__isnull=False),
            ),
            # Percentiles of time to decision read values in order from this index alone
            # (deals.reports.percentiles.percentiles_by_rank), filtered by period and partner inside it.
            models.Index(
                fields=["decision_hours", "first_submitted_at", "partner"],
                name="registration_decision_hours",
                condition=Q(decision_hours__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference or 'draft'} · {self.customer_name}"

    @property
    def customer_country_name(self) -> str:
        """The customer's country as people read it ("Germany"), not its code ("DE")."""
        import pycountry

        country = pycountry.countries.get(alpha_2=self.customer_country or "")
        if country is None:
            return self.customer_country or ""
        return getattr(country, "common_name", country.name)

    @property
    def is_protected(self) -> bool:
        return (
            self.status == RegistrationStatus.APPROVED
            and self.expires_at is not None
            and self.expires_at > timezone_now()
        )

    @property
    def days_left(self) -> int | None:
        if not self.is_protected:
            return None
        return max(0, (self.expires_at - timezone_now()).days)

    @property
    def partner_reason_label(self) -> str:
        """The rejection or revocation reason in the partner's words: the two conflict
        reasons read the same whoever the other party is (ISO-04)."""
        return PARTNER_REASON_LABELS.get(self.rejection_reason, self.get_rejection_reason_display())

    @property
    def benefit_label(self) -> str:
        """The frozen benefit in words ("12 % discount"), or "" when none applies."""
        value = self.benefit_value
        if not self.benefit_kind or value is None:
            return ""
        number = f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"
        if self.benefit_kind == BenefitKind.DISCOUNT_PERCENT:
            return f"{number} % discount"
        if self.benefit_kind == BenefitKind.PERCENT_OF_WON:
            return f"{number} % of the won value"
        return f"{value:,.2f} {self.benefit_currency} incentive"

    @property
    def partner_status_label(self) -> str:
        """The status as partners read it: a registration past its first approval step is
        "In review" (managers see "step 2 of 2"; partners never see the steps or who
        approves)."""
        if self.status == RegistrationStatus.SUBMITTED and self.approval_step > 1:
            return _("In review")
        return self.get_status_display()

    @property
    def is_last_step(self) -> bool:
        return self.approval_step >= self.approval_steps

    @property
    def is_overdue(self) -> bool:
        """Past the review SLA while a manager must act. An information request pauses the
        clock (the partner must act; resubmitting sets a new due time): never overdue."""
        return (
            self.status == RegistrationStatus.SUBMITTED
            and self.sla_due_at is not None
            and self.sla_due_at < timezone_now()
        )


# --- Events (append-only, hash-chained) ---------------------------------------------------------


class AppendOnlyError(Exception):
    """Events are append-only."""


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Registration events are append-only: update refused.")

    def delete(self):
        raise AppendOnlyError("Registration events are append-only: delete refused.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError("Registration events are append-only: bulk_update refused.")

    def visible_to_partner(self):
        return self.filter(internal=False)


class EventAction(models.TextChoices):
    CREATED = "created", _("Created")
    EDITED = "edited", _("Edited")
    SUBMITTED = "submitted", _("Submitted")
    RESUBMITTED = "resubmitted", _("Resubmitted")
    CONFLICT_DETECTED = "conflict_detected", _("Conflict detected")
    APPROVED = "approved", _("Approved")
    AUTO_APPROVED = "auto_approved", _("Auto-approved")
    REJECTED = "rejected", _("Rejected")
    INFO_REQUESTED = "info_requested", _("Info requested")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    CLOSED_WON = "closed_won", _("Closed won")
    CLOSED_LOST = "closed_lost", _("Closed lost")
    EXPIRED = "expired", _("Expired")
    EXTENSION_REQUESTED = "extension_requested", _("Extension requested")
    EXTENSION_APPROVED = "extension_approved", _("Extension approved")
    EXTENSION_REJECTED = "extension_rejected", _("Extension rejected")
    COMMENTED = "commented", _("Commented")
    INTERNAL_NOTE = "internal_note", _("Internal note")
    ACTIVITY_LOGGED = "activity_logged", _("Activity logged")
    CONFLICT_RESOLVED = "conflict_resolved", _("Conflict resolved")
    REMINDER_DUE = "reminder_due", _("Expiry reminder")
    SLA_BREACHED = "sla_breached", _("SLA breached")
    OPPORTUNITY_DELETED = "opportunity_deleted", _("Direct opportunity deleted")
    REVOKED = "revoked", _("Revoked")
    APPROVAL_OVERRIDE = "approval_override", _("Approved over an open conflict")
    CONFLICT_CLOSED = "conflict_closed", _("Conflict closed")
    CO_SELL_PROPOSED = "co_sell_proposed", _("Co-sell proposed by the sales rep")
    CO_SELL_ACCEPTED = "co_sell_accepted", _("Co-sell accepted by the sales rep")
    WIN_VERIFIED = "win_verified", _("Win verified")
    ACCRUAL_APPROVED = "accrual_approved", _("Incentive approved")
    ACCRUAL_PAID = "accrual_paid", _("Incentive paid")
    REASSIGNED = "reassigned", _("Owner changed")
    ATTACHMENT_ADDED = "attachment_added", _("Evidence attached")
    ATTACHMENT_DELETED = "attachment_deleted", _("Evidence removed")
    # Issue 17 §4: approval routing (internal events: partners never see them).
    ASSIGNED = "assigned", _("Review assigned")
    STEP_APPROVED = "step_approved", _("Approval step completed")


class RegistrationEvent(models.Model):
    """Append-only history. Each row carries a SHA-256 over its content and the previous row's
    hash in the same chain (one chain per registration; opportunity snapshots chain per
    opportunity), so any edit or removal breaks verification. The database refuses UPDATE and
    DELETE (triggers, migration 0002); the ORM refuses too (EventQuerySet, save, delete)."""

    chain = models.CharField(max_length=40, db_index=True)
    seq = models.PositiveIntegerField()
    registration = models.ForeignKey(
        DealRegistration,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=254, help_text="E-mail or 'system'.")
    action = models.CharField(max_length=30, choices=EventAction.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    details = models.JSONField(default=dict, blank=True)
    internal = models.BooleanField(default=False, help_text="Hidden from partners.")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="event_chain_seq_unique"),
        ]
        indexes = [models.Index(fields=["registration", "seq"], name="event_registration_seq")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Registration events are append-only: update refused.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Registration events are append-only: delete refused.")

    def content_for_hash(self) -> str:
        payload = {
            "chain": self.chain,
            "seq": self.seq,
            "registration": self.registration_id,
            "at": self.at.isoformat(),
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "from": self.from_status,
            "to": self.to_status,
            "details": self.details,
            "internal": self.internal,
            "policy_version": self.policy_version,
            "prev": self.prev_hash,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)

    def compute_hash(self) -> str:
        return hashlib.sha256(self.content_for_hash().encode()).hexdigest()


# --- Conversation and work on a registration ----------------------------------------------------


class Comment(models.Model):
    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    internal = models.BooleanField(default=False, help_text="Manager-only note.")
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment #{self.pk} on {self.registration_id}"


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ExtensionRequest(models.Model):
    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="extension_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=2000)
    status = models.CharField(
        max_length=10, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, max_length=2000)
    previous_expires_at = models.DateTimeField(null=True, blank=True)
    new_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One pending request per registration: two racing requests cannot both be created.
            models.UniqueConstraint(
                fields=["registration"],
                condition=Q(status="pending"),
                name="extension_one_pending_per_registration",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ExtensionStatus.values), name="extension_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Extension request #{self.pk} ({self.status})"


class ActivityKind(models.TextChoices):
    MEETING = "meeting", _("Meeting")
    DEMO = "demo", _("Demo")
    PROPOSAL = "proposal", _("Proposal")
    CALL = "call", _("Call")
    OTHER = "other", _("Other")


class ActivityEntry(models.Model):
    """Work a partner records on a registration: evidence in conflict and extension reviews."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="activities"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    occurred_on = models.DateField()
    summary = models.CharField(max_length=1000)
    # The evidence this entry points to (one of the registration's attachments), if any.
    attachment = models.ForeignKey(
        "Attachment", on_delete=models.PROTECT, null=True, blank=True, related_name="activities"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        verbose_name_plural = "activity entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"


class RegistrationWatcher(models.Model):
    """A colleague who follows a registration of their company: they hear what its owner hears
    (deals.notifications.outbox). Written by deals.registrations.ownership."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.CASCADE, related_name="watchers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watched_registrations"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["registration", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "user"], name="registration_watcher_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.registration_id}"


# --- Approval routing (issue 17 §4) --------------------------------------------------------------


class ApprovalTeam(models.Model):
    """A group of channel managers a registration can be routed to: any member may claim it."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="approval_teams",
        blank=True,
        limit_choices_to={"is_staff": True},
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _routing_value_errors(rule) -> dict[str, list[str]]:
    """Shared checks of a value range in a currency (routing and second-step rules)."""
    errors: dict[str, list[str]] = {}
    if getattr(rule, "currency", "") and rule.currency not in CURRENCY_CODES:
        errors["currency"] = ["Not an ISO 4217 currency code."]
    return errors


class RoutingRule(models.Model):
    """One routing rule: the first active rule (by `order`) whose every set condition matches
    a newly submitted registration assigns it to a manager or a team. An empty condition
    matches everything; a registration no rule matches lands unassigned."""

    order = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_staff": True},
        help_text="Matches partners whose channel manager is this person.",
    )
    countries = models.JSONField(
        default=list,
        blank=True,
        help_text="Customer countries (ISO codes) of a region, e.g. DE, AT, CH; empty: any.",
    )
    product_lines = models.ManyToManyField(
        ProductLine,
        blank=True,
        related_name="+",
        help_text="Matches when the deal has a product of one of these lines; none: any.",
    )
    currency = models.CharField(
        max_length=3, blank=True, help_text="The deal-size range's currency (required with it)."
    )
    min_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Inclusive."
    )
    assign_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_staff": True},
    )
    assign_team = models.ForeignKey(
        ApprovalTeam, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assign_manager__isnull=False, assign_team__isnull=True)
                | Q(assign_manager__isnull=True, assign_team__isnull=False),
                name="routing_rule_one_assignee",
                violation_error_message="Assign to a manager or to a team (exactly one).",
            ),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="routing_rule_range_ordered",
                violation_error_message="The minimum value must not exceed the maximum.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    def clean(self) -> None:
        errors = _routing_value_errors(self)
        if (self.min_value is not None or self.max_value is not None) and not self.currency:
            errors.setdefault("currency", []).append("A deal-size range needs its currency.")
        codes = self.countries if isinstance(self.countries, list) else None
        if codes is None or any(
            not isinstance(c, str) or len(c) != 2 or not c.isupper() for c in codes
        ):
            errors["countries"] = ["A list of two-letter country codes, e.g. DE, AT."]
        if errors:
            raise ValidationError(errors)


class SecondStepRule(models.Model):
    """When a registration needs a second approval (e.g. a sales director): its value at or
    above the threshold of its currency, or a product of one of the chosen lines. The first
    active rule by `order` that matches applies; its approver and SLA are the second step's."""

    order = models.PositiveIntegerField(default=100)
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    thresholds = models.JSONField(
        default=dict, blank=True, help_text='Per currency, e.g. {"USD": "250000.00"}.'
    )
    product_lines = models.ManyToManyField(
        ProductLine,
        blank=True,
        related_name="+",
        help_text="Deals with a product of these lines need the second step whatever the value.",
    )
    approver_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_staff": True},
    )
    approver_team = models.ForeignKey(
        ApprovalTeam, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sla_business_days = models.PositiveSmallIntegerField(
        "second step SLA (business days)", default=2, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "second approval step"
        verbose_name_plural = "second approval steps"
        constraints = [
            models.CheckConstraint(
                condition=Q(approver_manager__isnull=False, approver_team__isnull=True)
                | Q(approver_manager__isnull=True, approver_team__isnull=False),
                name="second_step_one_approver",
                violation_error_message="The second step is approved by a manager or a team.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def threshold(self, currency: str) -> Decimal | None:
        value = (self.thresholds or {}).get(currency)
        return Decimal(str(value)) if value not in (None, "") else None

    def clean(self) -> None:
        errors = Errors()
        if not isinstance(self.thresholds, dict):
            errors.add("thresholds", 'An object of currency: amount, e.g. {"USD": "250000.00"}.')
        else:
            for code, amount in self.thresholds.items():
                if code not in CURRENCY_CODES:
                    errors.add("thresholds", f"{code}: not an ISO 4217 currency code.")
                check_money(errors, "thresholds", amount)
        if errors:
            raise ValidationError(dict(errors))


class Delegation(models.Model):
    """A manager away routes their review queue to a colleague for a period: during
    [starts_at, ends_at) the delegate sees the manager's assignments as their own ("mine"),
    may act on them as the manager could, and hears what the manager would hear."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="delegations_given",
        limit_choices_to={"is_staff": True},
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="delegations_received",
        limit_choices_to={"is_staff": True},
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="delegation_ends_after_start",
                violation_error_message="A delegation ends after it starts.",
            ),
            models.CheckConstraint(
                condition=~Q(manager=models.F("delegate")),
                name="delegation_not_to_self",
                violation_error_message="Delegate to a colleague, not to yourself.",
            ),
        ]
        indexes = [models.Index(fields=["delegate", "ends_at"], name="delegation_delegate")]

    def __str__(self) -> str:
        return f"{self.manager_id} → {self.delegate_id}"


def attachments_storage():
    """The storage that holds attachments' bytes: STORAGES["attachments"] (local files under
    var/ by default, S3-compatible in production; README "Attachments")."""
    from django.core.files.storage import storages

    return storages["attachments"]


class Attachment(models.Model):
    """A file a partner attached to a registration as evidence. The type is the sniffed one
    (deals/registrations/attachments.py); `sha256` is also in the upload's event, so the chain
    proves what evidence existed when. A removed attachment keeps its row (deleted_at set) and
    loses its bytes."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="attachments"
    )
    name = models.CharField(max_length=150, help_text="The sanitised file name.")
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    # The object's key in attachments_storage() (`attachments/<registration>/<random>`); the
    # partner's file name never reaches the storage.
    storage_key = models.CharField(max_length=200, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["registration", "created_at"],
                name="attachment_registration_live",
                condition=Q(deleted_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.registration_id})"


# --- Direct sales pipeline ----------------------------------------------------------------------


class OpportunityStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class DirectOpportunity(models.Model):
    external_id = models.CharField(max_length=100, unique=True)
    account_name = models.CharField(max_length=200)
    account_domain = models.CharField(max_length=253, blank=True)
    country = models.CharField(max_length=2)
    owner_email = models.EmailField(max_length=254, blank=True)
    products = models.ManyToManyField(Product, related_name="opportunities", blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    stage = models.CharField(max_length=60, blank=True)
    close_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    won_at = models.DateTimeField(null=True, blank=True)
    # A manager resolved a conflict as partner_wins: the partner leads this deal (the rep
    # is told); the opportunity stays in the pipeline.
    partner_led = models.BooleanField(default=False)
    partner_led_registration = models.ForeignKey(
        DealRegistration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name_plural = "direct opportunities"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OpportunityStatus.values), name="opportunity_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="opportunity_amount_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["status", "owner_email"], name="opportunity_status_owner")]

    def __str__(self) -> str:
        return f"{self.external_id} · {self.account_name}"


class CoSellLead(models.TextChoices):
    PARTNER = "partner", "Partner"
    DIRECT = "direct", "Direct sales"


class CoSellAgreement(models.Model):
    """The terms of a conflict resolved as co_sell: who leads, the partner's credit and the
    rep's quota credit in percent (comp neutral: 100 each by default), and who confirmed it
    when ({"by", "role", "at"}; the same facts are in the event chain)."""

    conflict_id = models.BigIntegerField(unique=True)
    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="co_sell_agreements"
    )
    opportunity = models.ForeignKey(
        DirectOpportunity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="co_sell_agreements",
    )
    rep_email = models.EmailField(max_length=254, blank=True)
    lead = models.CharField(max_length=10, choices=CoSellLead.choices, default=CoSellLead.PARTNER)
    partner_credit_percent = models.PositiveSmallIntegerField(default=100)
    rep_credit_percent = models.PositiveSmallIntegerField(default=100)
    confirmations = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(partner_credit_percent__lte=100) & Q(rep_credit_percent__lte=100),
                name="co_sell_credit_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Co-sell on conflict #{self.conflict_id} ({self.lead} leads)"


# --- Notifications (outbox) ---------------------------------------------------------------------


class NotificationKind(models.TextChoices):
    SUBMISSION_RECEIVED = "submission_received", _("Submission received")
    APPROVED = "approved", _("Registration approved")
    REJECTED = "rejected", _("Registration rejected")
    INFO_REQUESTED = "info_requested", _("Information requested")
    RESUBMITTED = "resubmitted", _("Partner resubmitted")
    COMMENT = "comment", _("New comment")
    CONFLICT_DETECTED = "conflict_detected", _("Conflict detected")
    EXTENSION_REQUESTED = "extension_requested", _("Extension requested")
    EXTENSION_DECIDED = "extension_decided", _("Extension decided")
    EXPIRY_REMINDER = "expiry_reminder", _("Expiry reminder")
    EXPIRED = "expired", _("Registration expired")
    SLA_OVERDUE = "sla_overdue", _("Review overdue")
    USER_INVITED = "user_invited", _("Invitation")
    WITHDRAWALS_FLAGGED = "withdrawals_flagged", _("Unusual withdrawals after conflicts")
    REVOKED = "revoked", _("Registration revoked")
    CONFLICT_RESOLVED = "conflict_resolved", _("Conflict resolved")
    CO_SELL_PROPOSED = "co_sell_proposed", _("Co-sell proposed by a sales rep")
    CO_SELL_ACCEPTED = "co_sell_accepted", _("Co-sell accepted by a sales rep")
    WEBHOOK_DISABLED = "webhook_disabled", _("Webhook endpoint disabled")
    CLOSED = "registration_closed", _("Registration closed")
    WIN_VERIFIED = "win_verified", _("Win verified")
    INVITATION_WITHHELD = "invitation_withheld", _("Invitation to an existing account")
    REASSIGNED = "registration_reassigned", _("Registration assigned to you")
    APPROVAL_NEEDED = "approval_needed", _("Review assigned to you")


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "E-mail"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One notification for one recipient on one channel; written in the same transaction as
    the event that causes it. `dedupe_key` (event × recipient × channel, or a reminder key)
    makes every delivery idempotent."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    event = models.ForeignKey(
        RegistrationEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registration = models.ForeignKey(
        DealRegistration,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone_now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id} ({self.channel}, {self.status})"


class NotificationPreference(models.Model):
    """E-mail opt-out per kind. In-app is always on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    email_enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_pref_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: e-mail {'on' if self.email_enabled else 'off'}"


class ConflictCheckLog(models.Model):
    """Every availability check (an oracle about competitors, OWASP API6): who asked, for which
    partner, a hash of the customer key (never the name), and the verdict."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    partner_id = models.BigIntegerField(null=True, blank=True)
    customer_key_hash = models.CharField(max_length=64)
    verdict = models.CharField(max_length=20)
    source = models.CharField(max_length=10, default="api")
    at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["partner_id", "at"], name="conflict_check_partner_at")]

    def __str__(self) -> str:
        return f"check by {self.user_id} at {self.at:%Y-%m-%d %H:%M} ({self.verdict})"


class ReportCell(models.Model):
    """Counts and sums of submitted registrations per first-submission day and report key.

    Written only by database triggers on deals_dealregistration and partners_partner (migration
    0005, SQL in deals/reports/rollup.py): every change to a registration's report key inserts a
    delta row (-1 for the old key, +1 for the new one; nothing for changes reports ignore), so
    concurrent writers never wait on each other here. `deals.reports.rollup.report_cells_compact`
    (a periodic job) folds deltas into one row per key. The reports read these rows instead of
    scanning a million registrations when no partner or product-line filter is set; the live
    registrations stay the definition (tests assert both give the same figures)."""

    day = models.DateField()
    tier_id = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    rejection_reason = models.CharField(max_length=30, blank=True)
    decided = models.BooleanField()
    approved = models.BooleanField()
    late = models.BooleanField(help_text="Decided after the SLA was due.")
    extended = models.BooleanField(help_text="Approved and extended at least once.")
    co_sell = models.BooleanField()
    n = models.IntegerField()
    estimated = models.DecimalField(max_digits=20, decimal_places=2)
    actual = models.DecimalField(max_digits=20, decimal_places=2)
    actual_n = models.IntegerField(help_text="How many of the n have an actual value.")

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_cell_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.status} {self.currency} n={self.n}"


class ReportHoursCell(models.Model):
    """How many decisions took hours in [8·bucket, 8·bucket + 8) business hours, per
    first-submission day and tier: the histogram the summary's percentiles start from (it
    finds the bucket holding a rank here, then reads the exact value from the registrations'
    decision-hours index). Kept by the same triggers as ReportCell (deals/reports/rollup.py)."""

    day = models.DateField()
    tier_id = models.BigIntegerField(null=True)
    bucket = models.IntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="report_hours_cell_day")]

    def __str__(self) -> str:
        return f"{self.day} bucket {self.bucket} n={self.n}"


# --- Custom registration fields (deals.customfields) --------------------------------------------


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    BOOLEAN = "boolean", "Yes/no"


class RegistrationField(models.Model):
    """A field administrators add to the registration form. Never deleted (deactivated), so
    stored values keep their key; every change publishes a RegistrationFormVersion."""

    key = models.CharField(
        max_length=40,
        unique=True,
        help_text="Lower-case letters, digits and _; starts with a letter. Never changes.",
    )
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=CustomFieldType.choices)
    required = models.BooleanField(default=False)
    choices = models.JSONField(
        default=list, blank=True, help_text="The allowed values of a choice or multi-choice field."
    )
    help = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    tiers = models.ManyToManyField(
        "partners.Tier", blank=True, related_name="+", help_text="None: every partner."
    )
    product_lines = models.ManyToManyField(
        ProductLine,
        blank=True,
        related_name="+",
        help_text="None: every registration. Else required only for deals with one of them.",
    )
    auto_approve_values = models.JSONField(
        default=list,
        blank=True,
        help_text="Yes/no and choice fields: auto-approve only registrations whose value is "
        "one of these. Empty: no condition.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)
    updated_at = UpdatedAtField()

    class Meta:
        ordering = ["order", "key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=CustomFieldType.values), name="registration_field_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"


class RegistrationFormVersion(models.Model):
    """One version of the custom-field set: a snapshot of the active fields' definitions.
    Rows are never edited; a registration names the version it was submitted with."""

    version = models.PositiveIntegerField(unique=True)
    fields = models.JSONField(default=list)
    retired = models.JSONField(
        default=list, blank=True, help_text="The deleted fields (their values are kept)."
    )
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Form v{self.version}"


# --- Reporting currency (issue 18 §5) -----------------------------------------------------------


class ReportingCurrency(models.Model):
    """The currency dashboards convert totals into (one row; the latest is in force). A change
    needs no recomputation: exchange rates are kept per reporting currency."""

    code = models.CharField(max_length=3, help_text="ISO 4217, e.g. USD.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "reporting currency"
        verbose_name_plural = "reporting currency"

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        code = (self.code or "").strip().upper()
        if code not in CURRENCY_CODES:
            raise ValidationError({"code": "An ISO 4217 currency code, e.g. USD or EUR."})
        self.code = code


class ExchangeRate(models.Model):
    """How many units of the reporting currency one unit of `currency` was worth in `month`
    (the first day of the month). Dashboards convert each deal at the rate of its month."""

    reporting_currency = models.CharField(max_length=3)
    currency = models.CharField(max_length=3)
    month = models.DateField(help_text="The first day of the month the rate applies to.")
    rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        help_text="Units of the reporting currency for one unit of the currency.",
    )

    class Meta:
        ordering = ["reporting_currency", "-month", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["reporting_currency", "currency", "month"],
                name="exchange_rate_unique_per_month",
                violation_error_message="There is already a rate for this currency and month.",
            ),
            models.CheckConstraint(
                condition=Q(rate__gt=0),
                name="exchange_rate_positive",
                violation_error_message="A rate is greater than zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.reporting_currency} ({self.month:%Y-%m})"

    def clean(self) -> None:
        errors = {}
        for name in ("reporting_currency", "currency"):
            code = (getattr(self, name) or "").strip().upper()
            if code not in CURRENCY_CODES:
                errors[name] = "An ISO 4217 currency code, e.g. USD or EUR."
            setattr(self, name, code)
        if self.month and self.month.day != 1:
            self.month = self.month.replace(day=1)
        if self.currency and self.currency == self.reporting_currency:
            errors["currency"] = "The reporting currency converts at 1; no rate is needed."
        if errors:
            raise ValidationError(errors)
