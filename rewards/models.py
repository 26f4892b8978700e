"""Incentive accruals: what a verified win earns its partner (issue 19).

One accrual per registration (a unique constraint: two verifications racing can never both
create one), frozen at verification from the registration's frozen benefit, the won value and
a co-sell agreement's partner credit. Status moves pending -> approved -> paid only through
rewards.services (compare-and-set on the status), each move with who and when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prm.lib.time import timezone_now


class AccrualStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")


class AccrualKind(models.TextChoices):
    DISCOUNT_PERCENT = "discount_percent", _("Discount (%)")
    FIXED = "fixed", _("Fixed incentive")
    PERCENT_OF_WON = "percent_of_won", _("Percentage of the won value")
    NONE = "none", _("No benefit")


class Accrual(models.Model):
    registration = models.OneToOneField(
        "deals.DealRegistration", on_delete=models.PROTECT, related_name="accrual"
    )
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=AccrualKind.choices)
    basis = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="The won value (percentages) or the fixed incentive, in `currency`.",
    )
    rate = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Percent of the basis (100 for a fixed amount)."
    )
    credit_percent = models.PositiveSmallIntegerField(
        default=100, help_text="The partner's credit under a co-sell agreement (100 otherwise)."
    )
    amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        help_text="basis × rate % × credit %, rounded to the currency's minor units.",
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=AccrualStatus.choices, default=AccrualStatus.PENDING
    )
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    late = models.BooleanField(default=False, help_text="The win was reported after expiry.")
    verification_source = models.CharField(max_length=10)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reference = models.CharField(max_length=100, blank=True, help_text="The payout reference.")
    created_at = models.DateTimeField(default=timezone_now, editable=False, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AccrualStatus.values), name="accrual_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(basis__gte=0) & Q(rate__gte=0),
                name="accrual_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(credit_percent__lte=100), name="accrual_credit_percent_range"
            ),
            models.CheckConstraint(
                condition=Q(status="pending")
                | Q(approved_at__isnull=False, status__in=["approved", "paid"]),
                name="accrual_approved_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | (Q(paid_at__isnull=False) & ~Q(reference="")),
                name="accrual_paid_has_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "status"], name="accrual_partner_status"),
            models.Index(fields=["status", "created_at"], name="accrual_status_created"),
        ]

    def __str__(self) -> str:
        return f"Accrual #{self.pk} {self.amount} {self.currency} ({self.status})"
