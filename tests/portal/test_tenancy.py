"""Every partner page answers 404 for another partner's object: each detail and action URL,
GET and POST, exactly like a registration that does not exist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from deals.models import Notification
from tests import factories

REGISTRATION_URLS = [
    ("registration_detail", "get"),
    ("registration_edit", "get"),
    ("registration_edit", "post"),
    ("registration_submit", "post"),
    ("registration_withdraw", "post"),
    ("registration_extension", "post"),
    ("registration_close", "post"),
    ("registration_comment", "post"),
    ("registration_activity", "post"),
    ("registration_reassign", "post"),
    ("registration_watch", "post"),
    ("registration_attachment_upload", "post"),
]


@pytest.mark.parametrize(("name", "method"), REGISTRATION_URLS)
def test_other_partners_registration_is_404(bob_client, alice_registration, name, method):
    url = reverse(name, args=[alice_registration.pk])
    response = getattr(bob_client, method)(url, {"body": "hi", "reason": "x", "summary": "x"})
    assert response.status_code == 404
    missing = getattr(bob_client, method)(reverse(name, args=[999999]), {})
    assert missing.status_code == 404
    alice_registration.refresh_from_db()
    assert alice_registration.status == "submitted"
    assert alice_registration.comments.count() == 0


def test_foreign_registration_404_page_does_not_leak(bob_client, alice_registration):
    response = bob_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    content = response.content.decode()
    assert alice_registration.customer_name not in content
    assert alice_registration.reference not in content
    assert "couldn't find that page" in content


def test_other_users_notification_is_404(bob_client, alice, alice_registration):
    notification = Notification.objects.create(
        recipient=alice, kind="approved", channel="in_app", dedupe_key="t-1", title="Approved"
    )
    response = bob_client.post(reverse("notification_read", args=[notification.pk]))
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_other_users_token_is_404(bob_client, alice):
    from partners.services import token_create

    token, _ = token_create(user=alice, name="alice's")
    response = bob_client.post(reverse("token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("name", ["company_user_deactivate", "company_user_role"])
def test_other_companys_user_is_404_for_partner_admin(admin_client_a, bob, name):
    response = admin_client_a.post(reverse(name, args=[bob.pk]), {"role": "admin"})
    assert response.status_code == 404
    bob.refresh_from_db()
    assert bob.is_active is True
    assert bob.membership.role == "member"


def test_partner_cannot_open_manager_pages(alice_client, alice_registration, partner_a):
    conflict_free_urls = [
        reverse("manage_queue"),
        reverse("manage_registration", args=[alice_registration.pk]),
        reverse("manage_partner_list"),
        reverse("manage_partner_detail", args=[partner_a.pk]),
        reverse("manage_opportunity_list"),
        reverse("manage_opportunity_import"),
    ]
    for url in conflict_free_urls:
        assert alice_client.get(url).status_code == 403, url
    for name in ("manage_approve", "manage_reject", "manage_request_info", "manage_note"):
        response = alice_client.post(
            reverse(name, args=[alice_registration.pk]), {"reason": "other"}
        )
        assert response.status_code == 403, name
    assert (
        alice_client.post(
            reverse("manage_bulk_approve"), {"ids": [alice_registration.pk]}
        ).status_code
        == 403
    )
    alice_registration.refresh_from_db()
    assert alice_registration.status == "submitted"


def test_anonymous_is_sent_to_sign_in(client, alice_registration):
    for url in (
        reverse("home"),
        reverse("registration_detail", args=[alice_registration.pk]),
        reverse("manage_queue"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_own_registration_of_colleague_is_visible(client, partner_a, alice_registration):
    colleague = factories.partner_user(partner_a)
    client.force_login(colleague)
    response = client.get(reverse("registration_detail", args=[alice_registration.pk]))
    assert response.status_code == 200
    assert "Globex Corporation" in response.content.decode()
