"""The pages on a phone (no horizontal scrolling), by keyboard, and without JavaScript (the
core forms are plain POST forms)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from deals.models import DealRegistration
from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}


def assert_no_horizontal_scroll(page):
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def test_phone_layout(open_session, partner_a, partner_b, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b)
    manager = factories.manager_user(mfa=False)
    factories.enrol_totp(manager)
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    factories.make_registration(alice, status="approved", manager=manager, customer_name="Initech")

    session = open_session(viewport=PHONE)
    page = session.page
    sign_in(session, alice.email)
    for name, path in (
        ("05-phone-dashboard", "/"),
        ("05-phone-register", "/registrations/new/"),
        ("05-phone-list", "/registrations/"),
        ("05-phone-detail", f"/registrations/{first.pk}/"),
    ):
        page.goto(path)
        assert_no_horizontal_scroll(page)
        session.screenshot(name)

    # The manager's review page on a phone (signed in without the MFA stage for brevity).
    staff = open_session(viewport=PHONE)
    staff.sign_in_as(manager)
    staff.page.goto(f"/manage/registrations/{second.pk}/")
    expect(staff.page.get_by_test_id("conflict")).to_have_count(1)
    assert_no_horizontal_scroll(staff.page)
    staff.screenshot("05-phone-review")
    staff.page.goto("/manage/")
    staff.screenshot("05-phone-queue")
    for s in (session, staff):
        assert [t for t in s.console_errors if CSP_ERROR.search(t)] == []


def test_keyboard_skip_link_and_focus(open_session, partner_a, product):
    alice = factories.partner_user(partner_a)
    session = open_session()
    page = session.page
    sign_in(session, alice.email)
    # A fresh navigation, so focus starts at the document (not where the sign-in form left it).
    page.goto("/")
    page.wait_for_load_state("load")
    expect(page.locator(".skip-link")).to_be_attached()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    expect(page.locator(".skip-link")).to_be_visible()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_register_without_javascript(open_session, partner_a, product):
    alice = factories.partner_user(partner_a)
    session = open_session(java_script_enabled=False)
    page = session.page
    sign_in(session, alice.email)
    page.goto("/registrations/new/")
    page.get_by_label("Customer name").fill("Soylent Corp")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("CRM Pro").check()
    page.get_by_role("button", name="Check availability").click()
    expect(page.get_by_test_id("availability").locator("[data-status]")).to_have_attribute(
        "data-status", "clear"
    )
    # What was typed survives the round trip; now an invalid value shows inline errors.
    expect(page.get_by_label("Customer name")).to_have_value("Soylent Corp")
    page.get_by_label("Contact name").fill("Sol Roth")
    page.get_by_label("Contact e-mail").fill("sol@soylent.example")
    page.get_by_label("Estimated value").fill("10")
    page.get_by_label("Expected close date").fill(
        (dt.date.today() + dt.timedelta(days=30)).isoformat()
    )
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#id_estimated_value_error")).to_contain_text("minimum deal value")
    session.screenshot("06-no-js-inline-errors")
    page.get_by_label("Estimated value").fill("50000")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    assert DealRegistration.objects.get(customer_name="Soylent Corp").status == "submitted"
