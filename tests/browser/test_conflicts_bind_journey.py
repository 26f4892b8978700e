"""Conflicts that bind, in a real browser (issue 14): the manager cannot approve over a protected
registration, finds the conflict on the work list and on the earlier registration, resolves it
against the approved one (revoked), and the partner reads a neutral message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from deals.models import DealRegistration
from deals.registrations import services
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_conflicts_bind_journey(open_session, partner_a, partner_b, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b, email="bob@bravo-solutions.example")
    manager = factories.manager_user(email="maria@vendor.example")
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    services.registration_approve(registration=first, actor=manager)
    second = factories.make_registration(
        bob, customer_name="GLOBEX Corp.", customer_domain="globex.com"
    )

    # --- The manager: approving the later registration is refused -------------------------
    session = open_session()
    page = session.page
    session.sign_in_as(manager)
    page.goto(f"/manage/registrations/{second.pk}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("unresolved conflict")
    expect(page.get_by_test_id("status")).to_have_text("Submitted")

    # --- The work list shows the conflict; the earlier registration shows it too -------------
    page.get_by_role("link", name="Conflicts").first.click()
    rows = page.get_by_test_id("conflict-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("After approval")
    rows.first.get_by_role("link", name="Globex Corporation").click()
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_contain_text("Raised by a later registration")
    expect(conflict).to_contain_text(second.reference)
    session.screenshot("bind-01-earlier-side")
    conflict.get_by_role("button", name="The later registration wins").click()
    expect(page.locator(".messages")).to_contain_text("Conflict resolved: Partner wins")
    expect(page.get_by_test_id("status")).to_have_text("Revoked")
    session.screenshot("bind-02-revoked")
    assert DealRegistration.objects.get(pk=first.pk).status == "revoked"

    # --- The later registration can now be approved ------------------------------------------
    page.goto(f"/manage/registrations/{second.pk}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("status")).to_have_text("Approved")

    # --- Partner A reads a neutral message -----------------------------------------------------
    partner = open_session()
    partner.sign_in_as(alice)
    partner.page.goto(f"/registrations/{first.pk}/")
    revoked = partner.page.get_by_test_id("revoked")
    expect(revoked).to_contain_text("Protection ended")
    expect(revoked).to_contain_text("The customer is already engaged")
    body = partner.page.locator("body").inner_text()
    assert "Bravo" not in body and "no conflict remains" not in body
    partner.screenshot("bind-03-partner-revoked")
