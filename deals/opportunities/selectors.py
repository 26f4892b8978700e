"""Reads of direct opportunities."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from deals.models import (
    DirectOpportunity,
    Product,
)
from partners.roles import is_manager

# --- Opportunities, notifications -----------------------------------------------------------------


def opportunities_visible_to(user) -> QuerySet[DirectOpportunity]:
    if not is_manager(user):
        return DirectOpportunity.objects.none()
    return DirectOpportunity.objects.prefetch_related(
        Prefetch("products", queryset=Product.objects.select_related("product_line"))
    )
