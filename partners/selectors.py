"""Reads on partners that need care (tenant-scoped by the partner passed in)."""

from __future__ import annotations

from django.db.models import QuerySet

from partners.models import Membership, Partner


def partner_members(partner: Partner) -> QuerySet[Membership]:
    """The partner's users (active or not), by e-mail."""
    return Membership.objects.filter(partner=partner).select_related("user").order_by("user__email")
