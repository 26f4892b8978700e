"""The manager workspace: the review queue (SLA order, overdue, filters, bulk approve of clear
registrations), the review page (both records side by side, reasons, activity, policy,
one-click decisions, conflict resolutions, internal notes), partners and direct opportunities
(list, search, CSV import with a per-row report)."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conflicts.models import Conflict
from deals.models import Comment, DirectOpportunity
from deals.opportunities.services import opportunity_delete
from deals.registrations.collaboration import activity_create
from deals.registrations.extensions import extension_request_create
from tests import factories


def test_queue_is_ordered_by_sla_and_flags_overdue(manager_client, alice, bob, product):
    with time_machine.travel(timezone.now() - dt.timedelta(days=10)):
        old = factories.make_registration(bob, customer_name="Old Co")
    new = factories.make_registration(alice, customer_name="New Co")
    factories.make_registration(alice, customer_name="Draft Co", status="draft")
    response = manager_client.get(reverse("manage_queue"))
    rows = response.context["rows"]
    assert [r.pk for r in rows] == [old.pk, new.pk]
    assert rows[0].is_overdue and not rows[1].is_overdue
    html = response.content.decode()
    assert html.count(">Overdue</span>") == 1
    assert "Draft Co" not in html


def test_queue_filters(manager_client, alice, bob, partner_b, product, other_line_product):
    factories.make_registration(alice, customer_name="Alpha")
    factories.make_registration(bob, customer_name="Bravo ERP", products=["erp-core"])
    by_partner = manager_client.get(reverse("manage_queue"), {"partner": partner_b.pk}).context[
        "rows"
    ]
    assert [r.customer_name for r in by_partner] == ["Bravo ERP"]
    by_line = manager_client.get(reverse("manage_queue"), {"product_line": "crm"}).context["rows"]
    assert [r.customer_name for r in by_line] == ["Alpha"]
    by_tier = manager_client.get(reverse("manage_queue"), {"tier": "platinum"}).context["rows"]
    assert by_tier == []
    by_conflict = manager_client.get(reverse("manage_queue"), {"conflict_status": "clear"}).context[
        "rows"
    ]
    assert len(by_conflict) == 2


def test_manager_home_redirects_to_queue(manager_client):
    response = manager_client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("manage_queue")


def test_bulk_approve_approves_clear_and_reports_the_rest(
    manager_client, alice, bob, alice_registration, product
):
    clear = factories.make_registration(alice, customer_name="Clear Co")
    conflicting = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    response = manager_client.post(
        reverse("manage_bulk_approve"), {"ids": [clear.pk, conflicting.pk, 999999]}, follow=True
    )
    html = response.content.decode()
    assert f"Approved 1: {clear.reference}." in html
    assert f"{conflicting.reference}: not clear" in html
    assert "#999999: not found" in html
    clear.refresh_from_db()
    conflicting.refresh_from_db()
    assert clear.status == "approved"
    assert conflicting.status == "submitted"


def test_queue_only_offers_checkboxes_for_clear(
    manager_client, alice, bob, alice_registration, product
):
    clear = factories.make_registration(
        alice, customer_name="Initech Systems", customer_domain="initech.com"
    )
    conflicting = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    html = manager_client.get(reverse("manage_queue")).content.decode()
    assert f'name="ids" value="{clear.pk}"' in html
    assert f'name="ids" value="{conflicting.pk}"' not in html
    # Issue 14: the earlier registration of the pair is not clear either (both sides).
    assert f'name="ids" value="{alice_registration.pk}"' not in html


def test_review_page_side_by_side(manager_client, alice, bob, alice_registration, product):
    activity_create(
        registration=alice_registration,
        actor=alice,
        kind="meeting",
        occurred_on=timezone.localdate().isoformat(),
        summary="Kick-off with IT",
    )
    second = factories.make_registration(
        bob, customer_name="GLOBEX Corp.", customer_domain="globex.com"
    )
    response = manager_client.get(reverse("manage_registration", args=[second.pk]))
    html = response.content.decode()
    side = response.context["sides"][0]
    assert side.registration.pk == alice_registration.pk
    assert "This registration" in html and "Partner registration" in html
    assert (
        alice_registration.reference in html
        and "Acme Resellers" in html
        and "Bravo Solutions" in html
    )
    assert "same website domain" in html
    assert "Kick-off with IT" in html  # the other side's activity log
    assert f"Policy v{response.context['policy'].version}" in html
    for resolution in (
        "first_registration_wins",
        "partner_wins",
        "co_sell",
        "not_a_conflict",
        "duplicate",
    ):
        assert f'value="{resolution}"' in html
    assert 'value="direct_wins"' not in html  # only for direct opportunities


def test_review_page_direct_opportunity_and_deleted_one(manager_client, manager, alice, product):
    opportunity = factories.make_opportunity(account_name="Hooli Inc", account_domain="hooli.com")
    registration = factories.make_registration(
        alice, customer_name="Hooli", customer_domain="hooli.com"
    )
    html = manager_client.get(
        reverse("manage_registration", args=[registration.pk])
    ).content.decode()
    assert (
        "Direct opportunity" in html
        and opportunity.external_id in html
        and 'value="direct_wins"' in html
    )
    opportunity_delete(opportunity=opportunity, actor=manager)
    html = manager_client.get(
        reverse("manage_registration", args=[registration.pk])
    ).content.decode()
    assert "This record has been deleted" in html
    assert f"{opportunity.external_id} · Hooli Inc" in html


def test_resolve_first_registration_wins(manager_client, bob, alice_registration, product):
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk)
    response = manager_client.post(
        reverse("manage_conflict_resolve", args=[conflict.pk]),
        {"resolution": "first_registration_wins", "note": "A was first"},
    )
    assert response["Location"] == reverse("manage_registration", args=[second.pk])
    conflict.refresh_from_db()
    second.refresh_from_db()
    assert (conflict.status, conflict.resolution) == ("resolved", "first_registration_wins")
    assert (second.status, second.rejection_reason) == ("rejected", "partner_registration")
    again = manager_client.post(
        reverse("manage_conflict_resolve", args=[conflict.pk]),
        {"resolution": "co_sell"},
        follow=True,
    )
    assert "already resolved" in again.content.decode()


def test_resolve_with_unknown_resolution_is_a_message(
    manager_client, bob, alice_registration, product
):
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk)
    response = manager_client.post(
        reverse("manage_conflict_resolve", args=[conflict.pk]),
        {"resolution": "direct_wins"},
        follow=True,
    )
    assert "not with a direct opportunity" in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == "open"


def test_approve_with_protection_override(manager_client, alice_registration):
    response = manager_client.post(
        reverse("manage_approve", args=[alice_registration.pk]),
        {"protection_days": "30", "note": "Go"},
        follow=True,
    )
    alice_registration.refresh_from_db()
    assert alice_registration.status == "approved"
    assert (alice_registration.expires_at - alice_registration.approved_at).days == 30
    assert "approved; protected until" in response.content.decode()


def test_approve_twice_is_a_message(manager_client, alice_registration):
    manager_client.post(reverse("manage_approve", args=[alice_registration.pk]))
    response = manager_client.post(
        reverse("manage_approve", args=[alice_registration.pk]), follow=True
    )
    assert "You cannot approve a registration that is approved." in response.content.decode()


def test_approve_rejects_bad_protection_days(manager_client, alice_registration):
    response = manager_client.post(
        reverse("manage_approve", args=[alice_registration.pk]),
        {"protection_days": "abc"},
        follow=True,
    )
    assert "Protection days: Enter a whole number of days." in response.content.decode()
    alice_registration.refresh_from_db()
    assert alice_registration.status == "submitted"


def test_reject_needs_reason_and_note_for_other(manager_client, alice_registration):
    response = manager_client.post(
        reverse("manage_reject", args=[alice_registration.pk]), {"reason": "other"}, follow=True
    )
    assert "Note: This field is required." in response.content.decode()
    manager_client.post(
        reverse("manage_reject", args=[alice_registration.pk]),
        {"reason": "not_qualified", "note": "Too small"},
    )
    alice_registration.refresh_from_db()
    assert (
        alice_registration.status,
        alice_registration.rejection_reason,
        alice_registration.decision_note,
    ) == ("rejected", "not_qualified", "Too small")


def test_request_info(manager_client, alice_registration):
    manager_client.post(
        reverse("manage_request_info", args=[alice_registration.pk]),
        {"message": "Which department?"},
    )
    alice_registration.refresh_from_db()
    assert (alice_registration.status, alice_registration.decision_note) == (
        "info_requested",
        "Which department?",
    )


def test_internal_note_and_reply(manager_client, alice_registration):
    manager_client.post(
        reverse("manage_note", args=[alice_registration.pk]),
        {"body": "Check with rep", "visibility": "internal"},
    )
    manager_client.post(
        reverse("manage_note", args=[alice_registration.pk]),
        {"body": "Thanks!", "visibility": "partner"},
    )
    notes = list(
        Comment.objects.filter(registration=alice_registration).values_list("body", "internal")
    )
    assert notes == [("Check with rep", True), ("Thanks!", False)]


def test_extension_decision(manager_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    request = extension_request_create(registration=registration, actor=alice, reason="Slipped")
    before = registration.expires_at
    html = manager_client.get(
        reverse("manage_registration", args=[registration.pk])
    ).content.decode()
    assert "Slipped" in html
    manager_client.post(
        reverse("manage_extension_decide", args=[request.pk]), {"decision": "approve"}
    )
    registration.refresh_from_db()
    request.refresh_from_db()
    assert request.status == "approved"
    assert registration.expires_at > before


def test_manager_detail_url_redirects_to_review(manager_client, alice_registration):
    response = manager_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    assert response["Location"] == reverse("manage_registration", args=[alice_registration.pk])


def test_manager_without_totp_is_sent_to_enrol(client, alice_registration):
    manager = factories.manager_user(mfa=False)
    client.force_login(manager)
    response = client.get(reverse("manage_queue"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_partners_list_and_detail(
    manager_client, partner_a, alice, alice_admin, alice_registration
):
    html = manager_client.get(reverse("manage_partner_list")).content.decode()
    assert "Acme Resellers" in html and "Gold" in html
    response = manager_client.get(reverse("manage_partner_detail", args=[partner_a.pk]))
    html = response.content.decode()
    assert alice.email in html and alice_admin.email in html
    assert alice_registration.reference in html
    assert response.context["registration_total"] == 1
    assert manager_client.get(reverse("manage_partner_detail", args=[999999])).status_code == 404


def test_opportunities_list_and_search(manager_client, product):
    factories.make_opportunity(account_name="Pied Piper", external_id="CRM-PP")
    factories.make_opportunity(account_name="Raviga")
    response = manager_client.get(reverse("manage_opportunity_list"), {"search": "pied"})
    assert [o.external_id for o in response.context["page"].object_list] == ["CRM-PP"]


CSV_HEADER = "external_id,account_name,account_domain,country,owner_email,products,amount,currency,stage,close_date,status\n"


def test_csv_import(manager_client, product):
    csv_file = SimpleUploadedFile(
        "opps.csv",
        (
            CSV_HEADER
            + "CRM-1,Wayne Enterprises,wayne.com,US,rep@vendor.example,crm-pro,90000,USD,discovery,,open\n"
        ).encode(),
        content_type="text/csv",
    )
    response = manager_client.post(
        reverse("manage_opportunity_import"), {"file": csv_file}, follow=True
    )
    assert "Import complete: 1 created, 0 updated." in response.content.decode()
    assert DirectOpportunity.objects.get(external_id="CRM-1").account_name == "Wayne Enterprises"


def test_csv_import_reports_errors_per_row(manager_client, product):
    csv_file = SimpleUploadedFile(
        "opps.csv",
        (
            CSV_HEADER
            + "CRM-1,Wayne,wayne.com,US,,crm-pro,90000,USD,,,open\nCRM-2,Stark,stark.com,XX,,crm-pro,-5,USD,,,open\n"
        ).encode(),
        content_type="text/csv",
    )
    response = manager_client.post(reverse("manage_opportunity_import"), {"file": csv_file})
    assert response.status_code == 400
    report = response.context["row_errors"]
    assert [row["line"] for row in report] == [3]  # second data row = line 3 of the file
    assert {field for field, _ in report[0]["errors"]} >= {"country"}
    assert "nothing was written" in response.content.decode()
    assert not DirectOpportunity.objects.exists()


def test_csv_import_file_problem(manager_client):
    bad = SimpleUploadedFile("opps.csv", b"nonsense,columns\n1,2\n", content_type="text/csv")
    response = manager_client.post(reverse("manage_opportunity_import"), {"file": bad})
    assert response.status_code == 400
    assert "Unknown column" in response.content.decode()
    missing = manager_client.post(reverse("manage_opportunity_import"), {})
    assert missing.status_code == 400
