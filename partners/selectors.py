"""Reads on partners that need care (tenant-scoped by the partner passed in)."""

from __future__ import annotations

from django.db.models import QuerySet

from partners.models import Membership, Partner, User


def partner_members(partner: Partner) -> QuerySet[Membership]:
    """The partner's users (active or not), by e-mail."""
    return Membership.objects.filter(partner=partner).select_related("user").order_by("user__email")


def sales_reps() -> QuerySet[User]:
    """Every sales rep account (active or not), by e-mail; never a partner user."""
    return User.objects.filter(is_sales_rep=True, membership__isnull=True).order_by("email")
