"""Partner admins invite colleagues in bulk (CSV of e-mail, name, role), all or nothing, resend
an invitation and reactivate a user (issue 18 §1). Invitations are limited to the partner's
domains (and a manager's exceptions); an address with an account elsewhere gets the neutral
answer; another partner's users answer 404."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners import services
from partners.bulk_invites import partner_users_invite_csv
from partners.models import Invitation, Membership, User
from prm.exceptions import PermissionDeniedError, StateConflict, ValidationFailed
from tests import factories

GOOD = (
    "email,name,role\n"
    "Nia@acme-resellers.example,Nia Nowak,member\n"
    "omar@sales.acme-resellers.example,Omar Olsen,admin\n"
    "pia@acme-resellers.example,Pia,\n"
)


@pytest.fixture
def admin_client(client, alice_admin):
    client.force_login(alice_admin)
    return client


def _upload(client, text: str, name="team.csv"):
    return client.post(
        reverse("company_users_import"),
        {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
    )


def test_bulk_invite_creates_every_row_and_emails_each(
    admin_client, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, GOOD)
    assert response.status_code == 302
    roles = dict(
        Membership.objects.filter(
            partner=partner_a, user__name__in=["Nia Nowak", "Omar Olsen", "Pia"]
        ).values_list("user__email", "role")
    )
    assert roles == {
        "nia@acme-resellers.example": "member",
        "omar@sales.acme-resellers.example": "admin",
        "pia@acme-resellers.example": "member",
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted(roles)
    assert "3 invitations sent." in admin_client.get(reverse("company_users")).content.decode()


def test_bulk_invite_is_all_or_nothing_with_per_row_errors(
    admin_client, partner_a, django_capture_on_commit_callbacks
):
    text = (
        "email,name,role\n"
        "ok@acme-resellers.example,Fine,member\n"
        "someone@elsewhere.example,Outside,member\n"
        "bad-address,Broken,member\n"
        "ok2@acme-resellers.example,Role,owner\n"
        "OK@acme-resellers.example,Twice,member\n"
    )
    before = User.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, text)
    assert response.status_code == 400
    body = response.content.decode()
    assert "4 of 5 rows are not valid; nobody was invited." in body
    assert "company&#x27;s domains" in body or "company's domains" in body
    assert "Enter a valid e-mail address." in body
    assert "Choose member or admin." in body
    assert "The same address is on row 1 already." in body
    assert User.objects.count() == before
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_bad_files_are_refused_with_a_clear_message(alice_admin, partner_a):
    for data, message in (
        (b"", "empty"),
        (b"name,role\nx,member\n", "first line must name"),
        (b"email,name,colour\na@acme-resellers.example,A,red\n", "Unknown column"),
        (b"\xff\xfe\x00bad", "UTF-8"),
        (b"email\n" + b"x@acme-resellers.example\n" * 501, "At most 500"),
    ):
        with pytest.raises(ValidationFailed, match=message):
            partner_users_invite_csv(actor=alice_admin, partner=partner_a, data=data)
    assert not Invitation.objects.exists()


def test_existing_account_elsewhere_gets_the_neutral_answer(
    alice_admin, partner_a, partner_b, django_capture_on_commit_callbacks
):
    elsewhere = factories.partner_user(partner_b, email="moved@acme-resellers.example")
    with django_capture_on_commit_callbacks(execute=True):
        result = partner_users_invite_csv(
            actor=alice_admin,
            partner=partner_a,
            data="email,name\nmoved@acme-resellers.example,Moved\nnew@acme-resellers.example,New\n",
        )
    assert result.invited == 2  # the same answer as two fresh invitations
    assert Membership.objects.get(user=elsewhere).partner == partner_b
    # The account holder is told someone tried; the new colleague is invited.
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["moved@acme-resellers.example", "new@acme-resellers.example"]


def test_invitations_are_limited_to_the_partner_domains_and_exceptions(
    alice_admin, partner_a, manager
):
    with pytest.raises(ValidationFailed):
        partner_users_invite_csv(
            actor=alice_admin, partner=partner_a, data="email\nx@consultant.example\n"
        )
    from partners.models import PartnerEmailException

    PartnerEmailException.objects.create(partner=partner_a, value="consultant.example")
    assert (
        partner_users_invite_csv(
            actor=alice_admin, partner=partner_a, data="email\nx@consultant.example\n"
        ).invited
        == 1
    )


def test_a_member_cannot_bulk_invite(client, alice, partner_a):
    with pytest.raises(PermissionDeniedError):
        partner_users_invite_csv(actor=alice, partner=partner_a, data=GOOD)
    client.force_login(alice)
    assert client.get(reverse("company_users_import")).status_code == 403


def test_another_partners_admin_cannot_bulk_invite_into_it(partner_a, partner_b):
    bravo_admin = factories.partner_user(partner_b, role="admin")
    with pytest.raises(PermissionDeniedError):
        partner_users_invite_csv(actor=bravo_admin, partner=partner_a, data=GOOD)


# --- Resend -----------------------------------------------------------------------------------


def test_resend_sends_a_fresh_invitation_once_a_minute(
    admin_client, alice_admin, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invited = services.partner_user_create(
            actor=alice_admin, partner=partner_a, email="late@acme-resellers.example"
        )
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("company_user_resend", args=[invited.pk]))
    assert response.status_code == 302
    assert Invitation.objects.filter(user=invited).count() == 2
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["late@acme-resellers.example"]
    with pytest.raises(StateConflict, match="less than a minute"):
        services.invitation_resend(actor=alice_admin, partner=partner_a, user=invited)


def test_resend_is_refused_for_a_user_who_has_a_password(alice_admin, alice, partner_a):
    with pytest.raises(StateConflict, match="already set a password"):
        services.invitation_resend(actor=alice_admin, partner=partner_a, user=alice)


def test_users_page_offers_resend_for_invited_users(admin_client, alice_admin, partner_a):
    services.partner_user_create(
        actor=alice_admin, partner=partner_a, email="waiting@acme-resellers.example"
    )
    body = admin_client.get(reverse("company_users")).content.decode()
    assert "Resend invitation" in body


# --- Reactivate -------------------------------------------------------------------------------


def test_reactivate_lets_a_deactivated_user_sign_in_again(
    admin_client, alice_admin, alice, partner_a
):
    services.partner_user_deactivate(actor=alice_admin, partner=partner_a, user=alice)
    assert "Reactivate" in admin_client.get(reverse("company_users")).content.decode()
    response = admin_client.post(reverse("company_user_reactivate", args=[alice.pk]))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_active is True
    assert Membership.objects.get(user=alice).partner == partner_a
    with pytest.raises(StateConflict, match="already active"):
        services.partner_user_reactivate(actor=alice_admin, partner=partner_a, user=alice)


def test_reactivation_follows_the_membership_rules(alice_admin, partner_a):
    outsider = factories.partner_user(partner_a, email="old@former-domain.example")
    services.partner_user_deactivate(actor=alice_admin, partner=partner_a, user=outsider)
    with pytest.raises(ValidationFailed):
        services.partner_user_reactivate(actor=alice_admin, partner=partner_a, user=outsider)
    outsider.refresh_from_db()
    assert outsider.is_active is False


# --- Isolation: another partner's users are 404 ------------------------------------------------


def test_another_partners_admin_gets_404_for_resend_and_reactivate(
    client, partner_a, partner_b, alice
):
    bravo_admin = factories.partner_user(partner_b, role="admin")
    client.force_login(bravo_admin)
    for name in ("company_user_resend", "company_user_reactivate"):
        assert client.post(reverse(name, args=[alice.pk])).status_code == 404
    missing = client.post(reverse("company_user_resend", args=[999999]))
    assert missing.status_code == 404
    body = client.get(reverse("company_users")).content.decode()
    assert "alice@acme-resellers.example" not in body


def test_a_partner_admin_cannot_resend_into_another_partner_by_service(partner_a, partner_b, alice):
    bravo_admin = factories.partner_user(partner_b, role="admin")
    with pytest.raises(PermissionDeniedError):
        services.invitation_resend(actor=bravo_admin, partner=partner_a, user=alice)
    with pytest.raises(PermissionDeniedError):
        services.partner_user_reactivate(actor=bravo_admin, partner=partner_a, user=alice)
