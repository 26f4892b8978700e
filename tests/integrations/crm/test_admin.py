"""The administrator's way: add a connection in the admin (secrets write-only), consent
through OAuth against the local server, "Sync now", read the run log, retry a failed record."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from integrations.crm import credentials
from integrations.crm.models import ConnectionStatus, CrmConnection, RecordError, SyncRun
from tests import factories
from tests.integrations.crm.conftest import hs_connection, hs_deal, sf_opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, db):
    client.force_login(factories.manager_user(email="root@vendor.example", superuser=True))
    return client


def test_connect_salesforce_by_oauth_consent_then_sync_now(
    admin_client, fake_sf, tls, django_capture_on_commit_callbacks
):
    fake_sf.put(sf_opportunity(1))
    response = admin_client.post(
        "/admin/integrations/crmconnection/add/",
        {
            "name": "Acme Salesforce",
            "auth_method": "sf_oauth",
            "auth_url": fake_sf.url,
            "client_id": "client-1",
            "client_secret": "secret-1",
            "push_object": "Opportunity",
            "active": "on",
            "pull_enabled": "on",
            "push_enabled": "on",
            "pull_every_minutes": "15",
            "api_version": "59.0",
            "fields-TOTAL_FORMS": "0",
            "fields-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    connection = CrmConnection.objects.get(name="Acme Salesforce")
    assert connection.fields.count() == 11  # the default field map
    assert "secret-1" not in connection.credentials
    assert credentials.decrypt(connection.credentials)["client_secret"] == "secret-1"

    page = admin_client.get(f"/admin/integrations/crmconnection/{connection.pk}/change/")
    assert b"secret-1" not in page.content  # never shown again
    assert b"client_secret" in page.content  # ...but the admin sees that one is stored

    # "Connect (OAuth consent)": to the CRM's consent page, which comes back with a code.
    start = admin_client.get(
        f"/admin/integrations/crmconnection/oauth/start/?connection={connection.pk}"
    )
    assert start.status_code == 302 and start["Location"].startswith(fake_sf.url)
    for bad in ("99999999", "9223372036854775808", "x", ""):
        missing = admin_client.get(
            f"/admin/integrations/crmconnection/oauth/start/?connection={bad}"
        )
        assert missing.status_code == 404, bad
    consent = requests.get(start["Location"], allow_redirects=False, verify=tls[0], timeout=10)
    back = urlsplit(consent.headers["Location"])
    done = admin_client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert credentials.decrypt(connection.credentials)["refresh_token"] == "refresh-1"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/integrations/crmconnection/",
            {"action": "sync_now", "_selected_action": [connection.pk]},
        )
    run = SyncRun.objects.get(connection=connection)
    assert (run.status, run.created) == ("succeeded", 1)
    log = admin_client.get("/admin/integrations/syncrun/")
    assert log.status_code == 200 and b"succeeded" in log.content.lower()
    listing = admin_client.get("/admin/integrations/crmconnection/")
    assert b"Connected" in listing.content


def test_failed_record_retry_action(admin_client, fake_hs, django_capture_on_commit_callbacks):
    connection = hs_connection(fake_hs)
    deal_id = fake_hs.put(hs_deal(1, deal_currency_code="XYZ"))
    from integrations.crm.pull import crm_pull

    run = crm_pull(connection.pk)
    error = RecordError.objects.get(crm_id=deal_id)
    page = admin_client.get(f"/admin/integrations/syncrun/{run.pk}/change/")
    assert b"currency" in page.content

    fake_hs.put({"deal_currency_code": "USD"}, deal_id=deal_id)  # fixed in the CRM
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/integrations/recorderror/",
            {"action": "retry", "_selected_action": [error.pk]},
        )
    error.refresh_from_db()
    assert error.resolved_at is not None
    retry = SyncRun.objects.get(kind="retry")
    assert (retry.created, retry.failed) == (1, 0)


def test_reconnect_needed_is_shown(admin_client, fake_hs):
    connection = hs_connection(fake_hs)
    CrmConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.RECONNECT)
    page = admin_client.get("/admin/integrations/crmconnection/")
    assert re.search(rb"Reconnect needed", page.content)
    for url in (
        "/admin/integrations/crmlink/",
        "/admin/integrations/crmpush/",
        "/admin/integrations/recorderror/",
    ):
        assert admin_client.get(url).status_code == 200
