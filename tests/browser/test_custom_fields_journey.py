"""Custom registration fields in a real browser (issue 17 §1), one screenshot per step under
test-artifacts/browser/:

1. a manager adds a required choice field for the gold tier (through the API, as an integration
   would; the admin form is covered with Django's test client in tests/portal);
2. a gold partner's form shows it; submitting without it shows the error inline, next to the
   field, like the built-in fields'; with it the registration is submitted and shows the value;
3. a silver partner's form does not show it, and their registration goes through without it.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from deals.models import DealRegistration
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

CSP_ERROR = re.compile(r"Content Security Policy|Refused to (apply|execute|load)", re.I)


def fill(page, *, customer: str, domain: str) -> None:
    close = dt.date.today() + dt.timedelta(days=60)
    page.get_by_label("CRM Pro").check()
    page.get_by_label("Customer name").fill(customer)
    page.get_by_label("Website domain").fill(domain)
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Contact name").fill("Hank Scorpio")
    page.get_by_label("Contact e-mail").fill(f"hank@{domain}")
    page.get_by_label("Estimated value").fill("90000")
    page.get_by_label("Expected close date").fill(close.isoformat())


def test_a_required_choice_field_for_one_tier(open_session, partner_a, partner_b, product):
    partner_b.tier = factories.default_tier("silver")
    partner_b.save(update_fields=["tier"])
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b, email="bob@bravo-solutions.example")
    manager = factories.manager_user(email="carol@vendor.example")

    # --- 1. The manager adds the field for gold partners -----------------------------------
    created = client_for(manager).post(
        "/api/v1/registration-fields/",
        {
            "key": "budget_status",
            "label": "Budget status",
            "type": "choice",
            "choices": ["Approved", "Pending"],
            "required": True,
            "tiers": ["gold"],
            "help": "Has the customer approved the budget?",
        },
        format="json",
    )
    assert created.status_code == 201, created.content

    # --- 2. A gold partner registers with it ------------------------------------------------
    gold = open_session()
    page = gold.page
    gold.sign_in_as(alice)
    page.goto("/registrations/new/")
    field = page.get_by_label("Budget status")
    expect(field).to_be_visible()
    expect(page.get_by_text("Has the customer approved the budget?")).to_be_visible()
    fill(page, customer="Globex Corporation", domain="globex.com")
    gold.screenshot("custom-01-gold-form")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#form-errors")).to_be_visible()
    field = page.get_by_label("Budget status")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_custom\\.budget_status_error")).to_have_text("This field is required.")
    gold.screenshot("custom-02-gold-required-error")
    assert not DealRegistration.objects.exists()
    field.select_option("Approved")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    expect(page.get_by_test_id("custom-value")).to_contain_text("Budget status")
    expect(page.get_by_test_id("custom-value")).to_contain_text("Approved")
    gold.screenshot("custom-03-gold-submitted")
    registration = DealRegistration.objects.get(partner=partner_a)
    assert registration.custom == {"budget_status": "Approved"}
    assert registration.form_version == 1

    # --- 3. A silver partner never sees it --------------------------------------------------
    silver = open_session()
    page = silver.page
    silver.sign_in_as(bob)
    page.goto("/registrations/new/")
    expect(page.get_by_label("Customer name")).to_be_visible()
    expect(page.get_by_label("Budget status")).to_have_count(0)
    assert "Budget status" not in page.locator("body").inner_text()
    fill(page, customer="Initech LLC", domain="initech.com")
    silver.screenshot("custom-04-silver-form")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    assert DealRegistration.objects.get(partner=partner_b).custom == {}
    for session in (gold, silver):
        assert not [e for e in session.console_errors if CSP_ERROR.search(e)]
