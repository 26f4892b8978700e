"""The demo's rewards (seed_rewards after seed_demo): verified wins with accruals in every
status, some wins left to verify, and a second run adds nothing."""

from __future__ import annotations

import io

from django.core.management import call_command

from deals.models import DealRegistration
from rewards.models import Accrual


def test_seed_rewards_after_seed_demo(db):
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_rewards", stdout=out)
    assert "Rewards ready" in out.getvalue()
    statuses = set(Accrual.objects.values_list("status", flat=True))
    assert statuses == {"pending", "approved", "paid"}
    assert DealRegistration.objects.filter(status="won", win_verified_at__isnull=True).exists()
    assert Accrual.objects.exclude(amount=0).exists()  # the demo tiers give discounts
    count = Accrual.objects.count()
    call_command("seed_rewards", stdout=io.StringIO())
    assert Accrual.objects.count() == count
