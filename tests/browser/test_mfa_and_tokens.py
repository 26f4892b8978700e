"""A partner user sets up two-factor authentication in the browser, then creates an API token
(how users with TOTP get tokens): the key is shown once."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from partners.models import ApiToken, hash_token
from tests import factories
from tests.browser.conftest import totp_code, totp_window
from tests.browser.test_deal_registration_journey import CSP_ERROR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_totp_setup_then_token(open_session, partner_a):
    alice = factories.partner_user(partner_a, role="admin")
    session = open_session()
    page = session.page
    sign_in(session, alice.email)
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    session.screenshot("07-mfa-index")
    page.get_by_role("link", name="Activate").click()
    # allauth asks for the password again before changing authenticators.
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.locator("img.qr")).to_be_visible()
    secret = page.locator("#authenticator_secret").input_value()
    session.screenshot("07-mfa-activate")
    with totp_window():
        page.get_by_label("Authenticator code").fill(totp_code(secret))
        page.get_by_role("button", name="Activate").click()
        expect(page.locator("body")).to_contain_text("Recovery")
    assert Authenticator.objects.filter(user=alice, type="totp").exists()
    session.screenshot("07-mfa-recovery-codes")

    page.goto("/settings/tokens/")
    page.get_by_label("Token name").fill("CRM sync")
    page.get_by_role("button", name="Create token").click()
    key = page.locator("#new-key").input_value()
    assert ApiToken.objects.get(user=alice).key_hash == hash_token(key)
    expect(page.get_by_test_id("new-token")).to_contain_text("only time the key is shown")
    session.screenshot("07-token-created")
    page.reload()
    assert key not in page.content()

    page.goto("/company/users/")
    expect(page.get_by_test_id("member")).to_have_count(1)
    session.screenshot("07-company-users")
    assert [t for t in session.console_errors if CSP_ERROR.search(t)] == []
