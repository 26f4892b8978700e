"""The customer identity of a registration or a direct opportunity, as the conflict engine sees it."""

from __future__ import annotations

from conflicts.scoring import Identity
from deals.models import (
    DealRegistration,
    DirectOpportunity,
)

# --- Identity in the index --------------------------------------------------------------------


def registration_identity(registration: DealRegistration) -> Identity:
    return Identity.from_raw(
        name=registration.customer_name,
        domain=registration.customer_domain,
        email=registration.contact_email,
        country=registration.customer_country,
    )


def _product_lines(products) -> list[str]:
    return sorted({p.product_line.code for p in products})


def _opportunity_identity(opportunity: DirectOpportunity) -> Identity:
    return Identity.from_raw(
        name=opportunity.account_name,
        domain=opportunity.account_domain,
        country=opportunity.country,
    )
