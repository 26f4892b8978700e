"""Attachments as evidence through the API (issue 17 §2, docs/api.md "Custom fields and
attachments"): upload, list, download, remove; the type by content, the limits, the states,
the roles, the tenant 404, the event chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging

import pytest
from django.core.files.storage import storages
from django.test import override_settings

from deals.events import events_verify_chain, registration_audit
from deals.models import Attachment, RegistrationEvent
from deals.registrations import services
from partners.services import integration_create
from tests import factories
from tests.api.conftest import changed_tables, client_for, hash_all_tables

pytestmark = pytest.mark.django_db


def _url(registration) -> str:
    return f"/api/v1/registrations/{registration.pk}/attachments/"


def _upload(client, registration, content: bytes, name: str = "proposal.pdf", **extra):
    file = io.BytesIO(content)
    file.name = name
    return client.post(_url(registration), {"file": file}, format="multipart", **extra)


def _stored_keys() -> list[str]:
    storage = storages["attachments"]
    keys = []
    try:
        folders, _ = storage.listdir("attachments")
    except FileNotFoundError:
        return []
    for folder in folders:
        _, files = storage.listdir(f"attachments/{folder}")
        keys += [f"attachments/{folder}/{name}" for name in files]
    return keys


@pytest.fixture
def draft(alice, product):
    return factories.make_registration(alice, status="draft")


@pytest.fixture
def submitted(alice, product):
    return factories.make_registration(alice)


# --- Upload ---------------------------------------------------------------------------------------


def test_upload_answers_201_with_the_contract_fields_and_the_sha256(as_alice, alice, submitted):
    response = _upload(as_alice, submitted, factories.PDF_BYTES)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "name", "size", "content_type", "sha256", "uploaded_by", "created_at"} <= set(
        body
    )
    assert body["name"] == "proposal.pdf"
    assert body["size"] == len(factories.PDF_BYTES)
    assert body["content_type"] == "application/pdf"
    assert body["sha256"] == hashlib.sha256(factories.PDF_BYTES).hexdigest()
    assert body["uploaded_by"] == alice.email
    assert body["download_url"] == f"/api/v1/attachments/{body['id']}/download/"


def test_upload_and_removal_are_events_carrying_the_hash_in_a_verified_chain(
    as_alice, alice, draft
):
    created = _upload(as_alice, draft, factories.PDF_BYTES).json()
    removed = as_alice.delete(f"/api/v1/attachments/{created['id']}/")
    assert removed.status_code == 204
    events = list(RegistrationEvent.objects.filter(registration=draft).order_by("seq"))
    added, deleted = events[-2], events[-1]
    assert added.action == "attachment_added"
    assert added.details["sha256"] == created["sha256"]
    assert added.details["attachment"] == created["id"]
    assert deleted.action == "attachment_deleted"
    assert deleted.details == {
        "attachment": created["id"],
        "name": "proposal.pdf",
        "sha256": created["sha256"],
    }
    assert events_verify_chain(f"r:{draft.pk}") == []
    # The audit export proves which evidence existed, with its hash, at each point.
    audit = registration_audit(draft)
    assert created["sha256"] in json.dumps(audit["events"])


def test_partners_history_shows_the_evidence_hash(as_alice, submitted):
    created = _upload(as_alice, submitted, factories.PDF_BYTES).json()
    history = as_alice.get(f"/api/v1/registrations/{submitted.pk}/history/").json()
    entry = next(e for e in history if e["action"] == "attachment_added")
    assert entry["details"]["sha256"] == created["sha256"]
    assert entry["details"]["name"] == "proposal.pdf"


@pytest.mark.parametrize(
    ("content", "name", "content_type", "stored_name"),
    [
        (factories.PDF_BYTES, "offer.pdf", "application/pdf", "offer.pdf"),
        (factories.PNG_BYTES, "screenshot.PNG", "image/png", "screenshot.png"),
        (factories.JPEG_BYTES, "photo.jpeg", "image/jpeg", "photo.jpeg"),
        (b"Call notes: they want 40 seats.\n", "notes.txt", "text/plain", "notes.txt"),
        ("Grüße aus München\n".encode(), "mail.eml", "text/plain", "mail.eml"),
        (b"sku,qty\nCRM-PRO,40\n", "order.csv", "text/csv", "order.csv"),
        (factories.ooxml_bytes("docx"), "proposal.docx", None, "proposal.docx"),
        (factories.ooxml_bytes("xlsx"), "quote.xlsx", None, "quote.xlsx"),
        (factories.ooxml_bytes("pptx"), "pitch.pptx", None, "pitch.pptx"),
    ],
)
def test_every_accepted_type_is_recognised_by_its_content(
    as_alice, submitted, content, name, content_type, stored_name
):
    from prm.lib import uploads

    expected = (
        content_type
        or {
            "docx": uploads.DOCX,
            "xlsx": uploads.XLSX,
            "pptx": uploads.PPTX,
        }[name.rsplit(".", 1)[1]]
    )
    response = _upload(as_alice, submitted, content, name)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == expected
    assert response.json()["name"] == stored_name


def test_the_type_comes_from_the_bytes_not_the_name_or_the_browser(as_alice, submitted):
    file = io.BytesIO(factories.PDF_BYTES)
    file.name = "holiday.png"
    response = as_alice.post(_url(submitted), {"file": file}, format="multipart")
    assert response.status_code == 201
    # The name keeps what the partner called it, with the real type's extension after it.
    assert response.json()["content_type"] == "application/pdf"
    assert response.json()["name"] == "holiday.png.pdf"


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64, "quote.pdf"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "logo.png"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "notes.txt"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "chart.txt"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "report.docx"),
        (b"text with a NUL \x00 byte", "notes.txt"),
        (b"binary \x01\x02\x03 control bytes", "data.csv"),
        (factories.ooxml_bytes("docx", macro=True), "proposal.docx"),
        (b"PK\x03\x04 not really a zip archive" + b"\x00" * 40, "quote.xlsx"),
    ],
)
def test_content_outside_the_accepted_types_is_400_unsupported_file(
    as_alice, submitted, content, name
):
    before = hash_all_tables()
    response = _upload(as_alice, submitted, content, name)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "unsupported_file"
    assert "file" in response.json()["fields"]
    assert changed_tables(before, hash_all_tables()) == []
    assert _stored_keys() == []


def test_a_plain_zip_that_is_no_office_document_is_refused(as_alice, submitted):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.exe", b"MZ")
    response = _upload(as_alice, submitted, out.getvalue(), "quote.docx")
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file"


def test_a_file_over_10_mb_is_400_unsupported_file_and_nothing_is_stored(as_alice, submitted):
    content = b"a" * (10 * 1024 * 1024 + 1)
    response = _upload(as_alice, submitted, content, "big.txt")
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file"
    assert Attachment.objects.count() == 0
    assert _stored_keys() == []


def test_a_file_of_exactly_10_mb_is_accepted(as_alice, submitted):
    response = _upload(as_alice, submitted, b"a" * (10 * 1024 * 1024), "big.txt")
    assert response.status_code == 201
    assert response.json()["size"] == 10 * 1024 * 1024


def test_an_oversized_body_is_refused_by_its_length_before_it_is_read(as_alice, submitted):
    response = as_alice.post(
        _url(submitted),
        data=b"--x--",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file"


def test_an_empty_file_is_unsupported_and_a_missing_file_is_a_validation_error(as_alice, submitted):
    empty = _upload(as_alice, submitted, b"", "empty.txt")
    assert (empty.status_code, empty.json()["code"]) == (400, "unsupported_file")
    missing = as_alice.post(_url(submitted), {"note": "x"}, format="multipart")
    assert (missing.status_code, missing.json()["code"]) == (400, "validation_error")
    assert missing.json()["fields"] == {"file": ["No file was sent."]}
    as_json = as_alice.post(_url(submitted), {"file": "x"}, format="json")
    assert as_json.status_code == 415
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("invoice\u202etxt.exe", "invoicetxt.exe.txt"),
        ("report.html", "report.html.txt"),
        ("  ..hidden  ", "hidden.txt"),
        ("CON.txt", "_CON.txt"),
        ("x" * 300 + ".txt", "x" * 100 + ".txt"),
        ("Angebot für Müller.txt", "Angebot für Müller.txt"),
    ],
)
def test_file_names_are_sanitised_on_upload(as_alice, submitted, raw, expected):
    """What survives the multipart transport; tests/security/test_upload_sniffing.py has the
    whole set (paths, quotes, control characters)."""
    response = _upload(as_alice, submitted, b"plain words\n", raw)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == expected


@override_settings(ATTACHMENT_MAX_PER_REGISTRATION=2)
def test_the_per_registration_limit_is_409_and_leaves_no_bytes_behind(as_alice, submitted):
    assert _upload(as_alice, submitted, b"one\n", "1.txt").status_code == 201
    assert _upload(as_alice, submitted, b"two\n", "2.txt").status_code == 201
    third = _upload(as_alice, submitted, b"three\n", "3.txt")
    assert third.status_code == 409
    assert third.json()["code"] == "attachment_limit"
    assert Attachment.objects.filter(registration=submitted).count() == 2
    assert len(_stored_keys()) == 2


def test_the_default_limit_is_20_files(as_alice, draft):
    for number in range(20):
        assert _upload(as_alice, draft, f"{number}\n".encode(), f"{number}.txt").status_code == 201
    assert _upload(as_alice, draft, b"21\n", "21.txt").status_code == 409
    # A removed file frees its place.
    first = Attachment.objects.filter(registration=draft).order_by("id").first()
    assert as_alice.delete(f"/api/v1/attachments/{first.pk}/").status_code == 204
    assert _upload(as_alice, draft, b"21\n", "21.txt").status_code == 201


def _closed(alice, manager, status):
    if status in ("expired", "revoked"):
        registration = factories.make_registration(alice, status="approved", manager=manager)
        if status == "revoked":
            return services.registration_revoke(
                registration=registration, actor=manager, reason="not_qualified"
            )
        services.registration_expire(
            registration=registration, now=registration.expires_at + dt.timedelta(seconds=1)
        )
        registration.refresh_from_db()
        assert registration.status == "expired"
        return registration
    return factories.make_registration(alice, status=status, manager=manager)


@pytest.mark.parametrize(
    "status", ["withdrawn", "rejected", "won-verified", "lost", "expired", "revoked"]
)
def test_no_upload_once_the_registration_is_closed(alice, manager, product, status):
    if status == "won-verified":
        from rewards.services import win_verify

        registration = factories.make_registration(alice, status="won", manager=manager)
        win_verify(registration=registration, actor=manager)
        registration.refresh_from_db()
    else:
        registration = _closed(alice, manager, status)
    client = client_for(alice)
    client.get("/api/v1/me/")
    before = hash_all_tables()
    response = _upload(client, registration, factories.PDF_BYTES)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert changed_tables(before, hash_all_tables()) == []
    assert _stored_keys() == []


def test_a_won_registration_takes_the_customers_po_until_the_win_is_verified(
    alice, manager, product
):
    """Issue 19: a reported win may carry the customer's purchase order as evidence."""
    registration = factories.make_registration(alice, status="won", manager=manager)
    response = _upload(client_for(alice), registration, factories.PDF_BYTES, "po-4711.pdf")
    assert response.status_code == 201
    assert response.json()["name"] == "po-4711.pdf"


