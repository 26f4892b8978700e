"""Become a partner (issue 18 §1): the public application, its review by a channel manager,
approval into a partner with a first admin invitation, decline with a reason e-mailed."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from partners import applications
from partners.models import Invitation, Membership, Partner, PartnerApplication, User
from prm.exceptions import PermissionDeniedError, StateConflict, ValidationFailed
from tests import factories

VALID = {
    "company_name": "Northwind Channel",
    "legal_name": "Northwind Channel GmbH",
    "domain": "https://www.northwind-channel.de/about",
    "country": "DE",
    "contact_name": "Nora North",
    "contact_email": "Nora@Northwind-Channel.de",
    "expected_focus": "CRM Pro for mid-sized manufacturers\nin DACH.",
}


def _post(client, **overrides):
    return client.post(reverse("apply"), {**VALID, **overrides})


@pytest.fixture
def application(db):
    return applications.application_submit(data=dict(VALID), ip="192.0.2.10")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- The public page -------------------------------------------------------------------------


def test_application_page_is_public_and_stores_a_valid_application(client, db):
    assert client.get(reverse("apply")).status_code == 200
    response = _post(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("apply_thanks")
    application = PartnerApplication.objects.get()
    assert application.domain == "northwind-channel.de"
    assert application.contact_email == "nora@northwind-channel.de"
    assert application.status == PartnerApplication.Status.SUBMITTED
    assert application.submitter_ip_hash and "127.0.0.1" not in application.submitter_ip_hash
    assert client.get(reverse("apply_thanks")).status_code == 200


def test_invalid_application_shows_every_error_keeps_input_and_writes_nothing(client, db):
    response = _post(
        client,
        company_name="",
        country="XX",
        domain="not a domain",
        contact_email="nora@elsewhere.example",
        expected_focus="",
    )
    assert response.status_code == 400
    body = response.content.decode()
    for message in (
        "This field is required.",
        "ISO 3166-1",
        "website domain",
        "Tell us what you expect to sell",
    ):
        assert message in body
    assert 'value="Northwind Channel GmbH"' in body  # what was typed is kept
    assert PartnerApplication.objects.count() == 0


def test_contact_email_must_be_at_the_website_domain(db):
    with pytest.raises(ValidationFailed) as caught:
        applications.application_submit(
            data={**VALID, "contact_email": "nora@gmail.com"}, ip="192.0.2.1"
        )
    assert "contact_email" in caught.value.fields
    assert PartnerApplication.objects.count() == 0


def test_free_mail_domain_is_not_a_company_website(db):
    with pytest.raises(ValidationFailed) as caught:
        applications.application_submit(
            data={**VALID, "domain": "gmail.com", "contact_email": "nora@gmail.com"},
            ip="192.0.2.1",
        )
    assert "domain" in caught.value.fields


def test_hostile_input_answers_400_not_500(client, db):
    response = _post(client, company_name="Evil\x00Corp", contact_name="A\u202eB")
    assert response.status_code == 400
    assert PartnerApplication.objects.count() == 0


def test_honeypot_filled_gets_the_thank_you_page_and_nothing_is_stored(client, db):
    response = _post(client, homepage="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("apply_thanks")
    assert PartnerApplication.objects.count() == 0


def test_per_address_limit_answers_429_and_writes_nothing(client, db, settings):
    settings.PARTNER_APPLICATION_RATE = "2/h"
    assert _post(client).status_code == 302
    assert _post(client, company_name="Second Co").status_code == 302
    response = _post(client, company_name="Third Co")
    assert response.status_code == 429
    assert "Too many applications" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert PartnerApplication.objects.count() == 2


def test_honeypot_page_has_the_hidden_field_for_bots(client, db):
    body = client.get(reverse("apply")).content.decode()
    assert 'name="homepage"' in body
    assert 'class="hp-field" aria-hidden="true"' in body


# --- The manager's review ----------------------------------------------------------------------


def test_manager_sees_applications_with_count_and_domain_owner(manager_client, application):
    owner = factories.PartnerFactory(name="Northwind Old", domains=["northwind-channel.de"])
    response = manager_client.get(reverse("manage_application_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Northwind Channel" in body
    assert 'data-testid="applications-pending-count">1<' in body
    assert "Already a partner" in body and owner.name in body
    detail = manager_client.get(reverse("manage_application", args=[application.pk]))
    assert detail.status_code == 200
    assert "already belongs to" in detail.content.decode()


def test_domain_owner_lookup_is_one_query_for_a_page(application, django_assert_num_queries):
    factories.PartnerFactory(name="Owner One", domains=["one.example", "northwind-channel.de"])
    factories.PartnerFactory(name="Owner Two", domains=["two.example"])
    with django_assert_num_queries(1):
        owners = applications.partners_owning_domains(
            ["northwind-channel.de", "two.example", "nobody.example"]
        )
    assert [p.name for p in owners["northwind-channel.de"]] == ["Owner One"]
    assert [p.name for p in owners["two.example"]] == ["Owner Two"]
    assert owners["nobody.example"] == []


def test_application_list_query_count_is_constant(
    manager_client, db, django_assert_max_num_queries
):
    def load():
        return manager_client.get(reverse("manage_application_list"))

    for i in range(2):
        applications.application_submit(
            data={**VALID, "company_name": f"Small {i}"}, ip="192.0.2.1"
        )
    load()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        load()
    for i in range(18):
        applications.application_submit(data={**VALID, "company_name": f"Big {i}"}, ip="192.0.2.1")
    with django_assert_max_num_queries(len(two.captured_queries)):
        load()


def test_partners_cannot_use_the_manager_application_pages(client, alice_admin, application):
    client.force_login(alice_admin)
    assert client.get(reverse("manage_application_list")).status_code == 403
    response = client.post(
        reverse("manage_application_approve", args=[application.pk]),
        {"tier": "gold", "channel_manager": "1"},
    )
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == PartnerApplication.Status.SUBMITTED


def test_approval_creates_partner_with_tier_and_channel_manager_and_invites_first_admin(
    manager_client, manager, application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("manage_application_approve", args=[application.pk]),
            {"tier": "silver", "channel_manager": str(manager.pk)},
        )
    assert response.status_code == 302
    application.refresh_from_db()
    partner = Partner.objects.get(name="Northwind Channel")
    assert application.status == PartnerApplication.Status.APPROVED
    assert application.partner == partner
    assert application.decided_by == manager and application.decided_at is not None
    assert partner.legal_name == "Northwind Channel GmbH"
    assert partner.domains == ["northwind-channel.de"]
    assert partner.country == "DE"
    assert partner.tier.code == "silver"
    assert partner.channel_manager == manager
    admin = User.objects.get(email="nora@northwind-channel.de")
    assert Membership.objects.get(user=admin).role == Membership.Role.ADMIN
    assert Membership.objects.get(user=admin).partner == partner
    assert Invitation.objects.filter(user=admin, partner=partner).exists()
    assert [m.to for m in mail.outbox] == [["nora@northwind-channel.de"]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_approve_form_keeps_input_and_shows_errors(manager_client, application):
    response = manager_client.post(
        reverse("manage_application_approve", args=[application.pk]),
        {"tier": "", "channel_manager": "999999"},
    )
    assert response.status_code == 302
    page = manager_client.get(response["Location"]).content.decode()
    assert "Choose a tier." in page and "Choose a channel manager." in page
    application.refresh_from_db()
    assert application.status == PartnerApplication.Status.SUBMITTED
    assert Partner.objects.filter(name="Northwind Channel").count() == 0


def test_approval_is_all_or_nothing_when_the_contact_cannot_be_invited(manager, application):
    factories.UserFactory(email="nora@northwind-channel.de")
    with pytest.raises(ValidationFailed) as caught:
        applications.application_approve(
            actor=manager, application=application, tier="gold", channel_manager=manager.pk
        )
    assert "contact_email" in caught.value.fields
    assert not Partner.objects.filter(name="Northwind Channel").exists()
    application.refresh_from_db()
    assert application.status == PartnerApplication.Status.SUBMITTED


def test_approval_refuses_a_name_an_existing_partner_has(manager, application):
    factories.PartnerFactory(name="Northwind Channel", domains=["other.example"])
    with pytest.raises(ValidationFailed) as caught:
        applications.application_approve(
            actor=manager, application=application, tier="gold", channel_manager=manager.pk
        )
    assert "company_name" in caught.value.fields


def test_an_application_is_decided_once(manager, application):
    applications.application_decline(actor=manager, application=application, reason="No fit.")
    with pytest.raises(StateConflict):
        applications.application_approve(
            actor=manager, application=application, tier="gold", channel_manager=manager.pk
        )
    stale = PartnerApplication.objects.get(pk=application.pk)
    stale.status = PartnerApplication.Status.SUBMITTED  # a page loaded before the decline
    with pytest.raises(StateConflict):
        applications.application_decline(actor=manager, application=stale, reason="Again.")


def test_only_managers_decide(alice_admin, application):
    with pytest.raises(PermissionDeniedError):
        applications.application_decline(actor=alice_admin, application=application, reason="x")


def test_decline_needs_a_reason_and_tells_the_applicant(
    manager_client, manager, application, django_capture_on_commit_callbacks
):
    refused = manager_client.post(
        reverse("manage_application_decline", args=[application.pk]), {"reason": "  "}
    )
    assert refused.status_code == 302
    assert "This field is required." in manager_client.get(refused["Location"]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("manage_application_decline", args=[application.pk]),
            {"reason": "We already have enough partners in DACH for CRM Pro."},
        )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == PartnerApplication.Status.DECLINED
    assert application.decline_reason.startswith("We already have")
    assert application.notice_sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nora@northwind-channel.de"]
    assert "We already have enough partners in DACH" in message.body
    assert not Partner.objects.filter(name="Northwind Channel").exists()


def test_decline_email_survives_a_mail_outage_and_is_sent_once(
    manager, application, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.partners.test_applications.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        applications.application_decline(actor=manager, application=application, reason="No.")
    application.refresh_from_db()
    assert application.notice_sent_at is None and application.notice_attempts == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from deals.tasks import notifications_drain

    notifications_drain()
    notifications_drain()
    application.refresh_from_db()
    assert application.notice_sent_at is not None
    assert len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")


def test_unknown_application_is_404(manager_client, db):
    assert manager_client.get(reverse("manage_application", args=[999999])).status_code == 404
