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


def channel_managers() -> list[User]:
    """Active users who can be a partner's channel manager (partners.roles.is_manager: staff
    with the review permission, or superusers), by name."""
    from partners.roles import manager_q

    return list(
        User.objects.filter(is_active=True, is_integration=False, membership__isnull=True)
        .filter(manager_q())
        .distinct()
        .order_by("name", "email")
    )


def applications_for_review(status: str | None):
    """Partner applications, newest first, optionally of one status."""
    from partners.models import PartnerApplication

    queryset = PartnerApplication.objects.select_related("decided_by", "partner")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-submitted_at", "-id")