@pytest.mark.parametrize("status", ["draft", "submitted", "info_requested", "approved"])
def test_upload_in_every_open_status(alice, manager, product, status):
    registration = factories.make_registration(alice, status=status, manager=manager)
    assert _upload(client_for(alice), registration, factories.PDF_BYTES).status_code == 201


def test_a_partner_admin_uploads_too(as_alice_admin, submitted):
    assert _upload(as_alice_admin, submitted, factories.PDF_BYTES).status_code == 201


# --- Roles and tenants ------------------------------------------------------------------------------


def test_managers_read_but_may_not_upload_or_remove(alice, as_manager, submitted):
    attachment = factories.make_attachment(alice, submitted)
    assert _upload(as_manager, submitted, factories.PDF_BYTES).status_code == 403
    assert as_manager.delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 403
    listed = as_manager.get(_url(submitted))
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["results"]] == [attachment.pk]
    download = as_manager.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == factories.PDF_BYTES


def test_another_partner_gets_404_for_list_upload_download_and_remove(alice, as_bob, draft):
    attachment = factories.make_attachment(alice, draft)
    before = hash_all_tables()
    missing = as_bob.get("/api/v1/attachments/999999999/download/")
    for response in (
        as_bob.get(_url(draft)),
        _upload(as_bob, draft, factories.PDF_BYTES),
        as_bob.get(f"/api/v1/attachments/{attachment.pk}/download/"),
        as_bob.delete(f"/api/v1/attachments/{attachment.pk}/"),
    ):
        assert response.status_code == 404
        assert response.content == missing.content
    assert changed_tables(before, hash_all_tables()) == []


