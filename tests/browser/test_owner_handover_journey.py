"""Issue 17 §3 in a real browser: a partner admin deactivates a colleague who owns open
registrations, chooses who takes them over, and then finds them under the new owner; the new
owner is told."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from deals.models import DealRegistration, NotificationKind
from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR

pytestmark = pytest.mark.django_db(transaction=True)


def test_partner_admin_deactivates_a_user_and_reassigns_their_deals(
    open_session, partner_a, product
):
    admin = factories.partner_user(partner_a, role="admin", email="ada@acme-resellers.example")
    leaving = factories.partner_user(partner_a, email="leo@acme-resellers.example")
    leaving.name = "Leo Leaving"
    leaving.save()
    taking_over = factories.partner_user(partner_a, email="tara@acme-resellers.example")
    taking_over.name = "Tara Takeover"
    taking_over.save()
    deals = [
        factories.make_registration(leaving, customer_name=f"Handover Customer {n}")
        for n in range(2)
    ]

    session = open_session()
    page = session.page
    session.sign_in_as(admin)
    page.goto("/company/users/")
    row = page.get_by_test_id("member").filter(has_text=leaving.email)
    row.get_by_role("button", name="Deactivate").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Deactivate Leo Leaving")
    listed = page.get_by_test_id("handover-registrations")
    for registration in deals:
        expect(listed).to_contain_text(registration.reference)
    session.screenshot("17-handover")
    page.get_by_label("New owner").select_option(str(taking_over.pk))
    page.get_by_role("button", name="Deactivate and hand over").click()

    expect(page.locator("body")).to_contain_text("leo@acme-resellers.example can no longer sign in")
    expect(page.locator("body")).to_contain_text("now belong to Tara Takeover")
    expect(page.get_by_test_id("member").filter(has_text=leaving.email)).to_contain_text(
        "Deactivated"
    )

    # The list shows the new owner; "Mine" for Tara holds exactly the two deals.
    page.goto("/registrations/")
    for registration in deals:
        expect(
            page.get_by_test_id("registration-row").filter(has_text=registration.reference)
        ).to_contain_text("Tara Takeover")
    session.screenshot("17-handover-list")
    assert set(
        DealRegistration.objects.filter(pk__in=[d.pk for d in deals]).values_list(
            "owner_id", flat=True
        )
    ) == {taking_over.pk}
    assert taking_over.notifications.filter(kind=NotificationKind.REASSIGNED).count() >= 2

    tara = open_session()
    tara.sign_in_as(taking_over)
    tara.page.goto("/registrations/")
    tara.page.get_by_label("Owner").select_option("me")
    tara.page.get_by_role("button", name="Apply").click()
    expect(tara.page.get_by_test_id("registration-row")).to_have_count(2)
    assert [t for t in session.console_errors if CSP_ERROR.search(t)] == []
