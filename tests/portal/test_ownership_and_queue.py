"""Issue 17 §3 and §5 in the pages: the owner column and the "mine" filter for everyone,
reassigning (one from the registration, many from the list), following, the partner admin's
handover before a deactivation; the manager queue split by who must act (awaiting decision,
awaiting partner with the SLA paused, extension requests, conflicts) with counts, and "Select
all clear" offering only what can be approved now."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from deals.models import DealRegistration, ExtensionRequest
from deals.registrations.extensions import extension_request_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def carl(partner_a):
    return factories.partner_user(partner_a, email="carl@acme-resellers.example")


# --- Owners in the portal -----------------------------------------------------------------------


def test_the_list_shows_the_owner_and_filters_mine(alice_client, alice, carl, product):
    mine = factories.make_registration(alice, customer_name="Mine Co")
    factories.make_registration(carl, customer_name="Carls Co")
    html = alice_client.get(reverse("registration_list")).content.decode()
    assert "Mine Co" in html and "Carls Co" in html
    assert carl.get_full_name() in html
    response = alice_client.get(reverse("registration_list"), {"owner": "me"})
    assert [r.pk for r in response.context["page"].object_list] == [mine.pk]
    assert alice_client.get(reverse("registration_list"), {"owner": "x"}).status_code == 400


def test_a_member_gets_no_reassign_controls_and_a_403(alice_client, alice, carl, product):
    registration = factories.make_registration(alice)
    assert (
        'id="bulk-reassign"' not in alice_client.get(reverse("registration_list")).content.decode()
    )
    detail = alice_client.get(reverse("registration_detail", args=[registration.pk]))
    assert 'id="owner-select"' not in detail.content.decode()
    response = alice_client.post(
        reverse("registration_reassign", args=[registration.pk]), {"owner": carl.pk}
    )
    assert response.status_code == 403
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_an_admin_reassigns_one_from_the_registration(admin_client_a, alice, carl, product):
    registration = factories.make_registration(alice)
    page = admin_client_a.get(reverse("registration_detail", args=[registration.pk]))
    assert 'id="owner-select"' in page.content.decode()
    response = admin_client_a.post(
        reverse("registration_reassign", args=[registration.pk]), {"owner": carl.pk}, follow=True
    )
    assert "is now owned by" in response.content.decode()
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk
    # The timeline says who owned it before and after.
    page = admin_client_a.get(reverse("registration_detail", args=[registration.pk]))
    assert f"Owner: {alice.email} → {carl.email}." in page.content.decode()


def test_an_admin_reassigns_many_from_the_list(admin_client_a, alice, carl, bob, product):
    first = factories.make_registration(alice)
    second = factories.make_registration(alice)
    response = admin_client_a.post(
        reverse("registrations_bulk_reassign"),
        {"ids": [first.pk, second.pk], "owner": carl.pk},
        follow=True,
    )
    assert "Reassigned 2 registrations." in response.content.decode()
    assert set(
        DealRegistration.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "owner_id", flat=True
        )
    ) == {carl.pk}
    # A foreign id is a 404 and changes nothing.
    foreign = factories.make_registration(bob)
    response = admin_client_a.post(
        reverse("registrations_bulk_reassign"), {"ids": [first.pk, foreign.pk], "owner": alice.pk}
    )
    assert response.status_code == 404
    assert DealRegistration.objects.get(pk=first.pk).owner_id == carl.pk


def test_bulk_reassign_to_someone_outside_the_company_is_a_message(
    admin_client_a, alice, bob, product
):
    registration = factories.make_registration(alice)
    response = admin_client_a.post(
        reverse("registrations_bulk_reassign"),
        {"ids": [registration.pk], "owner": bob.pk},
        follow=True,
    )
    assert "Not an active user of this partner" in response.content.decode()
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_follow_and_stop_following(client, carl, alice, product):
    registration = factories.make_registration(alice)
    client.force_login(carl)
    url = reverse("registration_watch", args=[registration.pk])
    client.post(url, {"action": "watch"})
    assert registration.watchers.filter(user=carl).exists()
    page = client.get(reverse("registration_detail", args=[registration.pk])).content.decode()
    assert "Stop following" in page
    client.post(url, {"action": "unwatch"})
    assert not registration.watchers.exists()


def test_a_manager_reassigns_from_the_review_page(manager_client, alice, carl, product):
    registration = factories.make_registration(alice)
    page = manager_client.get(reverse("manage_registration", args=[registration.pk]))
    assert 'id="owner-select"' in page.content.decode()
    response = manager_client.post(
        reverse("registration_reassign", args=[registration.pk]), {"owner": carl.pk}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("manage_registration", args=[registration.pk])
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk


# --- Handover before a deactivation -------------------------------------------------------------


def test_the_handover_page_lists_open_registrations_and_asks_for_a_new_owner(
    admin_client_a, alice, carl, product
):
    registration = factories.make_registration(alice)
    html = admin_client_a.get(reverse("company_user_handover", args=[alice.pk])).content.decode()
    assert registration.reference in html
    assert 'name="new_owner"' in html and carl.email in html
    response = admin_client_a.post(
        reverse("company_user_deactivate", args=[alice.pk]), {"new_owner": carl.pk}, follow=True
    )
    assert "now belong to" in response.content.decode()
    alice.refresh_from_db()
    assert not alice.is_active
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk


def test_a_new_owner_from_another_company_refuses_the_deactivation(
    admin_client_a, alice, bob, product
):
    registration = factories.make_registration(alice)
    response = admin_client_a.post(
        reverse("company_user_deactivate", args=[alice.pk]), {"new_owner": bob.pk}, follow=True
    )
    assert "Choose an active colleague" in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_the_handover_page_is_for_admins_and_own_company(alice, alice_admin, bob):
    from django.test import Client

    member, admin = Client(), Client()
    member.force_login(alice)
    admin.force_login(alice_admin)
    assert member.get(reverse("company_user_handover", args=[alice_admin.pk])).status_code == 403
    assert admin.get(reverse("company_user_handover", args=[bob.pk])).status_code == 404


# --- The manager queue split by who must act (§5) -----------------------------------------------


def test_awaiting_partner_is_its_own_view_with_the_sla_paused(
    manager_client, manager, alice, product
):
    with time_machine.travel(timezone.now() - dt.timedelta(days=10)):
        waiting = factories.make_registration(
            alice, status="info_requested", manager=manager, customer_name="Waiting Co"
        )
        late = factories.make_registration(alice, customer_name="Late Co")
    decide = manager_client.get(reverse("manage_queue"))
    assert [r.pk for r in decide.context["rows"]] == [late.pk]
    assert decide.context["rows"][0].is_overdue
    partner = manager_client.get(reverse("manage_queue"), {"view": "partner"})
    (row,) = partner.context["rows"]
    assert row.pk == waiting.pk
    assert not row.is_overdue, "an information request pauses the SLA clock"
    html = partner.content.decode()
    assert ">Paused</span>" in html and ">Overdue</span>" not in html
    counts = {v["key"]: v["count"] for v in partner.context["views"]}
    assert counts == {"decide": 1, "partner": 1, "extensions": 0}


def test_the_api_overdue_flag_follows_the_paused_clock(manager, alice, product):
    from tests.api.conftest import client_for

    with time_machine.travel(timezone.now() - dt.timedelta(days=10)):
        waiting = factories.make_registration(alice, status="info_requested", manager=manager)
    client = client_for(manager)
    assert client.get(f"/api/v1/registrations/{waiting.pk}/").json()["overdue"] is False
    overdue = client.get("/api/v1/registrations/?overdue=true").json()["results"]
    assert waiting.pk not in [r["id"] for r in overdue]


def test_extension_requests_are_a_queue_view_and_decided_there(
    manager_client, manager, alice, product
):
    approved = factories.make_registration(alice, status="approved", manager=manager)
    request = extension_request_create(registration=approved, actor=alice, reason="Slipped")
    response = manager_client.get(reverse("manage_queue"), {"view": "extensions"})
    assert [e.pk for e in response.context["extensions"]] == [request.pk]
    assert "Slipped" in response.content.decode()
    counts = {v["key"]: v["count"] for v in response.context["views"]}
    assert counts["extensions"] == 1
    decided = manager_client.post(
        reverse("manage_extension_decide", args=[request.pk]),
        {"decision": "approve", "back": "queue"},
    )
    assert decided["Location"] == reverse("manage_queue") + "?view=extensions"
    assert ExtensionRequest.objects.get(pk=request.pk).status == "approved"


def test_the_conflicts_tab_counts_open_conflicts(manager_client, alice, bob, product):
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    factories.make_registration(bob, customer_name="Globex Corp", customer_domain="globex.com")
    response = manager_client.get(reverse("manage_queue"))
    assert response.context["conflict_count"] == 1
    assert 'data-testid="queue-tab-conflicts"' in response.content.decode()


def test_an_unknown_queue_view_is_400(manager_client):
    assert manager_client.get(reverse("manage_queue"), {"view": "nope"}).status_code == 400


def test_select_all_clear_offers_only_what_can_be_approved_now(
    manager_client, manager, alice, product
):
    clear = factories.make_registration(alice, customer_name="Clear Co")
    waiting = factories.make_registration(
        alice, status="info_requested", manager=manager, customer_name="Waiting Co"
    )
    decide = manager_client.get(reverse("manage_queue")).content.decode()
    assert f'value="{clear.pk}" data-bulk-item' in decide
    partner = manager_client.get(reverse("manage_queue"), {"view": "partner"}).content.decode()
    assert "data-bulk-item" not in partner and "Select all clear" not in partner
    # Posted anyway, a registration awaiting the partner is skipped with a reason.
    response = manager_client.post(
        reverse("manage_bulk_approve"), {"ids": [clear.pk, waiting.pk]}, follow=True
    )
    assert f"{waiting.reference}: awaiting the partner" in response.content.decode()
    assert DealRegistration.objects.get(pk=waiting.pk).status == "info_requested"
    assert DealRegistration.objects.get(pk=clear.pk).status == "approved"


def test_the_queue_runs_a_constant_number_of_queries(manager_client, alice, bob, product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(n):
        while DealRegistration.objects.count() < n:
            factories.make_registration(alice if DealRegistration.objects.count() % 2 else bob)
        manager_client.get(reverse("manage_queue"))
        with CaptureQueriesContext(connection) as captured:
            manager_client.get(reverse("manage_queue"))
        return len(captured)

    assert queries(1) == queries(5)
