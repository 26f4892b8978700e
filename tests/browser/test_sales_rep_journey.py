"""A direct sales rep in a real browser (issue 14 item 6): the rep signs in (password and TOTP,
like managers), finds the partner registration that collides with their opportunity in the
rep workspace and proposes co-sell; the manager agrees; the rep opens the link of the outcome
e-mail, signs in from it and reads the co-sell outcome (never the manager pages)."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import expect

from deals.registrations import services
from partners.services import sales_rep_create
from tests import factories
from tests.browser.conftest import totp_code, totp_window
from tests.browser.test_deal_registration_journey import CSP_ERROR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Rep-journey-passphrase-7"


def sign_in_with_totp(session, email: str, secret: str) -> None:
    sign_in(session, email, PASSWORD)
    page = session.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    with totp_window():
        page.locator("input[name=code]").fill(totp_code(secret))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()


def test_sales_rep_journey(open_session, partner_a, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    manager = factories.manager_user(email="maria@vendor.example")
    rep = sales_rep_create(
        actor=manager, email="Rita.Rep@vendor.example", name="Rita Rep", password=PASSWORD
    )
    secret = factories.enrol_totp(rep)
    factories.make_opportunity(
        account_name="Contoso Ltd",
        account_domain="contoso.com",
        owner_email="RITA.REP@vendor.example",
    )
    registration = factories.make_registration(
        alice, customer_name="Contoso", customer_domain="contoso.com"
    )

    # --- The rep signs in and proposes co-sell from the workspace ------------------------------
    session = open_session()
    page = session.page
    sign_in_with_totp(session, rep.email, secret)
    expect(page.get_by_role("heading", level=1)).to_have_text("My conflicts")
    rows = page.get_by_test_id("rep-conflict-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Acme Resellers")
    session.screenshot("rep-01-workspace")
    rows.first.get_by_role("link", name="Contoso").click()
    expect(page.get_by_test_id("rep-partner")).to_have_text("Acme Resellers")
    page.get_by_label("Note (optional)").fill("Happy to co-sell with Acme.")
    page.get_by_role("button", name="Propose co-sell").click()
    expect(page.locator(".messages")).to_contain_text("Co-sell proposed")
    expect(page.get_by_test_id("co-sell-proposed")).to_be_visible()

    # --- The manager agrees; the rep is e-mailed the outcome -----------------------------------
    mail.outbox.clear()
    conflict = registration_conflict(registration)
    services.conflict_resolve(
        conflict=conflict,
        actor=manager,
        resolution="co_sell",
        co_sell={"lead": "partner", "partner_credit_percent": 100, "rep_credit_percent": 100},
    )
    [email] = [m for m in mail.outbox if rep.email in m.to]
    link = re.search(r"https?://\S+/rep/registrations/\d+/", email.body).group(0)
    path = link[link.index("/rep/") :]

    # --- The rep opens the e-mail's link, signs in from it and reads the outcome ---------------
    later = open_session()
    page = later.page
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(rep.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # A later TOTP window than the first sign-in's: allauth never accepts a code twice.
    with time_machine.travel((int(time.time()) // 30 + 3) * 30 + 1, tick=False):
        page.locator("input[name=code]").fill(totp_code(secret))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()
    expect(page).to_have_url(re.compile(rf"{re.escape(path)}$"))
    outcome = page.get_by_test_id("co-sell-outcome")
    expect(outcome).to_contain_text("Co-sell agreed: Partner leads")
    expect(outcome).to_contain_text("your quota credit 100 %")
    expect(outcome).to_contain_text("Sales rep " + rep.email)
    expect(page.get_by_test_id("bell")).to_contain_text("unread")
    later.screenshot("rep-02-co-sell-outcome")
    response = page.goto(f"/manage/registrations/{registration.pk}/")
    assert response.status == 403
    assert [t for t in session.console_errors + later.console_errors if CSP_ERROR.search(t)] == []


def registration_conflict(registration):
    from conflicts.models import Conflict

    return Conflict.objects.get(registration_id=registration.pk)
