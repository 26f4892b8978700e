"""Extension requests: create under a registration (partner), approve/reject (manager)."""

from __future__ import annotations

from deals.models import DealRegistration, ExtensionRequest
from tests import factories
from tests.api.conftest import changed_tables, hash_all_tables


def create_url(registration):
    return f"/api/v1/registrations/{registration.pk}/extension-requests/"


def test_create_then_approve_extends_protection(as_alice, as_manager, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    before_expiry = DealRegistration.objects.get(pk=registration.pk).expires_at
    response = as_alice.post(
        create_url(registration), {"reason": "Procurement is slow"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["registration_id"] == registration.pk
    approved = as_manager.post(
        f"/api/v1/extension-requests/{body['id']}/approve/", {"note": "OK"}, format="json"
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    registration.refresh_from_db()
    assert registration.expires_at > before_expiry
    assert registration.extensions_used == 1
    again = as_manager.post(f"/api/v1/extension-requests/{body['id']}/reject/", {}, format="json")
    assert again.status_code == 409


def test_reject(as_alice, as_manager, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    pk = as_alice.post(create_url(registration), {"reason": "More time"}, format="json").json()[
        "id"
    ]
    response = as_manager.post(
        f"/api/v1/extension-requests/{pk}/reject/", {"note": "No"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_note"] == "No"


def test_second_pending_and_max_reached_are_409(as_alice, as_manager, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    first = as_alice.post(create_url(registration), {"reason": "One"}, format="json").json()
    assert (
        as_alice.post(create_url(registration), {"reason": "Two"}, format="json").status_code == 409
    )
    as_manager.post(f"/api/v1/extension-requests/{first['id']}/approve/", {}, format="json")
    # The gold tier uses the policy's default of one extension.
    before = hash_all_tables()
    response = as_alice.post(create_url(registration), {"reason": "Three"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "max_extensions_reached"
    assert changed_tables(before, hash_all_tables()) == []


def test_not_approved_is_409_and_missing_reason_400(as_alice, alice, product):
    registration = factories.make_registration(alice)
    assert as_alice.post(create_url(registration), {}, format="json").status_code == 400
    response = as_alice.post(create_url(registration), {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not ExtensionRequest.objects.exists()


def test_roles_and_tenancy(as_alice, as_bob, as_manager, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    assert (
        as_manager.post(create_url(registration), {"reason": "x"}, format="json").status_code == 403
    )
    assert as_bob.post(create_url(registration), {"reason": "x"}, format="json").status_code == 404
    pk = as_alice.post(create_url(registration), {"reason": "x"}, format="json").json()["id"]
    assert (
        as_alice.post(f"/api/v1/extension-requests/{pk}/approve/", {}, format="json").status_code
        == 403
    )
    foreign = as_bob.post(f"/api/v1/extension-requests/{pk}/approve/", {}, format="json")
    missing = as_bob.post("/api/v1/extension-requests/999999/approve/", {}, format="json")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