def test_a_draft_attachment_is_invisible_to_managers(alice, as_manager, draft):
    attachment = factories.make_attachment(alice, draft)
    assert as_manager.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404


def test_sales_reps_read_evidence_only_on_registrations_in_conflict_with_their_deals(
    alice, bob, product
):
    rep = factories.sales_rep_user(email="rita.rep@vendor.example")
    factories.make_opportunity(
        account_name="Umbrella Corp", account_domain="umbrella.com", owner_email=rep.email
    )
    theirs = factories.make_registration(
        alice, customer_name="Umbrella Corporation", customer_domain="umbrella.com"
    )
    other = factories.make_registration(bob, customer_name="Initech", customer_domain="initech.com")
    visible = factories.make_attachment(alice, theirs)
    hidden = factories.make_attachment(bob, other)
    client = client_for(rep)
    assert client.get(f"/api/v1/attachments/{visible.pk}/download/").status_code == 200
    assert client.get(f"/api/v1/attachments/{hidden.pk}/download/").status_code == 404
    assert _upload(client, theirs, factories.PDF_BYTES).status_code == 403
    assert client.delete(f"/api/v1/attachments/{visible.pk}/").status_code == 403


def test_integrations_with_registrations_read_list_and_download_but_never_write(
    alice, manager, submitted
):
    attachment = factories.make_attachment(alice, submitted)
    _, token = integration_create(actor=manager, name="Warehouse", scopes=["registrations:read"])
    reader = client_for()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert reader.get(_url(submitted)).status_code == 200
    download = reader.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert download.status_code == 200
    assert _upload(reader, submitted, factories.PDF_BYTES).status_code == 403
    assert reader.delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 403
    _, other_token = integration_create(actor=manager, name="CRM", scopes=["opportunities:write"])
    crm = client_for()
    crm.credentials(HTTP_AUTHORIZATION=f"Token {other_token}")
    assert crm.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 403


