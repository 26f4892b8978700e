"""Salesforce pull: OAuth refresh, SOQL paging (queryMore), watermark, deletions, mapping
errors, 401 -> refresh, 503 -> backoff, a crash mid-run."""

from __future__ import annotations

import datetime as dt

import pytest

from deals.models import DirectOpportunity, RegistrationEvent
from integrations.crm import credentials
from integrations.crm.models import (
    AuthMethod,
    ConnectionStatus,
    CrmConnection,
    CrmFieldMap,
    RecordError,
    SyncRun,
)
from integrations.crm.pull import crm_pull, record_errors_retry
from prm.lib.time import timezone_now
from tests.integrations.crm.conftest import sf_connection, sf_opportunity

pytestmark = pytest.mark.django_db


def test_initial_pull_pages_through_query_more_and_maps_every_field(fake_sf):
    ids = [fake_sf.put(sf_opportunity(n)) for n in range(120)]
    connection = sf_connection(fake_sf)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, (
        run.error or list(run.errors.values_list("message", flat=True))[:3]
    )
    assert (run.fetched, run.created, run.updated, run.failed) == (120, 120, 0, 0)
    # 120 records at 50 per batch: one query and two queryMore calls.
    assert fake_sf.hits["/services/data/v59.0/query/"] == 1
    assert (
        sum(n for p, n in fake_sf.hits.items() if p.startswith("/services/data/v59.0/query/01g"))
        == 2
    )
    opportunity = DirectOpportunity.objects.get(external_id=ids[7])
    assert opportunity.account_name == "Account 7 GmbH"
    assert opportunity.account_domain == "account7-crm.com"
    assert (opportunity.country, opportunity.currency, str(opportunity.amount)) == (
        "DE",
        "EUR",
        "1007.00",
    )
    assert opportunity.owner_email == "rep@vendor.example"
    assert (opportunity.stage, opportunity.status) == ("Prospecting", "open")
    assert opportunity.close_date.isoformat() == "2026-06-30"
    connection.refresh_from_db()
    assert connection.watermark_id == ids[-1]
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.last_success_at is not None


def test_incremental_pull_fetches_only_changes_since_the_watermark(fake_sf):
    ids = [fake_sf.put(sf_opportunity(n)) for n in range(10)]
    connection = sf_connection(fake_sf)
    crm_pull(connection.pk)

    fake_sf.put({"Id": ids[3], "StageName": "Closed Won", "Amount": 5555})
    fake_sf.put(sf_opportunity(99))
    run = crm_pull(connection.pk)

    assert (run.fetched, run.created, run.updated) == (2, 1, 1)
    won = DirectOpportunity.objects.get(external_id=ids[3])
    assert (won.status, str(won.amount)) == ("won", "5555.00")
    assert crm_pull(connection.pk).fetched == 0  # nothing new: nothing fetched


def test_deletions_from_get_deleted_remove_the_opportunity(fake_sf):
    ids = [fake_sf.put(sf_opportunity(n)) for n in range(3)]
    connection = sf_connection(fake_sf)
    crm_pull(connection.pk)
    # getDeleted reads from where the last window ended (whole seconds, as the API takes
    # them) to this run's start: a deletion a moment ago is in this run's window.
    CrmConnection.objects.filter(pk=connection.pk).update(
        deleted_watermark_at=timezone_now() - dt.timedelta(minutes=1)
    )
    fake_sf.delete(ids[1], at=timezone_now() - dt.timedelta(seconds=1))

    run = crm_pull(connection.pk)

    assert run.deleted == 1, run.error
    assert not DirectOpportunity.objects.filter(external_id=ids[1]).exists()
    assert RegistrationEvent.objects.filter(action="opportunity_deleted").count() == 1


def test_mapping_errors_become_failed_records_and_do_not_block_the_rest(fake_sf):
    good = fake_sf.put(sf_opportunity(1))
    bad = fake_sf.put(
        sf_opportunity(2, **{"Account.BillingCountryCode": "XX", "CurrencyIsoCode": "EURO"})
    )
    connection = sf_connection(fake_sf)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.PARTIAL
    assert (run.created, run.failed) == (1, 1)
    assert DirectOpportunity.objects.filter(external_id=good).exists()
    error = RecordError.objects.get(crm_id=bad)
    assert "country" in error.message and "currency" in error.message
    assert error.record["Account.Name"] == "Account 2 GmbH"
    connection.refresh_from_db()
    assert connection.watermark_id == bad  # stored as a failed record: the watermark moves on

    # The administrator fixes the mapping (a value map), then retries the record.
    CrmFieldMap.objects.filter(connection=connection, target="currency").update(
        value_map={"EURO": "EUR"}
    )
    CrmFieldMap.objects.filter(connection=connection, target="country").update(
        value_map={"XX": "AT"}
    )
    retry = record_errors_retry([error.pk])
    assert (retry.kind, retry.created, retry.failed) == ("retry", 1, 0)
    assert DirectOpportunity.objects.get(external_id=bad).country == "AT"
    error.refresh_from_db()
    assert error.resolved_at is not None


