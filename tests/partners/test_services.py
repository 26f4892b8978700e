"""Partner services: invitations, deactivation, suspension, tokens (partners.services)."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.core import mail

from deals.registrations import services as deal_services
from partners import services
from partners.models import ApiToken, Invitation, Membership, Partner, User, hash_token
from prm.exceptions import PermissionDeniedError, StateConflict, ValidationFailed
from tests import factories


def _link(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, message.body
    return match.group(0)


# --- Invitations -------------------------------------------------------------------------------------


def test_invite_sends_email_with_set_password_link(
    client, alice_admin, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.partner_user_create(
            actor=alice_admin,
            partner=partner_a,
            email="New.Seller@Acme-Resellers.example",
            name="Nia",
        )
    assert user.email == "new.seller@acme-resellers.example"
    assert user.has_usable_password() is False
    assert Membership.objects.get(user=user).partner == partner_a
    assert Invitation.objects.filter(user=user, partner=partner_a, invited_by=alice_admin).exists()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert partner_a.name in message.subject
    link = _link(message)
    assert "/accounts/password/reset/key/" in link

    # The link lets the invited user choose a password, then sign in with it.
    response = client.get(link.replace("http://testserver", ""), follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(
        form_url.replace("http://testserver", ""),
        {"password1": "a-brand-new-passphrase-7", "password2": "a-brand-new-passphrase-7"},
    )
    assert response.status_code in (200, 302)
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase-7")


def test_invitation_is_sent_only_after_commit(
    alice_admin, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.partner_user_create(
            actor=alice_admin, partner=partner_a, email="later@acme-resellers.example"
        )
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_user_with_a_password_gets_no_invitation(
    alice_admin, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.partner_user_create(
            actor=alice_admin,
            partner=partner_a,
            email="direct@acme-resellers.example",
            password="a-direct-passphrase-99",
        )
    assert user.check_password("a-direct-passphrase-99")
    assert mail.outbox == []
    assert not Invitation.objects.filter(user=user).exists()


def test_only_own_partner_admins_or_managers_invite(alice, bob, alice_admin, manager, partner_a):
    for actor in (alice, bob):
        with pytest.raises(PermissionDeniedError):
            services.partner_user_create(
                actor=actor, partner=partner_a, email=f"x-{actor.pk}@acme-resellers.example"
            )
    bob_admin = factories.partner_user(bob.membership.partner, role="admin")
    with pytest.raises(PermissionDeniedError):
        services.partner_user_create(actor=bob_admin, partner=partner_a, email="y@acme.example")
    user = services.partner_user_create(
        actor=manager, partner=partner_a, email="z@acme-resellers.example"
    )
    assert user.membership.partner == partner_a


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "ALICE@acme-resellers.example"}, "email"),  # already exists
        ({"role": "owner"}, "role"),
        ({"password": "short"}, "password"),
        ({"name": "x" * 151}, "name"),
    ],
)
def test_invite_validation(fields, error, alice, alice_admin, partner_a):
    data = {"email": "valid@acme-resellers.example", **fields}
    users = User.objects.count()
    with pytest.raises(ValidationFailed) as excinfo:
        services.partner_user_create(actor=alice_admin, partner=partner_a, **data)
    assert error in excinfo.value.fields
    assert User.objects.count() == users


# --- Deactivation --------------------------------------------------------------------------------------


def test_deactivate_revokes_tokens_and_sessions(client, alice, alice_admin, partner_a):
    token, raw = services.token_create(user=alice, name="CRM")
    client.force_login(alice)
    session_key = client.session.session_key
    assert Session.objects.filter(session_key=session_key).exists()

    services.partner_user_deactivate(actor=alice_admin, partner=partner_a, user=alice)

    alice.refresh_from_db()
    token.refresh_from_db()
    assert alice.is_active is False
    assert token.revoked_at is not None and token.is_live is False
    assert not Session.objects.filter(session_key=session_key).exists()
    response = client.get("/api/v1/registrations/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 401


def test_deactivate_only_own_partner(alice, bob, partner_a):
    bob_admin = factories.partner_user(bob.membership.partner, role="admin")
    with pytest.raises(PermissionDeniedError):
        services.partner_user_deactivate(actor=bob_admin, partner=partner_a, user=alice)
    with pytest.raises(PermissionDeniedError):
        services.partner_user_deactivate(actor=alice, partner=partner_a, user=alice)
    alice.refresh_from_db()
    assert alice.is_active is True


def test_cannot_deactivate_yourself(alice_admin, partner_a):
    with pytest.raises(StateConflict):
        services.partner_user_deactivate(actor=alice_admin, partner=partner_a, user=alice_admin)


# --- Suspension ----------------------------------------------------------------------------------------


def test_suspend_revokes_every_users_access(
    client, alice, alice_admin, bob, manager, partner_a, product
):
    tokens = [services.token_create(user=u)[0] for u in (alice, alice_admin)]
    bob_token, _ = services.token_create(user=bob)
    client.force_login(alice)
    session_key = client.session.session_key

    services.partner_update(actor=manager, partner=partner_a, status="suspended")

    partner_a.refresh_from_db()
    assert partner_a.status == Partner.Status.SUSPENDED
    for token in tokens:
        token.refresh_from_db()
        assert token.revoked_at is not None
    bob_token.refresh_from_db()
    assert bob_token.revoked_at is None
    assert not Session.objects.filter(session_key=session_key).exists()
    with pytest.raises(PermissionDeniedError, match="suspended"):
        deal_services.registration_create(actor=alice, data=factories.registration_data())


def test_only_managers_suspend(alice_admin, partner_a):
    with pytest.raises(PermissionDeniedError):
        services.partner_update(actor=alice_admin, partner=partner_a, status="suspended")
    partner_a.refresh_from_db()
    assert partner_a.status == "active"


def test_partner_update_validates(manager, partner_a, partner_b):
    with pytest.raises(ValidationFailed) as excinfo:
        services.partner_update(
            actor=manager,
            partner=partner_a,
            name=partner_b.name.upper(),
            country="XX",
            status="gone",
            domains=["not a domain"],
        )
    assert {"name", "country", "status", "domains"} <= set(excinfo.value.fields)


def test_partner_create(manager):
    partner = services.partner_create(
        actor=manager,
        name="Zenith Integrators",
        country="de",
        tier=factories.default_tier("silver"),
        domains=["https://www.zenith-integrators.de/", "zenith-integrators.de"],
    )
    assert partner.country == "DE"
    assert partner.domains == ["zenith-integrators.de"]
    with pytest.raises(ValidationFailed) as excinfo:
        services.partner_create(
            actor=manager, name="zenith integrators", country="DE", tier=partner.tier
        )
    assert "name" in excinfo.value.fields


# --- Tokens ------------------------------------------------------------------------------------------------


def test_token_stores_only_a_hash(alice):
    token, raw = services.token_create(user=alice, name="Script")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_token(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert raw.startswith(stored.prefix)
    assert stored.is_live


def test_token_revoke(client, alice):
    token, raw = services.token_create(user=alice)
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    services.token_revoke(token=token)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401
