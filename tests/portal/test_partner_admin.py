"""Partner admin pages (the company's users) and personal API tokens."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse

from partners.models import ApiToken, Membership, User, hash_token
from tests import factories


def test_admin_sees_company_users_only(admin_client_a, alice, bob):
    html = admin_client_a.get(reverse("company_users")).content.decode()
    assert alice.email in html
    assert bob.email not in html


def test_member_cannot_manage_users(alice_client, alice_admin):
    assert alice_client.get(reverse("company_users")).status_code == 403
    assert (
        alice_client.post(reverse("company_users"), {"email": "x@acme.example"}).status_code == 403
    )
    assert (
        alice_client.post(reverse("company_user_deactivate", args=[alice_admin.pk])).status_code
        == 403
    )


def test_invite_sends_the_set_password_link(
    admin_client_a, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_a.post(
            reverse("company_users"),
            {"email": "new@acme-resellers.example", "name": "New Person", "role": "member"},
        )
    assert response.status_code == 302
    user = User.objects.get(email="new@acme-resellers.example")
    assert user.membership.partner == partner_a
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_invite_validation_is_inline(admin_client_a, alice):
    response = admin_client_a.post(
        reverse("company_users"), {"email": alice.email, "role": "member"}
    )
    assert response.status_code == 400
    assert "already a user of your company" in response.context["form"].errors["email"][0]
    bad = admin_client_a.post(reverse("company_users"), {"email": "not-an-email", "role": "boss"})
    assert set(bad.context["form"].errors) >= {"email", "role"}


def test_deactivate_and_role(admin_client_a, alice, alice_admin):
    admin_client_a.post(reverse("company_user_role", args=[alice.pk]), {"role": "admin"})
    assert Membership.objects.get(user=alice).role == "admin"
    admin_client_a.post(reverse("company_user_deactivate", args=[alice.pk]))
    alice.refresh_from_db()
    assert alice.is_active is False
    own = admin_client_a.post(
        reverse("company_user_role", args=[alice_admin.pk]), {"role": "member"}, follow=True
    )
    assert "cannot remove your own admin role" in own.content.decode()
    assert Membership.objects.get(user=alice_admin).role == "admin"


def test_invitation_link_sets_the_password(
    client, partner_a, alice_admin, django_capture_on_commit_callbacks
):
    from partners.services import partner_user_create

    with django_capture_on_commit_callbacks(execute=True):
        partner_user_create(
            actor=alice_admin, partner=partner_a, email="invited@acme-resellers.example"
        )
    link = next(
        word for word in mail.outbox[0].body.split() if "/accounts/password/reset/key/" in word
    )
    path = link.replace("http://testserver", "")
    page = client.get(path, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Set your password" in html
    assert "css/app.css" in html  # the product's layout
    response = client.post(
        page.redirect_chain[-1][0],
        {"password1": "a-very-good-secret-91", "password2": "a-very-good-secret-91"},
        follow=True,
    )
    assert "Your password is set" in response.content.decode()
    assert User.objects.get(email="invited@acme-resellers.example").check_password(
        "a-very-good-secret-91"
    )


def test_token_is_shown_once(alice_client, alice):
    response = alice_client.post(reverse("token_list"), {"name": "CRM sync"}, follow=True)
    assert response.status_code == 200
    raw = response.context["raw_key"]
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hash_token(raw)
    assert raw in response.content.decode()
    again = alice_client.get(reverse("token_list")).content.decode()
    assert raw not in again
    assert token.prefix in again


def test_token_works_with_the_api_and_can_be_revoked(client, alice):
    client.force_login(alice)
    raw = client.post(reverse("token_list"), {"name": "script"}, follow=True).context["raw_key"]
    token = ApiToken.objects.get(user=alice)
    client.post(reverse("token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    from django.test import Client

    api = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    assert api.get("/api/v1/me/").status_code == 401


def test_manager_with_totp_creates_a_token(client, manager):
    client.force_login(manager)
    response = client.post(reverse("token_list"), {"name": "integration"})
    assert response.status_code == 302
    assert ApiToken.objects.filter(user=manager).count() == 1


def test_only_partner_admins_see_the_users_link(client, alice, alice_admin):
    client.force_login(alice)
    assert reverse("company_users") not in client.get(reverse("home")).content.decode()
    client.force_login(alice_admin)
    assert reverse("company_users") in client.get(reverse("home")).content.decode()


def test_deactivated_user_is_signed_out(client, alice_admin, partner_a):
    colleague = factories.partner_user(partner_a)
    client.force_login(colleague)
    from partners.services import partner_user_deactivate

    partner_user_deactivate(actor=alice_admin, partner=partner_a, user=colleague)
    response = client.get(reverse("home"))
    assert response.status_code == 302