def test_anonymous_callers_get_401(alice, anon, submitted):
    attachment = factories.make_attachment(alice, submitted)
    assert anon.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 401
    assert anon.get(_url(submitted)).status_code == 401


# --- Download ----------------------------------------------------------------------------------------


def test_download_streams_the_bytes_as_an_attachment_with_nosniff(alice, as_alice, submitted):
    attachment = factories.make_attachment(alice, submitted, name="Angebot für Müller.pdf")
    response = as_alice.get(
        f"/api/v1/attachments/{attachment.pk}/download/", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == factories.PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(factories.PDF_BYTES))
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''Angebot%20f%C3%BCr%20M%C3%BCller.pdf" in disposition


def test_text_evidence_is_never_rendered_by_the_browser(alice, as_alice, submitted):
    attachment = factories.make_attachment(
        alice, submitted, name="page.html", content=b"just words, <b>not</b> a page\n"
    )
    response = as_alice.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="page.html.txt"'
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_removed_attachment_cannot_be_downloaded_and_its_bytes_are_gone(
    alice, as_alice, draft, django_capture_on_commit_callbacks
):
    attachment = factories.make_attachment(alice, draft)
    key = attachment.storage_key
    assert storages["attachments"].exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        assert as_alice.delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 204
    assert not storages["attachments"].exists(key)
    attachment.refresh_from_db()
    assert attachment.deleted_at is not None and attachment.deleted_by == alice
    assert as_alice.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404
    assert as_alice.get(_url(draft)).json()["count"] == 0
    assert as_alice.delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 404


