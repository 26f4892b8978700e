"""Integration accounts (docs/api.md "Integration accounts"): named service accounts with scoped
tokens that do not expire with a person; every call outside the scopes answers 403, and what
they write is attributed to the account."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from deals.models import DirectOpportunity, RegistrationEvent
from partners.models import IntegrationAccount
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def _create(manager, scopes, name="CRM sync"):
    response = client_for(manager).post(
        "/api/v1/integrations/", {"name": name, "scopes": scopes}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    return body, client


OPPORTUNITY = {
    "external_id": "SF-1",
    "account_name": "Umbrella Industries",
    "account_domain": "umbrella-industries.com",
    "country": "US",
    "owner_email": "rep@dealbridge.example",
    "products": ["crm-pro"],
    "amount": "50000.00",
    "currency": "USD",
    "stage": "discovery",
    "status": "open",
}


def test_integration_token_is_shown_once_and_its_role_is_integration(manager):
    body, client = _create(manager, ["registrations:read"])
    assert set(body) >= {"id", "name", "scopes", "token"}
    listed = client_for(manager).get("/api/v1/integrations/").json()
    assert [a["id"] for a in listed] == [body["id"]] and "token" not in listed[0]
    me = client.get("/api/v1/me/").json()
    assert me["role"] == "integration" and me["partner"] is None


def test_integration_token_does_not_expire_with_a_person(manager):
    _, client = _create(manager, ["registrations:read"])
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=400)):
        assert client.get("/api/v1/registrations/").status_code == 200


def test_scopes_open_only_their_operations(manager, alice, bob, product):
    factories.make_registration(alice, customer_name="Alpha Corp")
    factories.make_registration(bob, customer_name="Beta Corp")
    _, reader = _create(manager, ["registrations:read"], name="Warehouse")
    _, writer = _create(manager, ["opportunities:write"], name="CRM")
    _, hooks = _create(manager, ["webhooks:manage"], name="Hooks")
    # registrations:read: every partner's registrations, nothing else
    listed = reader.get("/api/v1/registrations/").json()
    assert listed["count"] == 2
    assert reader.get("/api/v1/conflicts/").status_code == 200
    assert reader.post("/api/v1/opportunities/", OPPORTUNITY, format="json").status_code == 403
    registration_id = listed["results"][0]["id"]
    approve = reader.post(f"/api/v1/registrations/{registration_id}/approve/", {}, format="json")
    assert approve.status_code == 403
    assert reader.get("/api/v1/webhooks/").status_code == 403
    # opportunities:write: the opportunities endpoints only
    assert writer.post("/api/v1/opportunities/", OPPORTUNITY, format="json").status_code == 201
    assert writer.get("/api/v1/registrations/").status_code == 403
    # webhooks:manage
    assert hooks.get("/api/v1/webhooks/").status_code == 200
    assert hooks.get("/api/v1/registrations/").status_code == 403
    # No integration manages integration accounts, whatever its scopes.
    for client in (reader, writer, hooks):
        assert client.get("/api/v1/integrations/").status_code == 403
    assert DirectOpportunity.objects.count() == 1


def test_writes_are_attributed_to_the_account(manager, product):
    body, writer = _create(manager, ["opportunities:write"], name="Salesforce sync")
    created = writer.post("/api/v1/opportunities/", OPPORTUNITY, format="json")
    assert created.status_code == 201
    # A deletion is recorded as an event (its snapshot), by whoever made it.
    assert writer.delete(f"/api/v1/opportunities/{created.json()['id']}/").status_code == 204
    account = IntegrationAccount.objects.get(pk=body["id"])
    events = RegistrationEvent.objects.filter(actor=account.user)
    assert events.exists()
    assert all(e.actor_label == account.user.email for e in events)


def test_revoking_stops_the_token_at_once(manager):
    body, client = _create(manager, ["registrations:read"])
    assert client.get("/api/v1/registrations/").status_code == 200
    assert client_for(manager).delete(f"/api/v1/integrations/{body['id']}/").status_code == 204
    assert client.get("/api/v1/registrations/").status_code == 401
    assert IntegrationAccount.objects.get(pk=body["id"]).revoked_at is not None


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "", "scopes": ["registrations:read"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["everything"]},
        {"name": "x"},
        {"name": "x", "scopes": ["registrations:read"], "token": "mine"},
    ],
)
def test_bad_input_creates_nothing(manager, payload):
    response = client_for(manager).post("/api/v1/integrations/", payload, format="json")
    assert response.status_code == 400
    assert IntegrationAccount.objects.count() == 0


def test_partners_cannot_create_or_see_integrations(alice_admin, manager):
    body, _ = _create(manager, ["registrations:read"])
    partner = client_for(alice_admin)
    payload = {"name": "x", "scopes": ["registrations:read"]}
    assert partner.post("/api/v1/integrations/", payload, format="json").status_code == 403
    assert partner.delete(f"/api/v1/integrations/{body['id']}/").status_code == 404
    assert IntegrationAccount.objects.filter(revoked_at__isnull=True).count() == 1


def test_an_integration_user_cannot_sign_in_to_the_portal(manager, client):
    body, _ = _create(manager, ["registrations:read"])
    email = IntegrationAccount.objects.get(pk=body["id"]).user.email
    response = client.post("/accounts/login/", {"login": email, "password": ""})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 302)
