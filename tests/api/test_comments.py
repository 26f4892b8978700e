"""Comments on a registration: partners never see internal notes, nor may write them."""

from __future__ import annotations

from deals.models import Comment
from tests import factories
from tests.api.conftest import changed_tables, hash_all_tables


def curl(registration):
    return f"/api/v1/registrations/{registration.pk}/comments/"


def test_comment_thread_and_internal_notes(as_alice, as_manager, alice, product):
    registration = factories.make_registration(alice)
    response = as_alice.post(curl(registration), {"body": "Any news?"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["internal"] is False
    assert response.json()["author"] == alice.email
    note = as_manager.post(
        curl(registration), {"body": "SECRET-CANARY", "internal": True}, format="json"
    )
    assert note.status_code == 201
    assert note.json()["internal"] is True
    as_manager.post(curl(registration), {"body": "We are on it."}, format="json")

    partner_view = as_alice.get(curl(registration))
    assert partner_view.status_code == 200
    assert [c["body"] for c in partner_view.json()["results"]] == ["Any news?", "We are on it."]
    assert "SECRET-CANARY" not in partner_view.content.decode()
    manager_view = as_manager.get(curl(registration)).json()
    assert manager_view["count"] == 3


def test_partner_sending_internal_is_403_and_writes_nothing(as_alice, alice, product):
    registration = factories.make_registration(alice)
    before = hash_all_tables()
    response = as_alice.post(curl(registration), {"body": "x", "internal": True}, format="json")
    assert response.status_code == 403  # authenticated, but the role may not (docs/api.md)
    assert response.json()["code"] == "permission_denied"
    assert changed_tables(before, hash_all_tables()) == []


def test_validation_and_tenancy(as_alice, as_bob, alice, product):
    registration = factories.make_registration(alice)
    empty = as_alice.post(curl(registration), {"body": ""}, format="json")
    assert empty.status_code == 400
    too_long = as_alice.post(curl(registration), {"body": "x" * 5001}, format="json")
    assert too_long.status_code == 400
    assert as_bob.get(curl(registration)).status_code == 404
    assert as_bob.post(curl(registration), {"body": "hi"}, format="json").status_code == 404
    assert not Comment.objects.exists()