def test_missing_bytes_answer_404_not_500(alice, as_alice, submitted):
    attachment = factories.make_attachment(alice, submitted)
    storages["attachments"].delete(attachment.storage_key)
    assert as_alice.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404


# --- Removal ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["submitted", "approved", "withdrawn", "won"])
def test_no_removal_once_the_registration_left_the_partners_edits(alice, manager, product, status):
    registration = factories.make_registration(alice, status="draft")
    attachment = factories.make_attachment(alice, registration)
    if status != "draft":
        services.registration_submit(registration=registration, actor=alice)
        if status in ("approved", "won"):
            services.registration_approve(registration=registration, actor=manager)
        if status == "won":
            registration.refresh_from_db()
            services.registration_close(
                registration=registration,
                actor=alice,
                outcome="won",
                close_date=dt.date.today().isoformat(),
            )
        if status == "withdrawn":
            registration.refresh_from_db()
            services.registration_withdraw(registration=registration, actor=alice)
    client = client_for(alice)
    client.get("/api/v1/me/")
    before = hash_all_tables()
    response = client.delete(f"/api/v1/attachments/{attachment.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert changed_tables(before, hash_all_tables()) == []


def test_removal_while_information_is_requested(alice, manager, product):
    registration = factories.make_registration(alice, status="info_requested", manager=manager)
    attachment = factories.make_attachment(alice, registration)
    assert client_for(alice).delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 204


def test_another_user_of_the_same_partner_may_remove(alice, as_alice_admin, draft):
    attachment = factories.make_attachment(alice, draft)
    assert as_alice_admin.delete(f"/api/v1/attachments/{attachment.pk}/").status_code == 204


# --- Lists ------------------------------------------------------------------------------------------


def test_the_list_is_paginated_oldest_first(alice, as_alice, submitted):
    first = factories.make_attachment(alice, submitted, name="a.txt", content=b"a\n")
    second = factories.make_attachment(alice, submitted, name="b.txt", content=b"b\n")
    body = as_alice.get(_url(submitted)).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [a["id"] for a in body["results"]] == [first.pk, second.pk]


def test_the_list_runs_a_constant_number_of_queries(
    alice, as_alice, submitted, django_assert_max_num_queries
):
    factories.make_attachment(alice, submitted)
    as_alice.get(_url(submitted))  # warm the token and policy caches
    with django_assert_max_num_queries(12) as few:
        assert as_alice.get(_url(submitted)).status_code == 200
    for number in range(15):
        factories.make_attachment(alice, submitted, name=f"{number}.txt", content=b"x\n")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_alice.get(_url(submitted)).json()["count"] == 16


# --- Logs -------------------------------------------------------------------------------------------


def test_an_uploads_bytes_never_reach_the_logs(as_alice, submitted, caplog):
    canary = b"SECRET-PRICE-LIST-CANARY"
    with caplog.at_level(logging.DEBUG):
        assert (
            _upload(as_alice, submitted, canary + b" 40 seats\n", "prices.txt").status_code == 201
        )
        refused = _upload(as_alice, submitted, b"MZ\x90\x00" + canary, "prices.txt")
        assert refused.status_code == 400
        assert canary not in refused.content
    assert any("attachment" in record.getMessage() for record in caplog.records)
    assert all(canary.decode() not in record.getMessage() for record in caplog.records)


# --- Storage ----------------------------------------------------------------------------------------


def test_filesystem_storage_keys_never_contain_the_partners_file_name(
    alice, as_alice, submitted, tmp_path
):
    backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path), "base_url": None},
    }
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, "attachments": backend}):
        response = _upload(as_alice, submitted, factories.PDF_BYTES, "../../evil.pdf")
        assert response.status_code == 201
        stored = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert len(stored) == 1
        assert stored[0].read_bytes() == factories.PDF_BYTES
        assert "evil" not in str(stored[0])
        assert stored[0].parent == tmp_path / "attachments" / str(submitted.pk)
        download = as_alice.get(f"/api/v1/attachments/{response.json()['id']}/download/")
        assert b"".join(download.streaming_content) == factories.PDF_BYTES
        download.close()
