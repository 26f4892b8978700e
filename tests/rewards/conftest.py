"""Fixtures for the rewards rules (issue 19)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from deals.models import IncentiveRule
from deals.policy import policy_current


@pytest.fixture
def gold_discount(partner_a, partner_b):
    """Both test partners are gold; gold gives a 12 % registered-deal discount."""
    tier = partner_a.tier
    tier.discount_percent = Decimal("12.00")
    tier.save()
    return tier


def incentive_rule(tier, *, kind, value, currency="", product_line=None) -> IncentiveRule:
    return IncentiveRule.objects.create(
        policy_version=policy_current().version,
        tier=tier,
        product_line=product_line,
        kind=kind,
        value=Decimal(value),
        currency=currency,
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
