"""The deal-registration journey in a real browser, one screenshot per step under
test-artifacts/browser/:

1. a partner signs in, checks availability (clear), registers a deal, sees it submitted;
2. a second partner types the same customer spelled differently, sees "already engaged"
   without the first partner's name, submits, sees the conflict badge;
3. a manager signs in with a TOTP code, opens the queue, opens the second registration, sees
   both records side by side with the reasons, resolves first-registration-wins and approves
   the first;
4. the first partner sees "approved" with the expiry date, and the notification.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from deals.models import DealRegistration
from tests import factories
from tests.browser.conftest import totp_code, totp_window

pytestmark = pytest.mark.django_db(transaction=True)

CSP_ERROR = re.compile(r"Content Security Policy|Refused to (apply|execute|load)", re.I)


def sign_in(session, email: str, password: str = factories.PASSWORD, screenshot: str = "") -> None:
    page = session.page
    page.goto("/accounts/login/")
    if screenshot:
        session.screenshot(screenshot)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def fill_registration(page, *, customer: str, domain: str, close_date: dt.date) -> None:
    """Type like a person (keyup drives the debounced availability check)."""
    page.get_by_label("CRM Pro").check()
    page.get_by_label("Customer name").press_sequentially(customer, delay=20)
    page.get_by_label("Website domain").press_sequentially(domain, delay=20)
    page.get_by_label("Country").select_option("US")


def fill_deal(page, close_date: dt.date) -> None:
    page.get_by_label("Contact name").fill("Hank Scorpio")
    page.get_by_label("Contact e-mail").fill("hank@globex.com")
    page.get_by_label("Estimated value").fill("125000")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Expected close date").fill(close_date.isoformat())
    page.get_by_label("Sales stage").select_option("proposal")


def test_deal_registration_journey(open_session, partner_a, partner_b, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b, email="bob@bravo-solutions.example")
    manager = factories.manager_user(email="carol@vendor.example", mfa=False)
    secret = factories.enrol_totp(manager)
    close_date = dt.date.today() + dt.timedelta(days=90)

    # --- 1. Partner A registers a clear deal ------------------------------------------------
    first = open_session()
    page = first.page
    sign_in(first, alice.email, screenshot="00-sign-in")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Good to see you")
    first.screenshot("01-partner-dashboard-empty")
    page.get_by_role("link", name="Register a deal").first.click()
    fill_registration(
        page, customer="Globex Corporation", domain="globex.com", close_date=close_date
    )
    verdict = page.get_by_test_id("availability")
    expect(verdict.locator("[data-status]")).to_have_attribute("data-status", "clear")
    expect(verdict).to_contain_text("Clear")
    fill_deal(page, close_date)
    first.screenshot("01-partner-a-availability-clear")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Corporation")
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    expect(page.locator(".messages")).to_contain_text("submitted")
    first.screenshot("01-partner-a-submitted")
    registration_a = DealRegistration.objects.get(partner=partner_a)
    assert registration_a.status == "submitted"
    assert registration_a.conflict_status == "clear"

    # --- 2. Partner B types the same customer, spelled differently -------------------------
    second = open_session()
    page = second.page
    sign_in(second, bob.email)
    page.get_by_role("link", name="Register a deal").first.click()
    fill_registration(page, customer="GLOBEX Corp.", domain="www.globex.com", close_date=close_date)
    verdict = page.get_by_test_id("availability")
    expect(verdict.locator("[data-status]")).to_have_attribute("data-status", "conflict")
    expect(verdict).to_contain_text("Already engaged")
    # Never who: not the other partner's name, its user, its reference or its deal value.
    body = page.locator("body").inner_text()
    for secret_text in ("Acme", alice.email, registration_a.reference, "125,000"):
        assert secret_text not in body
    fill_deal(page, close_date)
    second.screenshot("02-partner-b-already-engaged")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    expect(page.get_by_test_id("conflict-badge")).to_have_text("Already engaged")
    expect(page.get_by_test_id("conflict-message")).to_contain_text("already engaged")
    assert "Acme" not in page.locator("body").inner_text()
    second.screenshot("02-partner-b-conflict-badge")
    registration_b = DealRegistration.objects.get(partner=partner_b)
    assert registration_b.conflict_status == "conflict"

    # --- 3. The manager resolves the conflict and approves the first ------------------------
    third = open_session()
    page = third.page
    sign_in(third, manager.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    third.screenshot("03-manager-mfa-code")
    with totp_window():
        page.get_by_label("Code").fill(totp_code(secret))
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(registration_a.reference)  # earliest SLA first
    third.screenshot("03-manager-queue")
    page.get_by_role("link", name="GLOBEX Corp.").click()
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text("This registration")
    expect(conflict).to_contain_text("Partner registration")
    expect(conflict).to_contain_text(registration_a.reference)
    expect(conflict).to_contain_text("Acme Resellers")
    expect(conflict).to_contain_text("same website domain")
    third.screenshot("03-manager-side-by-side")
    conflict.get_by_role("button", name="First registration wins").click()
    expect(page.locator(".messages")).to_contain_text("Conflict resolved: First registration wins")
    expect(page.get_by_test_id("status")).to_have_text("Rejected")
    third.screenshot("03-manager-resolved")
    page.get_by_role("link", name="Review queue").first.click()
    expect(page.get_by_test_id("queue-row")).to_have_count(1)
    page.get_by_role("link", name="Globex Corporation").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("approved; protected until")
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    third.screenshot("03-manager-approved-first")
    registration_a.refresh_from_db()
    registration_b.refresh_from_db()
    assert registration_a.status == "approved"
    assert registration_b.status == "rejected"
    assert registration_b.rejection_reason == "partner_registration"

    # --- 4. Partner A sees the approval, its expiry date and the notification --------------
    page = first.page
    page.goto(f"/registrations/{registration_a.pk}/")
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    expires = registration_a.expires_at
    expect(page.get_by_test_id("expires-at")).to_have_text(f"{expires.day} {expires:%b %Y}")
    expect(page.get_by_test_id("protection")).to_contain_text("days left")
    first.screenshot("04-partner-a-approved")
    expect(page.get_by_test_id("unread-count")).to_be_visible()
    page.get_by_test_id("bell").click()
    notifications = page.get_by_test_id("notification")
    expect(notifications.filter(has_text="approved").first).to_be_visible()
    first.screenshot("04-partner-a-notifications")

    for session in (first, second, third):
        violations = [text for text in session.console_errors if CSP_ERROR.search(text)]
        assert violations == [], violations
