"""Issue 18 §6: defects a first walk through the portal found (one test per defect)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from partners.models import ApiToken, User
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


# --- 6. A partner's draft is their private work ---------------------------------------------------


@pytest.fixture
def alice_draft(alice, product):
    return factories.make_registration(
        alice, status="draft", customer_name="Secret Draft Industries"
    )


def test_draft_is_not_on_managers_partner_page(manager_client, alice_draft):
    response = manager_client.get(reverse("manage_partner_detail", args=[alice_draft.partner_id]))
    assert response.status_code == 200
    assert "Secret Draft Industries" not in response.content.decode()


def test_draft_is_404_to_a_manager(manager_client, alice_draft):
    response = manager_client.get(reverse("manage_registration", args=[alice_draft.pk]))
    assert response.status_code == 404


def test_draft_is_not_in_managers_api(manager, alice_draft):
    api = client_for(manager)
    listing = api.get("/api/v1/registrations/").json()
    assert alice_draft.pk not in [r["id"] for r in listing["results"]]
    assert api.get(f"/api/v1/registrations/{alice_draft.pk}/").status_code == 404
    assert (
        api.get(f"/api/v1/registrations/?partner={alice_draft.partner_id}").json()["results"] == []
    )


def test_draft_is_still_visible_to_its_partner(alice, alice_draft):
    api = client_for(alice)
    assert api.get(f"/api/v1/registrations/{alice_draft.pk}/").status_code == 200


def test_draft_is_not_in_managers_csv_export(manager, alice_draft):
    response = client_for(manager).get("/api/v1/reports/registrations.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert "Secret Draft Industries" not in body.decode("utf-8-sig")


# --- 3. Refreshing after creating an API token -----------------------------------------------


def test_refreshing_after_creating_a_token_does_not_create_a_second(alice_client, alice):
    response = alice_client.post(reverse("token_list"), {"name": "CRM sync"})
    assert response.status_code == 302  # post/redirect/get: a refresh re-runs the GET only
    shown = alice_client.get(response["Location"])
    raw = shown.context["raw_key"]
    assert raw and raw in shown.content.decode()
    refreshed = alice_client.get(reverse("token_list"))
    assert raw not in refreshed.content.decode()  # shown once, then forgotten
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_token_with_an_empty_name_is_refused(alice_client, alice):
    response = alice_client.post(reverse("token_list"), {"name": "   "})
    assert response.status_code == 400
    assert "Enter a name" in response.content.decode()
    assert not ApiToken.objects.filter(user=alice).exists()


# --- 5. Inviting an address that has an account with another partner ------------------------


@pytest.fixture
def moved(partner_b):
    """A user of another partner whose address is in the inviting partner's domain."""
    return factories.partner_user(partner_b, email="moved.on@acme-resellers.example")


def test_inviting_another_partners_user_does_not_confirm_the_account(
    admin_client_a, moved, partner_a
):
    bob = moved
    fresh = admin_client_a.post(
        reverse("company_users"), {"email": "new.person@acme-resellers.example"}, follow=True
    )
    taken = admin_client_a.post(reverse("company_users"), {"email": bob.email}, follow=True)
    assert taken.status_code == fresh.status_code == 200
    assert "already exists" not in taken.content.decode()
    assert f"Invitation sent to {bob.email}" in taken.content.decode()
    bob.refresh_from_db()
    assert bob.membership.partner != partner_a  # nothing changed for the other account
    assert not User.objects.filter(email__startswith="withheld-").exists()


def test_api_invite_of_another_partners_user_answers_like_a_fresh_one(alice_admin, moved):
    bob = moved
    api = client_for(alice_admin)
    url = f"/api/v1/partners/{alice_admin.membership.partner_id}/users/"
    fresh = api.post(
        url, {"email": "new.person@acme-resellers.example", "role": "admin"}, format="json"
    )
    taken = api.post(url, {"email": bob.email.upper(), "role": "admin"}, format="json")
    assert fresh.status_code == taken.status_code == 201
    assert set(taken.json()) == set(fresh.json())
    assert taken.json()["role"] == "admin"
    assert "exists" not in taken.content.decode()
    assert bob.email not in [u["email"] for u in api.get(url).json()["results"]]


def test_the_invited_account_holder_is_told_once_a_day_and_the_inviter_is_not(
    admin_client_a, alice_admin, moved, partner_a, django_capture_on_commit_callbacks, mailoutbox
):
    from deals.models import Notification, NotificationKind

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_a.post(reverse("company_users"), {"email": moved.email}, follow=True)
        admin_client_a.post(reverse("company_users"), {"email": moved.email}, follow=True)
    notices = Notification.objects.filter(kind=NotificationKind.INVITATION_WITHHELD)
    assert [n.recipient for n in notices] == [moved]  # the account holder, once
    notice = notices.get()
    assert partner_a.name in notice.title
    assert alice_admin.get_full_name() in notice.body or alice_admin.email in notice.body
    assert "no new account was created" in notice.body
    sent = [m for m in mailoutbox if moved.email in m.to]
    assert len(sent) == 1 and partner_a.name in sent[0].subject
    # The inviting partner's admin hears nothing of it.
    assert not Notification.objects.filter(recipient=alice_admin).exists()
    assert not [m for m in mailoutbox if alice_admin.email in m.to]


