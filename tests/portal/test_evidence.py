"""The Evidence section on the pages (issue 17 §2): the partner attaches (server-side errors
beside the file input), lists, downloads and removes; the manager's review lists the files with
download links; the activity log points to a file; another partner gets 404 everywhere."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from deals.models import ActivityEntry, Attachment, RegistrationEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _file(content: bytes = factories.PDF_BYTES, name: str = "proposal.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def _attach(client, registration, upload=None, **kwargs):
    return client.post(
        reverse("registration_attachment_upload", args=[registration.pk]),
        {"file": upload or _file()},
        **kwargs,
    )


@pytest.fixture
def draft(alice, product):
    return factories.make_registration(alice, status="draft")


def test_partner_attaches_a_pdf_and_sees_it_listed_with_a_download_link(
    alice_client, alice_registration
):
    response = _attach(alice_client, alice_registration, follow=True)
    assert response.status_code == 200
    attachment = Attachment.objects.get(registration=alice_registration)
    page = response.content.decode()
    assert "proposal.pdf attached." in page
    assert 'id="evidence"' in page
    assert reverse("attachment_download", args=[attachment.pk]) in page
    assert attachment.sha256[:16] in page
    # The timeline says so, with the hash.
    assert "Attached proposal.pdf (SHA-256" in page


def test_an_unsupported_file_is_refused_beside_the_file_input(alice_client, alice_registration):
    response = _attach(
        alice_client, alice_registration, _file(b"MZ\x90\x00" + b"\x00" * 60, "quote.pdf")
    )
    assert response.status_code == 302
    assert response["Location"].startswith(
        reverse("registration_detail", args=[alice_registration.pk])
    )
    page = alice_client.get(response["Location"]).content.decode()
    assert "Only PDF, PNG, JPEG, plain text, CSV, DOCX, XLSX or PPTX files can be attached." in page
    assert 'id="id_file_error"' in page
    assert not Attachment.objects.exists()


def test_no_file_is_a_field_error_not_a_server_error(alice_client, alice_registration):
    response = alice_client.post(
        reverse("registration_attachment_upload", args=[alice_registration.pk]), {}, follow=True
    )
    assert response.status_code == 200
    assert "No file was sent." in response.content.decode()
    assert not Attachment.objects.exists()


def test_an_oversized_upload_is_refused_by_its_length(alice_client, alice_registration):
    response = alice_client.post(
        reverse("registration_attachment_upload", args=[alice_registration.pk]),
        data=b"--x--",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(40 * 1024 * 1024),
    )
    assert response.status_code == 302
    page = alice_client.get(response["Location"]).content.decode()
    assert "The file is larger than 10 MB" in page
    assert not Attachment.objects.exists()


def test_a_closed_registration_offers_no_upload_and_refuses_one(
    alice_client, alice, alice_registration
):
    factories.make_attachment(alice, alice_registration)
    alice_client.post(reverse("registration_withdraw", args=[alice_registration.pk]))
    page = alice_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    html = page.content.decode()
    assert reverse("registration_attachment_upload", args=[alice_registration.pk]) not in html
    assert "proposal.pdf" in html  # the evidence stays readable
    refused = _attach(alice_client, alice_registration, follow=True)
    assert "Files can only be attached while the registration is open" in refused.content.decode()
    assert Attachment.objects.filter(registration=alice_registration).count() == 1


def test_partner_removes_a_file_from_a_draft(alice_client, alice, draft):
    attachment = factories.make_attachment(alice, draft)
    page = alice_client.get(reverse("registration_detail", args=[draft.pk])).content.decode()
    assert reverse("attachment_remove", args=[attachment.pk]) in page
    response = alice_client.post(reverse("attachment_remove", args=[attachment.pk]), follow=True)
    assert "proposal.pdf removed." in response.content.decode()
    attachment.refresh_from_db()
    assert attachment.deleted_at is not None
    assert RegistrationEvent.objects.filter(
        registration=draft, action="attachment_deleted", details__sha256=attachment.sha256
    ).exists()


def test_no_removal_while_under_review(alice_client, alice, alice_registration):
    attachment = factories.make_attachment(alice, alice_registration)
    page = alice_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    assert reverse("attachment_remove", args=[attachment.pk]) not in page.content.decode()
    response = alice_client.post(reverse("attachment_remove", args=[attachment.pk]), follow=True)
    assert "Files can only be removed while" in response.content.decode()
    attachment.refresh_from_db()
    assert attachment.deleted_at is None


def test_manager_review_lists_the_files_and_downloads_them(
    manager_client, alice, alice_registration
):
    attachment = factories.make_attachment(alice, alice_registration)
    page = manager_client.get(reverse("manage_registration", args=[alice_registration.pk]))
    html = page.content.decode()
    download = reverse("attachment_download", args=[attachment.pk])
    assert download in html
    assert reverse("registration_attachment_upload", args=[alice_registration.pk]) not in html
    assert reverse("attachment_remove", args=[attachment.pk]) not in html
    response = manager_client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.PDF_BYTES
    assert response["Content-Disposition"] == 'attachment; filename="proposal.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_manager_pages_refuse_partner_writes(manager_client, alice, draft, alice_registration):
    attachment = factories.make_attachment(alice, alice_registration)
    assert _attach(manager_client, alice_registration).status_code == 403
    remove = manager_client.post(reverse("attachment_remove", args=[attachment.pk]))
    assert remove.status_code == 403
    assert Attachment.objects.filter(deleted_at__isnull=True).count() == 1


def test_another_partner_gets_404_on_every_evidence_page(bob_client, alice, draft):
    attachment = factories.make_attachment(alice, draft)
    responses = [
        _attach(bob_client, draft),
        bob_client.get(reverse("attachment_download", args=[attachment.pk])),
        bob_client.post(reverse("attachment_remove", args=[attachment.pk])),
        bob_client.get(reverse("attachment_download", args=[999999999])),
    ]
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    attachment.refresh_from_db()
    assert attachment.deleted_at is None
    assert Attachment.objects.count() == 1


def test_the_activity_log_points_to_a_file(alice_client, alice, bob, alice_registration, product):
    attachment = factories.make_attachment(alice, alice_registration, name="po.pdf")
    page = alice_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    assert f'<option value="{attachment.pk}">po.pdf</option>' in page.content.decode()
    alice_client.post(
        reverse("registration_activity", args=[alice_registration.pk]),
        {
            "kind": "proposal",
            "occurred_on": dt.date.today().isoformat(),
            "summary": "Sent the PO",
            "attachment": str(attachment.pk),
        },
    )
    entry = ActivityEntry.objects.get(registration=alice_registration)
    assert entry.attachment == attachment
    page = alice_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    link = reverse("attachment_download", args=[attachment.pk])
    assert f'evidence: <a href="{link}"' in page.content.decode()


def test_the_activity_log_cannot_point_to_another_partners_file(
    alice_client, alice, bob, alice_registration, product
):
    theirs = factories.make_attachment(bob, factories.make_registration(bob, status="draft"))
    response = alice_client.post(
        reverse("registration_activity", args=[alice_registration.pk]),
        {
            "kind": "proposal",
            "occurred_on": dt.date.today().isoformat(),
            "summary": "Sent the PO",
            "attachment": str(theirs.pk),
        },
        follow=True,
    )
    assert "Choose one of this registration&#x27;s files." in response.content.decode()
    assert not ActivityEntry.objects.exists()


def test_sales_rep_sees_the_evidence_of_their_conflict(alice, product):
    rep = factories.sales_rep_user(email="rita.rep@vendor.example")
    factories.make_opportunity(
        account_name="Umbrella Corp", account_domain="umbrella.com", owner_email=rep.email
    )
    registration = factories.make_registration(
        alice, customer_name="Umbrella Corporation", customer_domain="umbrella.com"
    )
    attachment = factories.make_attachment(alice, registration)
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("rep_registration", args=[registration.pk]))
    assert page.status_code == 200
    download = reverse("attachment_download", args=[attachment.pk])
    assert download in page.content.decode()
    assert client.get(download).status_code == 200
