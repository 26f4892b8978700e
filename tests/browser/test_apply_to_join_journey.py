"""Becoming a partner in a real browser (issue 18 §1), one screenshot per step under
test-artifacts/browser/:

1. a company applies on the public page (no account);
2. a channel manager opens the applications, sees the application and approves it with a tier
   and a channel manager: the partner is created and the contact invited as its first admin;
3. the invited admin opens the invitation link, sets a password, signs in, is asked to accept
   the partner program terms (recorded), and registers a first deal.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from deals.models import DealRegistration
from partners.models import Membership, Partner, PartnerApplication, ProgramTerms, TermsAcceptance
from prm.lib.time import timezone_now
from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR, fill_deal, fill_registration

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "northwind-first-passphrase-7"


def test_apply_to_join_journey(open_session, product):
    manager = factories.manager_user(email="carol@vendor.example")
    terms = ProgramTerms.objects.create(
        version=1,
        text="1. Register a deal before you work it.\n2. Be fair to other partners.",
        published_at=timezone_now(),
    )
    close_date = dt.date.today() + dt.timedelta(days=90)

    # --- 1. The company applies ---------------------------------------------------------------
    applicant = open_session()
    page = applicant.page
    page.goto("/apply/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Become a partner")
    page.get_by_label("Company name").fill("Northwind Channel")
    page.get_by_label("Legal name").fill("Northwind Channel GmbH")
    page.get_by_label("Website domain").fill("northwind-channel.de")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Your name").fill("Nora North")
    page.get_by_label("Your work e-mail address").fill("nora@northwind-channel.de")
    page.get_by_label("Expected focus").fill("CRM Pro for manufacturers in DACH.")
    applicant.screenshot("apply-01-application")
    page.get_by_role("button", name="Send application").click()
    expect(page.get_by_test_id("apply-thanks")).to_contain_text("Thank you for applying")
    application = PartnerApplication.objects.get()
    assert application.status == PartnerApplication.Status.SUBMITTED

    # --- 2. A channel manager approves ------------------------------------------------------------
    reviewer = open_session()
    reviewer.sign_in_as(manager)
    page = reviewer.page
    page.goto("/manage/")
    page.get_by_role("link", name="Applications").click()
    expect(page.get_by_test_id("applications-pending-count")).to_have_text("1")
    page.get_by_role("link", name="Northwind Channel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Channel")
    page.get_by_label("Tier").select_option("silver")
    page.get_by_label("Channel manager").select_option(str(manager.pk))
    reviewer.screenshot("apply-02-manager-review")
    page.get_by_role("button", name="Approve and invite").click()
    expect(page.get_by_test_id("application-status")).to_have_text("Approved")
    partner = Partner.objects.get(name="Northwind Channel")
    assert partner.tier.code == "silver" and partner.channel_manager_id == manager.pk
    assert Membership.objects.get(user__email="nora@northwind-channel.de").role == "admin"
    reviewer.screenshot("apply-03-approved")

    # --- 3. The first admin accepts the invitation, the terms, and registers a deal -------------
    invitation = next(m for m in mail.outbox if m.to == ["nora@northwind-channel.de"])
    link = re.search(r"https?://\S+", invitation.body).group(0)
    path = "/" + link.split("/", 3)[3]
    page = applicant.page
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set your password")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    applicant.screenshot("apply-04-set-password")
    page.get_by_role("button", name="Set password").click()
    if "/accounts/login/" not in page.url and page.get_by_label("Password").count() == 0:
        page.goto("/accounts/login/")
    page.get_by_label("Email").fill("nora@northwind-channel.de")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # First sign-in: the program terms come first.
    expect(page.get_by_test_id("terms-pending")).to_be_visible()
    expect(page.get_by_test_id("terms-text")).to_contain_text("Register a deal before you work it")
    applicant.screenshot("apply-05-terms")
    page.get_by_label("I have read and accept these terms").check()
    page.get_by_role("button", name="Accept the terms").click()
    acceptance = TermsAcceptance.objects.get(user__email="nora@northwind-channel.de")
    assert acceptance.terms == terms and acceptance.partner == partner

    page.get_by_role("link", name="Register a deal").first.click()
    fill_registration(
        page, customer="Initech Maschinenbau", domain="initech-maschinen.de", close_date=close_date
    )
    expect(page.get_by_test_id("availability").locator("[data-status]")).to_have_attribute(
        "data-status", "clear"
    )
    fill_deal(page, close_date)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech Maschinenbau")
    applicant.screenshot("apply-06-first-registration")
    registration = DealRegistration.objects.get(partner=partner)
    assert registration.status == "submitted"
    for session in (applicant, reviewer):
        assert not [e for e in session.console_errors if CSP_ERROR.search(e)]
