"""Registration transitions: submit, approve, reject, request-info, withdraw, close."""

from __future__ import annotations

import pytest
from django.utils import timezone

from deals.models import DealRegistration, RegistrationEvent
from tests import factories
from tests.api.conftest import changed_tables, hash_all_tables


def url(registration, action):
    return f"/api/v1/registrations/{registration.pk}/{action}/"


def test_submit_draft(as_alice, alice, product):
    draft = factories.make_registration(alice, status="draft")
    response = as_alice.post(url(draft, "submit"), {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"
    assert response.json()["conflict_status"] == "clear"


def test_resubmit_after_info_request(as_alice, alice, manager, product):
    registration = factories.make_registration(alice, status="info_requested", manager=manager)
    response = as_alice.post(url(registration, "submit"), format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert RegistrationEvent.objects.filter(
        registration=registration, action="resubmitted"
    ).exists()


def test_submit_incomplete_draft_is_400_and_stays_draft(as_alice, alice, product):
    draft = factories.make_registration(alice, status="draft", products=[])
    response = as_alice.post(url(draft, "submit"), format="json")
    assert response.status_code == 400
    assert "products" in response.json()["fields"]
    assert DealRegistration.objects.get(pk=draft.pk).status == "draft"


def test_approve(as_manager, alice, product):
    registration = factories.make_registration(alice)
    response = as_manager.post(
        url(registration, "approve"), {"note": "Welcome", "protection_days": 30}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved"
    assert body["decision_note"] == "Welcome"
    registration.refresh_from_db()
    assert (registration.expires_at - registration.approved_at).days == 30


def test_approve_with_invalid_protection_days_is_400(as_manager, alice, product):
    registration = factories.make_registration(alice)
    before = hash_all_tables()
    response = as_manager.post(url(registration, "approve"), {"protection_days": 0}, format="json")
    assert response.status_code == 400
    assert "protection_days" in response.json()["fields"]
    assert changed_tables(before, hash_all_tables()) == []


def test_reject_requires_note_for_other(as_manager, alice, product):
    registration = factories.make_registration(alice)
    missing = as_manager.post(url(registration, "reject"), {"reason": "other"}, format="json")
    assert missing.status_code == 400
    assert "note" in missing.json()["fields"]
    bad_reason = as_manager.post(url(registration, "reject"), {"reason": "because"}, format="json")
    assert bad_reason.status_code == 400
    assert "reason" in bad_reason.json()["fields"]
    ok = as_manager.post(
        url(registration, "reject"), {"reason": "other", "note": "Not a fit"}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "rejected"
    assert ok.json()["rejection_reason"] == "other"


def test_request_info(as_manager, alice, product):
    registration = factories.make_registration(alice)
    assert as_manager.post(url(registration, "request-info"), {}, format="json").status_code == 400
    response = as_manager.post(
        url(registration, "request-info"), {"message": "Which site?"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "info_requested"


def test_withdraw(as_alice, alice, product):
    registration = factories.make_registration(alice)
    response = as_alice.post(url(registration, "withdraw"), format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"


@pytest.mark.parametrize("who", ["partner", "manager"])
def test_close_won_and_lost(as_alice, as_manager, alice, manager, product, who):
    client = as_alice if who == "partner" else as_manager
    won = factories.make_registration(alice, status="approved", manager=manager)
    today = timezone.now().date().isoformat()
    response = client.post(
        url(won, "close"),
        {"outcome": "won", "close_date": today, "actual_value": "99000.00"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "won"
    assert response.json()["actual_value"] == "99000.00"
    lost = factories.make_registration(alice, status="approved", manager=manager)
    response = client.post(
        url(lost, "close"),
        {"outcome": "lost", "close_date": today, "lost_reason": "Budget"},
        format="json",
    )
    assert response.json()["status"] == "lost"
    assert response.json()["lost_reason"] == "Budget"


def test_close_validation(as_alice, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    response = as_alice.post(url(registration, "close"), {"outcome": "maybe"}, format="json")
    assert response.status_code == 400
    assert {"outcome", "close_date"} <= set(response.json()["fields"])


@pytest.mark.parametrize(
    "status,action,who,body",
    [
        ("submitted", "submit", "partner", {}),
        ("approved", "approve", "manager", {}),
        ("rejected", "reject", "manager", {"reason": "not_qualified"}),
        ("approved", "request-info", "manager", {"message": "More?"}),
        ("won", "withdraw", "partner", {}),
        ("submitted", "close", "partner", {"outcome": "won", "close_date": "2024-01-01"}),
        ("withdrawn", "approve", "manager", {}),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(
    as_alice, as_manager, alice, manager, product, status, action, who, body
):
    registration = factories.make_registration(alice, status=status, manager=manager)
    client = as_alice if who == "partner" else as_manager
    before = hash_all_tables()
    response = client.post(url(registration, action), body, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "invalid_transition"
    assert changed_tables(before, hash_all_tables()) == []


@pytest.mark.parametrize("action", ["approve", "reject", "request-info"])
def test_partner_on_own_registration_gets_403_on_foreign_404(as_alice, alice, bob, product, action):
    own = factories.make_registration(alice)
    foreign = factories.make_registration(bob)
    body = {"reason": "not_qualified", "message": "x"} if action != "approve" else {}
    body = {
        k: v
        for k, v in body.items()
        if (action, k) in {("reject", "reason"), ("request-info", "message")}
    }
    before = hash_all_tables()
    assert as_alice.post(url(own, action), body, format="json").status_code == 403
    foreign_response = as_alice.post(url(foreign, action), body, format="json")
    assert foreign_response.status_code == 404
    assert changed_tables(before, hash_all_tables()) == []


@pytest.mark.parametrize("action", ["submit", "withdraw"])
def test_manager_cannot_do_partner_actions(as_manager, alice, manager, product, action):
    # A registration the manager can see (a draft is the partner's private work: 404 to them,
    # issue 18 §6) where the partner's action applies: resubmit after a request for information.
    registration = factories.make_registration(alice, status="info_requested", manager=manager)
    before = hash_all_tables()
    assert as_manager.post(url(registration, action), format="json").status_code == 403
    assert changed_tables(before, hash_all_tables()) == []


def test_manager_gets_404_for_partner_actions_on_a_draft(as_manager, alice, product):
    draft = factories.make_registration(alice, status="draft")
    for action in ("submit", "withdraw"):
        assert as_manager.post(url(draft, action), format="json").status_code == 404


def test_role_is_checked_before_the_body(as_alice, alice, product):
    registration = factories.make_registration(alice)
    # An invalid body from a partner still answers 403, not 400.
    response = as_alice.post(url(registration, "reject"), {"reason": "nonsense"}, format="json")
    assert response.status_code == 403
