"""Push (registration -> Salesforce Opportunity/Lead, HubSpot deal; partner as the source;
the CRM id kept in a link) and closing the loop (the CRM closes the linked record -> the
registration is closed with the CRM's amount and date)."""

from __future__ import annotations

import datetime as dt

import pytest

from deals.models import DirectOpportunity, RegistrationEvent
from integrations.crm.models import CrmLink, CrmPush, PushObject, RecordError, SyncRun
from integrations.crm.pull import crm_pull
from integrations.crm.push import crm_push_drain, push_errors_retry
from prm.lib.time import timezone_now
from rewards.models import Accrual
from tests.factories import make_registration
from tests.integrations.crm.conftest import hs_connection, sf_connection

pytestmark = pytest.mark.django_db


def test_approved_registration_is_pushed_once_and_linked(fake_sf, alice):
    connection = sf_connection(fake_sf)
    registration = make_registration(alice, status="approved")
    assert CrmPush.objects.filter(connection=connection).count() == 2  # submitted, approved

    run = crm_push_drain(connection.pk)

    assert (run.kind, run.status, run.pushed, run.created) == ("push", "succeeded", 1, 1)
    link = CrmLink.objects.get(connection=connection, registration=registration)
    record = fake_sf.objects["Opportunity"][link.crm_id]
    assert record["LeadSource"] == "Partner"
    assert record["StageName"] == "Qualification"
    assert registration.reference in record["Name"]
    assert alice.membership.partner.name in record["Description"]
    assert set(CrmPush.objects.values_list("status", flat=True)) == {"done"}
    assert crm_push_drain(connection.pk) is None  # nothing left: no second create


def test_push_is_kicked_after_commit(fake_sf, alice, django_capture_on_commit_callbacks):
    connection = sf_connection(fake_sf)
    with django_capture_on_commit_callbacks(execute=True):
        registration = make_registration(alice, status="submitted")

    link = CrmLink.objects.get(connection=connection, registration=registration)
    assert fake_sf.objects["Opportunity"][link.crm_id]["StageName"] == "Prospecting"


def test_crm_closed_won_closes_the_registration_and_verifies_the_win(fake_sf, alice):
    connection = sf_connection(fake_sf)
    registration = make_registration(alice, status="approved")
    crm_push_drain(connection.pk)
    link = CrmLink.objects.get(registration=registration)
    crm_pull(connection.pk)
    assert not DirectOpportunity.objects.exists()  # our own record is not a direct deal

    closed_on = (timezone_now() - dt.timedelta(days=1)).date().isoformat()
    fake_sf.put(
        {"Id": link.crm_id, "StageName": "Closed Won", "Amount": 99000, "CloseDate": closed_on}
    )
    run = crm_pull(connection.pk)

    assert run.closed == 1, run.error or list(run.errors.values_list("message", flat=True))
    registration.refresh_from_db()
    assert registration.status == "won"
    assert (str(registration.actual_value), registration.close_date.isoformat()) == (
        "99000.00",
        closed_on,
    )
    event = RegistrationEvent.objects.get(registration=registration, action="closed_won")
    assert event.actor_id == connection.service_user_id
    assert event.actor_label.startswith(f"crm-{connection.pk}-salesforce@")
    assert Accrual.objects.filter(registration=registration, verification_source="crm").exists()
    # A second pull of the same record closes nothing twice.
    fake_sf.put({"Id": link.crm_id, "Amount": 99001})
    assert crm_pull(connection.pk).closed == 0


def test_hubspot_closed_lost_closes_the_registration_lost(fake_hs, alice):
    connection = hs_connection(fake_hs)
    registration = make_registration(alice, status="approved")
    run = crm_push_drain(connection.pk)
    assert run.created == 1, run.error
    link = CrmLink.objects.get(registration=registration)
    assert link.object_type == PushObject.DEAL
    assert fake_hs.deals[link.crm_id]["dealstage"] == "qualifiedtobuy"
    crm_pull(connection.pk)

    fake_hs.put({"dealstage": "closedlost"}, deal_id=link.crm_id)
    run = crm_pull(connection.pk)

    assert run.closed == 1, run.error or list(run.errors.values_list("message", flat=True))
    registration.refresh_from_db()
    assert registration.status == "lost"
    assert "HubSpot" in registration.lost_reason
    # The close is pushed back as an update of the same deal.
    crm_push_drain(connection.pk)
    assert fake_hs.deals[link.crm_id]["dealstage"] == "closedlost"
    assert CrmLink.objects.count() == 1


def test_refused_lead_is_a_failed_record_and_retry_pushes_it(fake_sf, alice):
    connection = sf_connection(fake_sf, push_object=PushObject.LEAD)
    registration = make_registration(alice, status="submitted")
    fake_sf.fail("/services/data/v59.0/sobjects/Lead/", 400)

    run = crm_push_drain(connection.pk)

    assert (run.status, run.failed) == ("partial", 1)
    error = RecordError.objects.get(direction="push", registration=registration)
    assert not CrmLink.objects.exists()

    assert push_errors_retry([error.pk]) == 1
    retry = crm_push_drain(connection.pk)
    assert retry.created == 1
    link = CrmLink.objects.get(registration=registration)
    lead = fake_sf.objects["Lead"][link.crm_id]
    assert (lead["Company"], lead["LastName"], lead["LeadSource"]) == (
        registration.customer_name,
        "Buyer",
        "Partner",
    )
    error.refresh_from_db()
    assert error.resolved_at is not None


def test_crm_outage_keeps_pushes_pending_for_later(fake_sf, alice, waits):
    connection = sf_connection(fake_sf)
    make_registration(alice, status="submitted")
    fake_sf.fail("/services/data/v59.0/sobjects/Opportunity/", 503, times=10)

    run = crm_push_drain(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    row = CrmPush.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > timezone_now()
    assert not CrmLink.objects.exists()


def test_manager_sees_the_crm_record_on_the_registration_page(fake_sf, alice, manager, client):
    connection = sf_connection(fake_sf)
    registration = make_registration(alice, status="approved", manager=manager)
    client.force_login(manager)
    page = client.get(f"/manage/registrations/{registration.pk}/").content.decode()
    assert "In the CRM" not in page  # not pushed yet: nothing to show

    crm_push_drain(connection.pk)
    link = CrmLink.objects.get(registration=registration)
    page = client.get(f"/manage/registrations/{registration.pk}/").content.decode()
    assert "In the CRM" in page
    assert f"{fake_sf.url}/lightning/r/Opportunity/{link.crm_id}/view" in page
