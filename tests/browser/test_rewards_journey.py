"""Rewarding a registered deal, in a real browser (issue 19): the partner reports a win, the
manager verifies it from the Rewards page, approves the accrual and marks it paid, and the
partner follows the amount on the Earnings page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rewards.models import Accrual
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_rewards_journey(open_session, partner_a, product):
    tier = partner_a.tier
    tier.discount_percent = Decimal("12.00")
    tier.save()
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    manager = factories.manager_user(email="maria@vendor.example")
    registration = factories.make_registration(
        alice,
        status="approved",
        manager=manager,
        customer_name="Globex Corporation",
        customer_domain="globex.com",
    )

    # --- The partner sees the frozen benefit and reports the win ------------------------------
    partner = open_session()
    page = partner.page
    partner.sign_in_as(alice)
    page.goto(f"/registrations/{registration.pk}/")
    expect(page.get_by_test_id("benefit")).to_contain_text("12 % discount")
    page.get_by_label("Outcome", exact=True).select_option("won")
    page.get_by_label("Close date").fill(timezone.now().date().isoformat())
    page.get_by_label("Actual value").fill("50000.00")
    page.get_by_role("button", name="Close registration").click()
    expect(page.get_by_test_id("confirm-value")).to_contain_text("50,000.00")
    page.get_by_role("button", name="Confirm: report as won").click()
    expect(page.get_by_test_id("win-verification")).to_contain_text("Win awaiting verification")
    partner.screenshot("rewards-01-partner-won")

    # --- The manager verifies it from the Rewards page ------------------------------------------
    staff = open_session()
    mpage = staff.page
    staff.sign_in_as(manager)
    mpage.goto("/manage/rewards/")
    wins = mpage.get_by_test_id("win-to-verify")
    expect(wins).to_have_count(1)
    wins.first.get_by_role("link", name="Globex Corporation").click()
    mpage.get_by_test_id("verify-win").click()
    expect(mpage.locator(".messages")).to_contain_text("accrual of 6000.00 USD created")
    staff.screenshot("rewards-02-verified")

    # --- The partner's Earnings page shows it pending ------------------------------------------
    page.goto("/earnings/")
    expect(page.get_by_test_id("earnings-USD")).to_contain_text("6,000.00")
    expect(page.get_by_test_id("accrual-row")).to_contain_text("Pending")
    partner.screenshot("rewards-03-earnings-pending")

    # --- Approved in bulk, then paid ------------------------------------------------------------
    mpage.goto("/manage/rewards/")
    mpage.get_by_test_id("approve-selected").click()
    expect(mpage.locator(".messages")).to_contain_text("1 accrual approved")
    mpage.goto("/manage/rewards/?status=approved")
    mpage.get_by_label("Payout reference").fill("PAY-2026-12-001")
    mpage.get_by_role("button", name="Mark paid").click()
    expect(mpage.locator(".messages")).to_contain_text("marked paid")
    assert Accrual.objects.get(registration_id=registration.pk).status == "paid"

    page.goto("/earnings/")
    row = page.get_by_test_id("accrual-row")
    expect(row).to_contain_text("Paid")
    expect(row).to_contain_text("PAY-2026-12-001")
    partner.screenshot("rewards-04-earnings-paid")
    assert not partner.console_errors and not staff.console_errors