def test_expired_session_is_refreshed_once_and_the_token_stays_encrypted(fake_sf):
    fake_sf.put(sf_opportunity(1))
    connection = sf_connection(fake_sf)
    crm_pull(connection.pk)
    fake_sf.expire_tokens()  # Salesforce revoked the session: 401 INVALID_SESSION_ID
    fake_sf.put(sf_opportunity(2))

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, (
        run.error or list(run.errors.values_list("message", flat=True))[:3]
    )
    assert run.created == 1
    assert fake_sf.hits["/services/oauth2/token"] == 2
    connection.refresh_from_db()
    assert "refresh-1" not in connection.credentials  # encrypted at rest
    assert credentials.decrypt(connection.credentials)["access_token"] in fake_sf.access_tokens


def test_revoked_refresh_token_marks_the_connection_reconnect_needed(fake_sf):
    fake_sf.put(sf_opportunity(1))
    connection = sf_connection(fake_sf)
    fake_sf.refresh_tokens.clear()

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    assert "Reconnect" in run.error
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.RECONNECT
    assert "invalid_grant" in connection.status_message


def test_503_backs_off_and_then_succeeds(fake_sf, waits):
    fake_sf.put(sf_opportunity(1))
    connection = sf_connection(fake_sf)
    fake_sf.fail("/services/data/v59.0/query/", 503, times=2)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, (
        run.error or list(run.errors.values_list("message", flat=True))[:3]
    )
    assert waits == [1.0, 2.0]
    assert run.created == 1


def test_outage_fails_the_run_keeps_the_watermark_and_the_next_run_resumes(fake_sf, waits):
    ids = [fake_sf.put(sf_opportunity(n)) for n in range(120)]
    connection = sf_connection(fake_sf)
    # The first page arrives, then queryMore keeps failing: a CRM outage mid-run.
    fake_sf.fail("/services/data/v59.0/query/01g", 503, times=10)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    assert "unavailable" in run.error
    assert run.created == 50
    connection.refresh_from_db()
    assert connection.watermark_id == ids[49]  # moved past what was stored, no further
    assert connection.last_failure_at is not None

    fake_sf.faults.clear()
    rerun = crm_pull(connection.pk)
    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert (rerun.fetched, rerun.created) == (70, 70)
    assert DirectOpportunity.objects.count() == 120


def test_a_crash_mid_run_is_repaired_by_an_idempotent_rerun(fake_sf, monkeypatch):
    ids = [fake_sf.put(sf_opportunity(n)) for n in range(120)]
    connection = sf_connection(fake_sf)
    from integrations.crm import pull

    real_store = pull._store
    calls = {"n": 0}

    def crash_on_second_page(*args, **kwargs):
        calls["n"] += 1
        real_store(*args, **kwargs)
        if calls["n"] == 2:
            raise RuntimeError("worker killed")  # stored, but the watermark did not move

    monkeypatch.setattr(pull, "_store", crash_on_second_page)
    run = crm_pull(connection.pk)
    assert run.status == SyncRun.Status.FAILED
    connection.refresh_from_db()
    assert connection.watermark_id == ids[49]

    monkeypatch.setattr(pull, "_store", real_store)
    rerun = crm_pull(connection.pk)
    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert (rerun.fetched, rerun.created, rerun.updated) == (70, 20, 50)
    assert DirectOpportunity.objects.count() == 120


def test_jwt_bearer_connection_pulls(fake_sf):
    fake_sf.put(sf_opportunity(1))
    connection = sf_connection(fake_sf, method=AuthMethod.SF_JWT)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, (
        run.error or list(run.errors.values_list("message", flat=True))[:3]
    )
    assert run.created == 1


def test_a_pull_that_is_already_running_is_not_started_twice(fake_sf):
    connection = sf_connection(fake_sf)
    SyncRun.objects.create(connection=connection, kind="pull")

    assert crm_pull(connection.pk) is None
