"""Single sign-on in a real browser (issue 18 §2) against a real local OpenID Provider
(tests/sso/idp, its own process): a manager whose provider asserts MFA lands in the manager
workspace without the TOTP step; a partner user of a company that requires SSO cannot use
their password and signs in through the company's provider."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR, sign_in
from tests.sso.conftest import connect_provider, person

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory):
    from tests.sso.server import LocalOpenIdProvider

    provider = LocalOpenIdProvider(tmp_path_factory.mktemp("idp-browser")).start()
    yield provider
    provider.stop()


def sign_in_at_provider(page, username: str) -> None:
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("idp-password-1")
    page.get_by_role("button", name="Sign in at the IdP").click()


def test_sso_manager_signs_in_through_the_vendor_provider(
    open_session, live_server, openid_provider, settings
):
    settings.VENDOR_STAFF_DOMAINS = ["vendor.example"]
    connect_provider(openid_provider, slug="vendor", name="Vendor SSO", base=live_server.url)
    manager = factories.manager_user(email="mona@vendor.example")  # TOTP enrolled
    username = person(openid_provider, manager.email, amr=["pwd", "mfa"], name="Mona Manager")
    session = open_session()
    page = session.page
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in with single sign-on")
    session.screenshot("sso-01-start")
    page.get_by_label("Work e-mail address").fill(manager.email)
    page.get_by_role("button", name="Continue").click()
    sign_in_at_provider(page, username)
    # Back in Dealbridge, signed in, no TOTP prompt: the provider asserted MFA.
    page.goto("/manage/")
    expect(page).to_have_url(f"{live_server.url}/manage/")
    expect(page.locator("body")).to_contain_text(manager.email)
    session.screenshot("sso-02-manager-workspace")
    assert [t for t in session.console_errors if CSP_ERROR.search(t)] == []


def test_sso_partner_user_of_a_company_that_requires_it(
    open_session, live_server, openid_provider, partner_a
):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    connect_provider(
        openid_provider,
        slug="acme",
        name="Acme SSO",
        partner=partner_a,
        base=live_server.url,
        required=True,
    )
    username = person(openid_provider, alice.email, name="Alice Acme")
    session = open_session()
    page = session.page
    sign_in(session, alice.email)
    expect(page.locator(".messages")).to_contain_text("signs in to Dealbridge through single")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.get_by_label("Work e-mail address").fill(alice.email)
    page.get_by_role("button", name="Continue").click()
    sign_in_at_provider(page, username)
    page.goto("/registrations/")
    expect(page).to_have_url(f"{live_server.url}/registrations/")
    session.screenshot("sso-03-partner-signed-in")
    assert [t for t in session.console_errors if CSP_ERROR.search(t)] == []
