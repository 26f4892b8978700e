"""Issue 20 item 4: partner admins cannot create or invite users outside their partner's domains.

Vendor staff domains come from VENDOR_STAFF_DOMAINS; a partner user's address is at one of the
partner's domains unless a channel manager added an exception; a partner account is never a
vendor staff address; and the sales-rep match by e-mail never picks a partner user. One rule
(partners.services.partner_user_email_errors) for the portal, the API and the admin.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from partners import services
from partners.models import Membership, PartnerEmailException, User
from prm.exceptions import ValidationFailed
from tests import factories
from tests.api.conftest import client_for


@pytest.mark.parametrize(
    "email",
    [
        "eve@dealbridge.example",  # the vendor's own domain (the outside probe)
        "Eve@Mail.DealBridge.example",  # a subdomain, any case
        "eve@gmail.com",  # outside the partner's domains
        "eve@acme-resellers.example.evil.com",  # a look-alike suffix
    ],
)
def test_partner_admin_cannot_invite_outside_the_partner_domains(alice_admin, partner_a, email):
    response = client_for(alice_admin).post(
        f"/api/v1/partners/{partner_a.pk}/users/", {"email": email}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == ["email"]
    assert not User.objects.filter(email__iexact=email).exists()


def test_portal_invite_of_a_vendor_address_is_a_form_error(client, alice_admin):
    client.force_login(alice_admin)
    response = client.post(
        reverse("company_users"),
        {"email": "maria.chen@dealbridge.example", "name": "Not Maria", "role": "member"},
    )
    assert response.status_code == 400
    assert "vendor staff address" in response.context["form"].errors["email"][0]
    assert not User.objects.filter(email="maria.chen@dealbridge.example").exists()


def test_addresses_at_the_partner_domains_and_subdomains_are_accepted(alice_admin, partner_a):
    for email in ("nia@acme-resellers.example", "sam@eu.acme-resellers.example"):
        user = services.partner_user_create(actor=alice_admin, partner=partner_a, email=email)
        assert user.membership.partner_id == partner_a.pk


def test_a_manager_exception_allows_an_address_or_a_domain_but_never_a_vendor_one(
    manager, alice_admin, partner_a
):
    with pytest.raises(ValidationFailed):
        services.partner_user_create(
            actor=alice_admin, partner=partner_a, email="consultant@freelance.example"
        )
    PartnerEmailException.objects.create(
        partner=partner_a, value="consultant@freelance.example", created_by=manager
    )
    PartnerEmailException.objects.create(partner=partner_a, value="acme-group.example")
    services.partner_user_create(
        actor=alice_admin, partner=partner_a, email="consultant@freelance.example"
    )
    services.partner_user_create(
        actor=alice_admin, partner=partner_a, email="li@acme-group.example"
    )
    with pytest.raises(ValidationFailed):  # the exception is for one address, not the domain
        services.partner_user_create(
            actor=alice_admin, partner=partner_a, email="other@freelance.example"
        )
    # Even an exception cannot make a vendor address a partner account.
    PartnerEmailException.objects.create(partner=partner_a, value="dealbridge.example")
    with pytest.raises(ValidationFailed) as refused:
        services.partner_user_create(
            actor=manager, partner=partner_a, email="ops@dealbridge.example"
        )
    assert "vendor staff" in refused.value.fields["email"][0]


@override_settings(VENDOR_STAFF_DOMAINS=["vendor.example"])
def test_vendor_domains_come_from_the_setting(alice_admin, partner_a):
    partner_a.domains = ["acme-resellers.example", "vendor.example"]
    partner_a.save()
    with pytest.raises(ValidationFailed):
        services.partner_user_create(actor=alice_admin, partner=partner_a, email="x@vendor.example")
    # dealbridge.example is no longer a vendor domain: only the partner-domain rule applies.
    with pytest.raises(ValidationFailed) as refused:
        services.partner_user_create(
            actor=alice_admin, partner=partner_a, email="x@dealbridge.example"
        )
    assert "vendor staff" not in refused.value.fields["email"][0]


def test_admin_membership_follows_the_same_rule(client, partner_a):
    superuser = factories.manager_user(superuser=True)
    client.force_login(superuser)
    staff_like = factories.UserFactory(email="rep@dealbridge.example")
    response = client.post(
        reverse("admin:partners_membership_add"),
        {"user": staff_like.pk, "partner": partner_a.pk, "role": "member"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "vendor staff address" in response.content.decode()
    assert not Membership.objects.filter(user=staff_like).exists()


def test_admin_exception_refuses_a_vendor_domain(client, partner_a):
    superuser = factories.manager_user(superuser=True)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partners_partneremailexception_add"),
        {"partner": partner_a.pk, "value": "DealBridge.example", "note": ""},
    )
    assert response.status_code == 200
    assert not PartnerEmailException.objects.exists()
    ok = client.post(
        reverse("admin:partners_partneremailexception_add"),
        {"partner": partner_a.pk, "value": " Acme-Group.example ", "note": "subsidiary"},
    )
    assert ok.status_code == 302
    exception = PartnerEmailException.objects.get()
    assert exception.value == "acme-group.example"
    assert exception.created_by == superuser


def test_a_partner_user_never_matches_as_a_sales_rep(alice, manager):
    """A partner account holding a rep's address (created before this rule, or flagged staff
    by mistake) never receives the rep's conflict notifications."""
    from deals.models import Notification

    impostor = factories.partner_user(alice.membership.partner, email="rep@dealbridge.example")
    User.objects.filter(pk=impostor.pk).update(is_staff=True)
    rep = factories.UserFactory(email="rep2@dealbridge.example", is_staff=True)
    factories.make_opportunity(
        account_name="Initech", account_domain="initech.com", owner_email="REP@dealbridge.example"
    )
    factories.make_opportunity(
        account_name="Initech Labs", account_domain="initech.com", owner_email=rep.email
    )
    registration = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    assert registration.conflict_status == "conflict"
    assert not Notification.objects.filter(recipient=impostor, kind="conflict_detected").exists()
    assert Notification.objects.filter(recipient=rep, kind="conflict_detected").exists()
