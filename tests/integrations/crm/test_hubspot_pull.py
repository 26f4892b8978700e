"""HubSpot pull: CRM v3 search by hs_lastmodifieddate with paging (and past the 10,000-result
limit), archived deals, private-app token and OAuth refresh, 429 with Retry-After."""

from __future__ import annotations

import pytest

from deals.models import DirectOpportunity
from integrations.crm.models import AuthMethod, ConnectionStatus, CrmConnection, SyncRun
from integrations.crm.pull import crm_pull
from prm.lib.time import timezone_now
from tests.integrations.crm.conftest import hs_connection, hs_deal

pytestmark = pytest.mark.django_db


def test_search_pages_and_maps_deals(fake_hs):
    ids = [fake_hs.put(hs_deal(n)) for n in range(450)]
    connection = hs_connection(fake_hs)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error or list(
        run.errors.values_list("message", flat=True)[:3]
    )
    assert (run.fetched, run.created) == (450, 450)
    assert fake_hs.hits["/crm/v3/objects/deals/search"] == 3  # 200 + 200 + 50
    deal = DirectOpportunity.objects.get(external_id=ids[5])
    assert (deal.account_name, deal.account_domain, deal.country) == (
        "Account 5 Inc",
        "account5-hs.com",
        "US",  # "United States" mapped to its ISO code
    )
    assert (str(deal.amount), deal.currency, deal.close_date.isoformat()) == (
        "2005.00",
        "USD",
        "2026-07-31",
    )


def test_incremental_search_and_closed_won(fake_hs):
    ids = [fake_hs.put(hs_deal(n)) for n in range(5)]
    connection = hs_connection(fake_hs)
    crm_pull(connection.pk)

    fake_hs.put({"dealstage": "closedwon"}, deal_id=ids[2])
    run = crm_pull(connection.pk)

    assert (run.fetched, run.updated, run.created) == (1, 1, 0)
    assert DirectOpportunity.objects.get(external_id=ids[2]).status == "won"


def test_more_than_ten_thousand_changes_restart_the_search(fake_hs, monkeypatch):
    # The fake's 10,000 cap, scaled down so the test stays quick: the client must restart
    # from the last stored modification time rather than page past the limit.
    from integrations.crm import hubspot

    monkeypatch.setattr(hubspot, "SEARCH_LIMIT", 400)
    fake_hs.SEARCH_LIMIT = 400
    for n in range(900):
        fake_hs.put(hs_deal(n))
    connection = hs_connection(fake_hs)

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created == 900
    assert DirectOpportunity.objects.count() == 900


def test_archived_deals_are_deleted(fake_hs):
    ids = [fake_hs.put(hs_deal(n)) for n in range(3)]
    connection = hs_connection(fake_hs)
    crm_pull(connection.pk)
    fake_hs.archive(ids[0], at=timezone_now())

    run = crm_pull(connection.pk)

    assert run.deleted == 1, run.error
    assert not DirectOpportunity.objects.filter(external_id=ids[0]).exists()


def test_429_honours_retry_after(fake_hs, waits):
    fake_hs.put(hs_deal(1))
    connection = hs_connection(fake_hs)
    fake_hs.fail("/crm/v3/objects/deals/search", 429, times=1, headers={"Retry-After": "3"})

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert waits == [3.0]


def test_rate_limit_longer_than_we_wait_fails_the_run_for_later(fake_hs, waits, settings):
    settings.CRM_MAX_RETRY_AFTER_SECONDS = 30
    fake_hs.put(hs_deal(1))
    connection = hs_connection(fake_hs)
    fake_hs.fail("/crm/v3/objects/deals/search", 429, times=1, headers={"Retry-After": "600"})

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    assert "wait 600 s" in run.error
    assert waits == []
    assert CrmConnection.objects.get(pk=connection.pk).watermark_at is None


def test_oauth_token_is_refreshed_after_401(fake_hs):
    fake_hs.put(hs_deal(1))
    connection = hs_connection(fake_hs, method=AuthMethod.HS_OAUTH)
    crm_pull(connection.pk)
    fake_hs.expire_tokens()
    fake_hs.put(hs_deal(2))

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.created == 1
    assert fake_hs.hits["/oauth/v1/token"] == 2


def test_rejected_private_app_token_needs_reconnecting(fake_hs):
    fake_hs.put(hs_deal(1))
    connection = hs_connection(fake_hs)
    fake_hs.expire_tokens()

    run = crm_pull(connection.pk)

    assert run.status == SyncRun.Status.FAILED
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.RECONNECT