def test_a_draft_offers_delete_not_withdraw_and_the_deletion_is_recorded(
    alice_client, alice, alice_draft
):
    from deals.models import RegistrationEvent

    page = alice_client.get(reverse("registration_detail", args=[alice_draft.pk]))
    text = page.content.decode()
    assert "Delete draft" in text and ">Withdraw<" not in text
    response = alice_client.post(
        reverse("registration_withdraw", args=[alice_draft.pk]), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("registration_list")
    assert f"Draft {alice_draft.reference} deleted." in response.content.decode()
    assert "Secret Draft Industries" not in response.content.decode()  # gone from the list
    event = RegistrationEvent.objects.filter(registration=alice_draft).order_by("seq").last()
    assert (event.action, event.details) == ("withdrawn", {"deleted_draft": True})
    history = alice_client.get(reverse("registration_detail", args=[alice_draft.pk]))
    assert "Draft deleted (it was never submitted)." in history.content.decode()


def test_withdrawing_a_submitted_registration_keeps_it_in_the_list(
    alice_client, alice, alice_registration
):
    alice_client.post(reverse("registration_withdraw", args=[alice_registration.pk]))
    listing = alice_client.get(reverse("registration_list")).content.decode()
    assert alice_registration.reference in listing


# --- 1. A refused close, reject, extension or comment form keeps what was typed ---------------


def test_refused_reject_keeps_the_reason_and_shows_the_error(manager_client, alice_registration):
    url = reverse("manage_reject", args=[alice_registration.pk])
    response = manager_client.post(url, {"reason": "other", "note": ""}, follow=True)
    assert response.status_code == 200
    form = response.context["reject_form"]
    assert form["reason"].value() == "other"  # not back to "Choose a reason"
    assert form.errors  # the error sits beside the field
    assert 'aria-invalid="true"' in response.content.decode()
    again = manager_client.get(reverse("manage_registration", args=[alice_registration.pk]))
    assert again.context["reject_form"]["reason"].value() in (None, "")  # shown once


def test_refused_close_keeps_the_date_and_value(alice_client, alice, product):
    registration = factories.make_registration(alice, status="approved")
    url = reverse("registration_close", args=[registration.pk])
    data = {"outcome": "lost", "close_date": "2020-01-02", "actual_value": "-5", "lost_reason": ""}
    response = alice_client.post(url, data, follow=True)
    form = response.context["close_form"]
    assert form["close_date"].value() == "2020-01-02"
    assert form["outcome"].value() == "lost"
    assert form.errors


def test_refused_comment_keeps_nothing_lost(alice_client, alice_registration):
    url = reverse("registration_comment", args=[alice_registration.pk])
    response = alice_client.post(url, {"body": "x" * 5001}, follow=True)
    form = response.context["comment_form"]
    assert form["body"].value().startswith("xxx")
    assert form.errors


# --- 2. Enter in a registration field submits -------------------------------------------------


def test_enter_default_button_of_the_registration_form_is_submit(alice_client):
    import re

    html = alice_client.get(reverse("registration_create")).content.decode()
    form = html[html.index("data-registration-form") :]
    first = re.search(r"<button[^>]*type=\"submit\"[^>]*>", form).group(0)
    assert 'value="submit"' in first  # Enter presses the first submit button: not the check


# --- 9. Notification copy ----------------------------------------------------------------------


def test_notification_copy_has_no_record_s_nor_names_s(manager, alice, product):
    from deals.models import Notification

    northbridge = factories.PartnerFactory(name="Northbridge Solutions", domains=["nb.example"])
    nick = factories.partner_user(northbridge, email="nick@nb.example")
    factories.make_registration(alice, customer_name="Globex Corp", customer_domain="globex.com")
    factories.make_registration(nick, customer_name="Globex Corp", customer_domain="globex.com")
    bodies = list(
        Notification.objects.filter(kind="conflict_detected").values_list("body", flat=True)
    )
    assert bodies
    text = " ".join(bodies)
    assert "record(s)" not in text
    assert "Solutions's" not in text
    assert "Northbridge Solutions' registration" in text


def test_invitation_email_says_who_invited(alice_admin, partner_a):

    from deals.models import Notification
    from deals.notifications.delivery import email_render
    from partners import services as partner_services

    alice_admin.name = "Ada Lovelace"
    alice_admin.save()
    partner_services.partner_user_create(
        actor=alice_admin, partner=partner_a, email="new.person@acme-resellers.example"
    )
    row = Notification.objects.get(kind="user_invited")
    assert "Ada Lovelace invited you" in row.body
    _, text, html = email_render(row)
    assert "Ada Lovelace invited you to register deals for" in text
    assert "Ada Lovelace invited you" in html


# --- 7. Names, contrast, accessible names, heading order --------------------------------------


def test_timeline_shows_names_and_country_names(manager_client, manager, alice, product):
    alice.name = "Alice Archer"
    alice.save()
    registration = factories.make_registration(alice, customer_country="DE")
    html = manager_client.get(reverse("manage_registration", args=[registration.pk]))
    content = html.content.decode()
    timeline = content[content.index('id="tl-h"') :]
    assert "Alice Archer" in timeline
    assert alice.email not in timeline
    assert "<dd>Germany</dd>" in content


def _css_var(css: str, name: str) -> str:
    import re

    return re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", css).group(1)


def _contrast(a: str, b: str) -> float:
    def lum(hex_):
        channels = [int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _color(css: str, rule: str, prop: str) -> str:
    import re

    body = re.search(re.escape(rule) + r"\s*\{([^}]*)\}", css).group(1)
    value = re.search(rf"(?<![-\w]){prop}:\s*([^;]+);", body).group(1).strip()
    if value.startswith("var(--"):
        return _css_var(css, value[6:-1])
    return value


def test_unread_badge_and_disabled_previous_meet_wcag_aa_contrast():
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    badge = _contrast(_color(css, ".bell-count", "background"), "#ffffff")
    disabled = _contrast(_color(css, ".pagination .disabled", "color"), "#ffffff")
    assert badge >= 4.5, badge
    assert disabled >= 4.5, disabled


def test_user_menu_button_has_an_accessible_name(alice_client):
    import re

    html = alice_client.get(reverse("home")).content.decode()
    summary = re.search(r"<summary>(.*?)</summary>", html, re.S).group(1)
    assert '<span class="visually-hidden">Account menu' in summary


def test_conflict_review_heading_order_does_not_skip_a_level(manager_client, alice, bob, product):
    import re

    factories.make_registration(alice, customer_name="Globex Corp", customer_domain="globex.com")
    later = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    html = manager_client.get(reverse("manage_registration", args=[later.pk])).content.decode()
    assert "side-other" in html  # the conflict review is on the page
    levels = [int(level) for level in re.findall(r"<h([1-6])[\s>]", html)]
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels


# --- 8. The pages' CSV export is for people ----------------------------------------------------


def test_csv_download_has_labels_plain_dates_and_a_bom(manager_client, manager, product):
    import csv
    import io
    import re

    zurich = factories.PartnerFactory(name="Zürich Télécom", domains=["zt.example"])
    zoe = factories.partner_user(zurich, email="zoe@zt.example")
    factories.make_registration(zoe, customer_name="Globex Corp", customer_country="DE")
    page = manager_client.get(reverse("reports-dashboard")).content.decode()
    url = re.search(r'href="([^"]*registrations\.csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert not url.startswith("/api/")  # the API's CSV keeps its contract
    response = manager_client.get(url)
    assert response.status_code == 200
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # spreadsheet programs then read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    row = next(r for r in rows if r["Partner"] == "Zürich Télécom")
    assert row["Status"] == "Submitted"
    assert row["Customer country"] == "Germany"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row["Submitted at"]), row["Submitted at"]


def test_api_csv_keeps_its_codes_and_iso_timestamps(manager, alice, product):
    factories.make_registration(alice)
    response = client_for(manager).get("/api/v1/reports/registrations.csv")
    raw = b"".join(response.streaming_content).decode()
    assert raw.startswith("reference,partner,tier,status,")
    assert ",submitted," in raw


# --- 6. One way to resubmit -------------------------------------------------------------------


def test_info_requested_shows_one_resubmit_action(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, status="info_requested", manager=manager)
    html = alice_client.get(reverse("registration_detail", args=[registration.pk])).content
    page = html.decode()
    assert "Edit and resubmit" in page
    assert ">Resubmit</button>" not in page
    assert reverse("registration_submit", args=[registration.pk]) not in page


# --- 10. Admin labels --------------------------------------------------------------------------


def test_admin_labels_read_as_english():
    from conflicts.models import IdentityEntry, KeyFrequency
    from deals.models import RulesOfEngagement

    assert IdentityEntry._meta.verbose_name_plural == "identity entries"
    assert KeyFrequency._meta.verbose_name_plural == "key frequencies"
    label = RulesOfEngagement._meta.get_field("sla_business_days").verbose_name
    assert label == "review SLA (business days)"
