"""Single sign-on (issue 18 §2): OpenID Connect through allauth against a real local provider.
Accounts are matched by verified e-mail and the provider's scope (the vendor's staff, or one
partner's users at its domains), never created in a partner the provider does not belong to;
managers still need a second factor unless the provider asserts MFA (`amr`)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from partners.models import IdentityProvider, Membership
from tests import factories
from tests.sso.conftest import connect_provider, person, sso_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


@pytest.fixture(autouse=True)
def vendor_domains(settings):
    # The vendor's provider is found for addresses at the vendor's own domains.
    settings.VENDOR_STAFF_DOMAINS = ["vendor.example"]


def signed_in_user(client):
    response = client.get("/api/v1/me/")
    return response.json().get("email") if response.status_code == 200 else None


@pytest.fixture
def vendor_idp(openid_provider, db):
    return connect_provider(openid_provider, slug="vendor", name="Vendor SSO")


@pytest.fixture
def acme_idp(openid_provider, partner_a):
    return connect_provider(openid_provider, slug="acme", partner=partner_a, name="Acme SSO")


def test_sso_manager_with_idp_mfa_signs_in_without_the_totp_step(
    client, openid_provider, vendor_idp
):
    manager = factories.manager_user(email="mona@vendor.example")  # TOTP enrolled
    username = person(openid_provider, manager.email, amr=["pwd", "otp"])
    response = sso_sign_in(client, manager.email, username)
    assert response.status_code == 302
    assert "2fa" not in response["Location"]
    assert signed_in_user(client) == manager.email
    assert client.get("/manage/").status_code == 200


def test_sso_manager_without_idp_mfa_still_needs_the_totp_step(client, openid_provider, vendor_idp):
    manager = factories.manager_user(email="max@vendor.example")
    username = person(openid_provider, manager.email, amr=["pwd"])
    response = sso_sign_in(client, manager.email, username)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert signed_in_user(client) is None


def test_sso_manager_without_totp_must_enrol_unless_idp_asserts_mfa(
    client, openid_provider, vendor_idp
):
    with_mfa = factories.manager_user(email="nina@vendor.example", mfa=False)
    without = factories.manager_user(email="ned@vendor.example", mfa=False)
    sso_sign_in(client, with_mfa.email, person(openid_provider, with_mfa.email, amr=["mfa"]))
    assert client.get("/manage/").status_code == 200
    client.logout()
    sso_sign_in(client, without.email, person(openid_provider, without.email, amr=["pwd"]))
    response = client.get("/manage/")
    assert response.status_code == 302 and "totp" in response["Location"]


def test_sso_partner_user_signs_in_through_the_partners_provider(
    client, openid_provider, acme_idp, alice
):
    response = sso_sign_in(client, alice.email, person(openid_provider, alice.email))
    assert response.status_code == 302
    assert signed_in_user(client) == alice.email
    assert client.get("/registrations/").status_code == 200


def test_sso_partner_provider_never_opens_another_partners_account(
    client, openid_provider, acme_idp, bob
):
    # Partner A's provider asserts partner B's user's (verified) address.
    username = person(openid_provider, bob.email)
    response = sso_sign_in(client, bob.email, username, slug="acme")
    assert response.status_code == 403
    text = response.content.decode()
    assert "cannot sign you in" in text and "Bravo" not in text
    assert signed_in_user(client) is None


def test_sso_partner_provider_never_opens_a_vendor_staff_account(client, openid_provider, acme_idp):
    manager = factories.manager_user(email="vic@vendor.example")
    response = sso_sign_in(
        client, manager.email, person(openid_provider, manager.email, amr=["mfa"]), slug="acme"
    )
    assert response.status_code == 403
    assert signed_in_user(client) is None


def test_sso_vendor_provider_never_opens_a_partner_account(
    client, openid_provider, vendor_idp, alice
):
    response = sso_sign_in(client, alice.email, person(openid_provider, alice.email), slug="vendor")
    assert response.status_code == 403
    assert signed_in_user(client) is None


def test_sso_unverified_email_is_refused(client, openid_provider, acme_idp, alice):
    username = person(openid_provider, alice.email, verified=False)
    response = sso_sign_in(client, alice.email, username)
    assert response.status_code == 403
    assert "did not confirm your e-mail" in response.content.decode()
    assert signed_in_user(client) is None


def test_sso_creates_users_only_in_its_own_partner_and_only_when_allowed(
    client, openid_provider, acme_idp, partner_a, partner_b
):
    newcomer = "nora@acme-resellers.example"
    # Not allowed yet: no account is created.
    response = sso_sign_in(client, newcomer, person(openid_provider, newcomer))
    assert response.status_code == 403
    assert not User.objects.filter(email=newcomer).exists()
    acme_idp.create_users = True
    acme_idp.save()
    response = sso_sign_in(client, newcomer, person(openid_provider, newcomer))
    assert response.status_code == 302
    created = User.objects.get(email=newcomer)
    assert Membership.objects.get(user=created).partner == partner_a
    assert Membership.objects.get(user=created).role == "member"
    assert signed_in_user(client) == newcomer
    client.logout()
    # An address at partner B's domain asserted by partner A's provider: never created.
    stranger = "sam@" + partner_b.domains[0]
    response = sso_sign_in(client, stranger, person(openid_provider, stranger), slug="acme")
    assert response.status_code == 403
    assert not User.objects.filter(email=stranger).exists()


def test_sso_link_is_rechecked_on_every_sign_in(client, openid_provider, acme_idp, alice):
    username = person(openid_provider, alice.email)
    sso_sign_in(client, alice.email, username)
    assert signed_in_user(client) == alice.email
    client.logout()
    alice.is_active = False
    alice.save()
    response = sso_sign_in(client, alice.email, username)
    assert response.status_code == 403
    assert signed_in_user(client) is None


def test_sso_required_takes_the_password_away(client, openid_provider, acme_idp, alice, bob):
    acme_idp.required = True
    acme_idp.save()
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": factories.PASSWORD}, follow=True
    )
    assert signed_in_user(client) is None
    assert "single sign-on" in response.content.decode()
    token = client.post(
        "/api/v1/auth/token/",
        {"email": alice.email, "password": factories.PASSWORD},
        content_type="application/json",
    )
    assert token.status_code == 403 and token.json()["code"] == "sso_required"
    # Another partner's users keep their password.
    client.post("/accounts/login/", {"login": bob.email, "password": factories.PASSWORD})
    assert signed_in_user(client) == bob.email


def test_sso_form_answers_plainly_for_an_address_without_a_provider(client, acme_idp):
    response = client.post("/accounts/sso/", {"email": "someone@unknown-company.example"})
    assert response.status_code == 200
    assert "not set up for this address" in response.content.decode()
    assert client.post("/accounts/sso/", {"email": "not an address"}).status_code == 200


def test_sso_admin_keeps_the_client_secret_write_only(client, acme_idp, partner_a):
    root = factories.manager_user(email="root@vendor.example", superuser=True)
    client.force_login(root)
    url = f"/admin/partners/identityprovider/{acme_idp.pk}/change/"
    response = client.get(url)
    assert response.status_code == 200
    assert acme_idp.client_secret not in response.content.decode()
    listing = client.get("/admin/partners/identityprovider/").content.decode()
    assert "/accounts/oidc/acme/login/callback/" in listing
    form = {
        "name": "Acme SSO (Entra)",
        "slug": "acme",
        "protocol": "openid_connect",
        "partner": partner_a.pk,
        "server_url": acme_idp.server_url,
        "client_id": acme_idp.client_id,
        "client_secret": "",
        "provider_settings": "{}",
        "active": "on",
    }
    assert client.post(url, form).status_code == 302
    acme_idp.refresh_from_db()
    assert acme_idp.name == "Acme SSO (Entra)"
    assert acme_idp.client_secret == "secret-acme-0123456789"  # empty field kept it
    # The vendor's provider cannot create users; OpenID Connect needs an issuer.
    bad = {**form, "partner": "", "create_users": "on", "server_url": ""}
    response = client.post(url, bad)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Only a partner&#x27;s identity provider can create users." in text
    assert "Required for OpenID Connect." in text


def test_sso_providers_become_allauth_apps_only_while_active(rf, acme_idp):
    from partners.sso import SocialAccountAdapter

    adapter = SocialAccountAdapter()
    apps = adapter.list_apps(rf.get("/"), provider="acme")
    assert [a.client_id for a in apps] == [acme_idp.client_id]
    assert apps[0].settings["server_url"] == acme_idp.server_url
    IdentityProvider.objects.filter(pk=acme_idp.pk).update(active=False)
    assert adapter.list_apps(rf.get("/"), provider="acme") == []


def test_sso_page_lets_its_form_lead_to_the_providers_only(client, acme_idp):
    from urllib.parse import urlsplit

    policy = client.get("/accounts/sso/")["Content-Security-Policy"]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(acme_idp.server_url))
    assert f"form-action 'self' {origin}" in policy
    assert "script-src 'self';" in policy  # the rest of the policy is the strict one
    # Every other page keeps form-action to the app itself.
    assert "form-action 'self'" in client.get("/accounts/login/")["Content-Security-Policy"]
    assert origin not in client.get("/accounts/login/")["Content-Security-Policy"]
