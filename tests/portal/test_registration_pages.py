"""My registrations: the list (filters, search, pagination), the detail page (all fields,
protection window, timeline without internal events, comments without internal notes) and the
actions allowed in the current status, each a POST calling the registration services."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from deals.models import ActivityEntry, Comment, ExtensionRequest
from deals.registrations import services
from deals.registrations.collaboration import comment_create
from tests import factories


def test_list_shows_only_my_company_with_badges(alice_client, alice, bob, product):
    mine = factories.make_registration(alice, customer_name="Mine Corp")
    factories.make_registration(bob, customer_name="Theirs Corp")
    html = alice_client.get(reverse("registration_list")).content.decode()
    assert "Mine Corp" in html and mine.reference in html
    assert "Theirs Corp" not in html
    assert 'class="badge status-submitted"' in html


def test_list_filters_and_search(alice_client, alice, product):
    factories.make_registration(alice, customer_name="Draft Co", status="draft")
    factories.make_registration(alice, customer_name="Submitted Co")
    drafts = alice_client.get(reverse("registration_list"), {"status": "draft"})
    assert [r.customer_name for r in drafts.context["page"].object_list] == ["Draft Co"]
    search = alice_client.get(reverse("registration_list"), {"search": "submitted co"})
    assert [r.customer_name for r in search.context["page"].object_list] == ["Submitted Co"]
    conflict = alice_client.get(reverse("registration_list"), {"conflict_status": "conflict"})
    assert list(conflict.context["page"].object_list) == []
    assert "No registrations match these filters" in conflict.content.decode()


def test_list_conflict_badge(bob_client, alice_registration, bob, product):
    factories.make_registration(bob, customer_name="Globex Corp", customer_domain="globex.com")
    html = bob_client.get(reverse("registration_list")).content.decode()
    assert 'data-testid="conflict-badge">Already engaged' in html


def test_list_paginates(alice_client, alice, product):
    for i in range(27):
        factories.make_registration(alice, status="draft", customer_name=f"Paged {i}")
    first = alice_client.get(reverse("registration_list"))
    assert len(first.context["page"].object_list) == 25
    second = alice_client.get(reverse("registration_list"), {"page": 2})
    assert len(second.context["page"].object_list) == 2
    assert "Page 2 of 2" in second.content.decode()


def test_empty_list_says_what_to_do(alice_client):
    html = alice_client.get(reverse("registration_list")).content.decode()
    assert "Register your first deal" in html


def test_detail_shows_fields_timeline_and_hides_internal(
    alice_client, alice, manager, alice_registration
):
    comment_create(registration=alice_registration, actor=manager, body="Visible reply")
    comment_create(
        registration=alice_registration, actor=manager, body="SECRET internal", internal=True
    )
    response = alice_client.get(reverse("registration_detail", args=[alice_registration.pk]))
    html = response.content.decode()
    for text in (
        "Globex Corporation",
        "globex.com",
        "Pat Buyer",
        "CRM Pro",
        "125,000.00 USD",
        alice_registration.reference,
    ):
        assert text in html, text
    assert "Visible reply" in html
    assert "SECRET internal" not in html
    assert all(not e.internal for e in response.context["timeline"])
    assert [e.action for e in response.context["timeline"]] == ["created", "submitted", "commented"]


def test_detail_hides_conflict_details_from_partner(bob_client, bob, alice_registration, product):
    theirs = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    response = bob_client.get(reverse("registration_detail", args=[theirs.pk]))
    html = response.content.decode()
    assert "already engaged" in html
    assert "conflict_detected" not in [e.action for e in response.context["timeline"]]
    for leak in ("Acme", alice_registration.reference):
        assert leak not in html


def test_detail_protection_window(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    html = alice_client.get(reverse("registration_detail", args=[registration.pk])).content.decode()
    assert "Protected until" in html
    assert registration.expires_at.strftime("%b %Y") in html
    assert f"{registration.days_left} days left" in html


def test_detail_shows_the_rejection_reason(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, manager=manager)
    services.registration_reject(
        registration=registration, actor=manager, reason="outside_territory", note="EMEA only"
    )
    html = alice_client.get(reverse("registration_detail", args=[registration.pk])).content.decode()
    assert "Rejected: Outside territory" in html
    assert "EMEA only" in html


def test_actions_offered_follow_the_status(alice_client, alice, manager, product):
    draft = factories.make_registration(alice, status="draft")
    context = alice_client.get(reverse("registration_detail", args=[draft.pk])).context
    assert (
        context["can_edit"],
        context["can_submit"],
        context["can_withdraw"],
        context["can_close"],
        context["can_extend"],
    ) == (True, True, True, False, False)
    approved = factories.make_registration(alice, status="approved", manager=manager)
    context = alice_client.get(reverse("registration_detail", args=[approved.pk])).context
    assert (
        context["can_edit"],
        context["can_submit"],
        context["can_withdraw"],
        context["can_close"],
        context["can_extend"],
    ) == (False, False, True, True, True)


def test_submit_a_draft(alice_client, alice, product):
    draft = factories.make_registration(alice, status="draft")
    response = alice_client.post(reverse("registration_submit", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "submitted"


def test_submit_duplicate_points_to_existing(alice_client, alice, alice_registration, product):
    draft = factories.make_registration(
        alice, status="draft", customer_name="Globex Corp", customer_domain="globex.com"
    )
    response = alice_client.post(reverse("registration_submit", args=[draft.pk]), follow=True)
    html = response.content.decode()
    assert "already has an active registration" in html
    assert alice_registration.reference in html
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_withdraw(alice_client, alice_registration):
    response = alice_client.post(reverse("registration_withdraw", args=[alice_registration.pk]))
    assert response.status_code == 302
    alice_registration.refresh_from_db()
    assert alice_registration.status == "withdrawn"


def test_illegal_transition_is_a_message_not_an_error(alice_client, alice_registration):
    services.registration_withdraw(
        registration=alice_registration, actor=alice_registration.submitted_by
    )
    response = alice_client.post(
        reverse("registration_withdraw", args=[alice_registration.pk]), follow=True
    )
    assert response.status_code == 200
    assert "You cannot withdraw a registration that is withdrawn." in response.content.decode()


def test_request_extension(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    response = alice_client.post(
        reverse("registration_extension", args=[registration.pk]), {"reason": "Budget slipped"}
    )
    assert response.status_code == 302
    assert ExtensionRequest.objects.get(registration=registration).reason == "Budget slipped"
    again = alice_client.post(
        reverse("registration_extension", args=[registration.pk]), {"reason": "Again"}, follow=True
    )
    assert "already pending" in again.content.decode()
    assert ExtensionRequest.objects.filter(registration=registration).count() == 1


def test_extension_needs_a_reason(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    response = alice_client.post(
        reverse("registration_extension", args=[registration.pk]), {"reason": ""}, follow=True
    )
    assert "Reason: This field is required." in response.content.decode()
    assert not ExtensionRequest.objects.exists()


def test_close_won_and_lost(alice_client, alice, manager, product):
    won = factories.make_registration(alice, status="approved", manager=manager)
    today = timezone.localdate().isoformat()
    alice_client.post(
        reverse("registration_close", args=[won.pk]),
        {"outcome": "won", "close_date": today, "actual_value": "130000", "confirm": "yes"},
    )
    won.refresh_from_db()
    assert (won.status, str(won.actual_value)) == ("won", "130000.00")
    lost = factories.make_registration(alice, status="approved", manager=manager)
    alice_client.post(
        reverse("registration_close", args=[lost.pk]),
        {"outcome": "lost", "close_date": today, "lost_reason": "Price"},
    )
    lost.refresh_from_db()
    assert (lost.status, lost.lost_reason) == ("lost", "Price")


def test_close_with_future_date_is_refused(alice_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    future = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = alice_client.post(
        reverse("registration_close", args=[registration.pk]),
        {"outcome": "won", "close_date": future},
        follow=True,
    )
    assert "cannot be in the future" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == "approved"


def test_comment(alice_client, alice_registration):
    response = alice_client.post(
        reverse("registration_comment", args=[alice_registration.pk]), {"body": "Any news?"}
    )
    assert response.status_code == 302
    comment = Comment.objects.get(registration=alice_registration)
    assert (comment.body, comment.internal) == ("Any news?", False)


def test_partner_cannot_post_internal_note(alice_client, alice_registration):
    alice_client.post(
        reverse("registration_comment", args=[alice_registration.pk]),
        {"body": "x", "internal": "true"},
    )
    assert Comment.objects.get(registration=alice_registration).internal is False


def test_log_activity(alice_client, alice_registration):
    day = timezone.localdate().isoformat()
    response = alice_client.post(
        reverse("registration_activity", args=[alice_registration.pk]),
        {"kind": "demo", "occurred_on": day, "summary": "Demo to the CIO"},
    )
    assert response.status_code == 302
    entry = ActivityEntry.objects.get(registration=alice_registration)
    assert (entry.kind, entry.summary) == ("demo", "Demo to the CIO")
    html = alice_client.get(
        reverse("registration_detail", args=[alice_registration.pk])
    ).content.decode()
    assert "Demo to the CIO" in html


def test_actions_need_post(alice_client, alice_registration):
    for name in (
        "registration_submit",
        "registration_withdraw",
        "registration_extension",
        "registration_close",
        "registration_comment",
        "registration_activity",
    ):
        assert alice_client.get(reverse(name, args=[alice_registration.pk])).status_code == 405, (
            name
        )


def test_forms_carry_csrf(alice, alice_registration):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    html = client.get(reverse("registration_detail", args=[alice_registration.pk])).content.decode()
    assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"') + 0
    refused = client.post(reverse("registration_withdraw", args=[alice_registration.pk]))
    assert refused.status_code == 403
    alice_registration.refresh_from_db()
    assert alice_registration.status == "submitted"


def test_a_won_close_asks_for_confirmation_first(alice_client, alice, manager, product):
    """Issue 18 §6.7: reporting a win shows what will be recorded and asks again; nothing is
    closed until it is confirmed. The form starts from today and the estimated value."""
    registration = factories.make_registration(alice, status="approved", manager=manager)
    detail = alice_client.get(reverse("registration_detail", args=[registration.pk]))
    form = detail.context["close_form"]
    assert form["close_date"].value() == timezone.localdate().isoformat()
    assert str(form["actual_value"].value()) == str(registration.estimated_value)
    url = reverse("registration_close", args=[registration.pk])
    today = timezone.localdate().isoformat()
    first = alice_client.post(url, {"outcome": "won", "close_date": today, "actual_value": ""})
    assert first.status_code == 200
    text = first.content.decode()
    assert 'data-testid="close-confirm"' in text and "(the estimated value)" in text
    assert 'name="confirm" value="yes"' in text
    registration.refresh_from_db()
    assert registration.status == "approved"  # nothing recorded yet
    alice_client.post(
        url, {"outcome": "won", "close_date": today, "actual_value": "", "confirm": "yes"}
    )
    registration.refresh_from_db()
    assert registration.status == "won"
    assert registration.actual_value == registration.estimated_value


def test_a_won_close_with_bad_input_returns_to_the_form_without_confirming(
    alice_client, alice, manager, product
):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    response = alice_client.post(
        reverse("registration_close", args=[registration.pk]),
        {"outcome": "won", "close_date": "soon", "actual_value": "-1"},
        follow=True,
    )
    assert 'data-testid="close-confirm"' not in response.content.decode()
    assert response.context["close_form"]["close_date"].value() == "soon"
    registration.refresh_from_db()
    assert registration.status == "approved"
