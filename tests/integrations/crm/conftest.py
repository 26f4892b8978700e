"""Fake Salesforce and HubSpot servers on 127.0.0.1 (TLS) and connections pointed at them."""

from __future__ import annotations

import pytest

from integrations.crm import clients
from integrations.crm.models import AuthMethod, CrmConnection, PushObject, Vendor
from integrations.crm.services import connection_prepare, connection_set_secrets
from tests.integrations.crm.fakes import FakeHubSpot, FakeSalesforce, make_tls, rsa_keypair

HS_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def _trust_fakes(settings, tls):
    settings.CRM_CA_BUNDLE = tls[0]
    settings.CRM_HTTP_RETRIES = 3


@pytest.fixture
def waits(monkeypatch):
    """The backoff waits asked for (not spent)."""
    asked: list[float] = []
    monkeypatch.setattr(clients, "sleep", asked.append)
    return asked


@pytest.fixture
def fake_sf(tls):
    server = FakeSalesforce(*tls, batch=50).start()
    yield server
    server.stop()


@pytest.fixture
def fake_hs(tls):
    server = FakeHubSpot(*tls).start()
    yield server
    server.stop()


def sf_connection(
    fake_sf, *, method=AuthMethod.SF_WEB_SERVER, push_object=PushObject.OPPORTUNITY, **extra
):
    connection = CrmConnection.objects.create(
        name=f"Salesforce {method}",
        vendor=Vendor.SALESFORCE,
        auth_method=method,
        auth_url=fake_sf.url,
        client_id="client-1",
        username=fake_sf.jwt_subject,
        push_object=push_object,
        **extra,
    )
    connection_prepare(connection)
    if method == AuthMethod.SF_JWT:
        private, public = rsa_keypair()
        fake_sf.jwt_public_key = public
        connection_set_secrets(connection, {"private_key": private})
    else:
        connection_set_secrets(
            connection, {"client_secret": "secret-1", "refresh_token": "refresh-1"}
        )
    connection.refresh_from_db()
    return connection


def hs_connection(fake_hs, *, method=AuthMethod.HS_PRIVATE_APP, **extra):
    connection = CrmConnection.objects.create(
        name=f"HubSpot {method}",
        vendor=Vendor.HUBSPOT,
        auth_method=method,
        auth_url=fake_hs.url,
        client_id="client-1",
        push_object=PushObject.DEAL,
        **extra,
    )
    connection_prepare(connection)
    if method == AuthMethod.HS_OAUTH:
        connection_set_secrets(
            connection, {"client_secret": "secret-1", "refresh_token": "refresh-1"}
        )
    else:
        connection_set_secrets(connection, {"token": HS_TOKEN})
    connection.refresh_from_db()
    return connection


def sf_opportunity(n: int, **overrides) -> dict:
    data = {
        "Name": f"Deal {n}",
        "Account.Name": f"Account {n} GmbH",
        "Account.Website": f"https://www.account{n}-crm.com",
        "Account.BillingCountryCode": "DE",
        "Owner.Email": "rep@vendor.example",
        "Amount": 1000.0 + n,
        "CurrencyIsoCode": "EUR",
        "StageName": "Prospecting",
        "CloseDate": "2026-06-30",
    }
    data.update(overrides)
    return data


def hs_deal(n: int, **overrides) -> dict:
    data = {
        "dealname": f"Account {n} Inc",
        "domain": f"account{n}-hs.com",
        "country": "United States",
        "owner_email": "rep@vendor.example",
        "amount": str(2000 + n),
        "deal_currency_code": "USD",
        "dealstage": "appointmentscheduled",
        "closedate": "2026-07-31T00:00:00.000Z",
    }
    data.update(overrides)
    return data
