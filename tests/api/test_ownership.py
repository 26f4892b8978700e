"""Issue 17 §3 in the API (docs/api.md "Ownership"): the `owner` of the representation, the
reassign operation and its answers (200, 400, 403, 404), following a registration, and the
`owner` filter of the list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.models import DealRegistration, EventAction, NotificationKind, RegistrationEvent
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def carl(partner_a):
    return factories.partner_user(partner_a, email="carl@acme-resellers.example")


def _url(registration, action=""):
    return f"/api/v1/registrations/{registration.pk}/{action + '/' if action else ''}"


def test_the_representation_names_the_owner(as_alice, alice, product):
    registration = factories.make_registration(alice)
    body = as_alice.get(_url(registration)).json()
    assert body["owner"] == {"id": alice.pk, "email": alice.email, "name": alice.name}
    listed = as_alice.get("/api/v1/registrations/").json()["results"]
    assert listed[0]["owner"]["id"] == alice.pk


def test_the_manager_representation_names_the_owner_too(as_manager, alice, product):
    registration = factories.make_registration(alice)
    assert as_manager.get(_url(registration)).json()["owner"]["email"] == alice.email


def test_partner_admin_reassigns_and_gets_the_registration(as_alice_admin, alice, carl, product):
    registration = factories.make_registration(alice)
    response = as_alice_admin.post(_url(registration, "reassign"), {"owner_id": carl.pk}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["owner"] == {"id": carl.pk, "email": carl.email, "name": carl.name}
    assert response.json()["id"] == registration.pk
    assert RegistrationEvent.objects.filter(
        registration=registration, action=EventAction.REASSIGNED
    ).exists()
    assert carl.notifications.filter(kind=NotificationKind.REASSIGNED).exists()


def test_a_manager_reassigns(as_manager, alice, carl, product):
    registration = factories.make_registration(alice)
    response = as_manager.post(_url(registration, "reassign"), {"owner_id": carl.pk}, "json")
    assert response.status_code == 200
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk


def test_an_owner_outside_the_partner_is_400_and_nothing_changes(
    as_alice_admin, alice, bob, product
):
    registration = factories.make_registration(alice)
    response = as_alice_admin.post(_url(registration, "reassign"), {"owner_id": bob.pk}, "json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "owner_id" in response.json()["fields"]
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_an_inactive_owner_is_400(as_alice_admin, alice, carl, product):
    registration = factories.make_registration(alice)
    carl.is_active = False
    carl.save()
    response = as_alice_admin.post(_url(registration, "reassign"), {"owner_id": carl.pk}, "json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body", [{}, {"owner_id": "x"}, {"owner_id": 0}, {"owner_id": 2**70}, {"owner_id": 1, "x": 1}]
)
def test_a_bad_body_is_400(as_alice_admin, alice, product, body):
    registration = factories.make_registration(alice)
    response = as_alice_admin.post(_url(registration, "reassign"), body, "json")
    assert response.status_code == 400
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_a_partner_user_who_is_not_an_admin_gets_403(as_alice, alice, carl, product):
    registration = factories.make_registration(alice)
    response = as_alice.post(_url(registration, "reassign"), {"owner_id": carl.pk}, "json")
    assert response.status_code == 403
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_another_partners_registration_is_404(bob, partner_b, alice, product):
    bob_admin = factories.partner_user(partner_b, role="admin", email="bea@bravo-solutions.example")
    registration = factories.make_registration(alice)
    response = client_for(bob_admin).post(
        _url(registration, "reassign"), {"owner_id": bob.pk}, "json"
    )
    assert response.status_code == 404
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_follow_and_unfollow(carl, alice, product):
    registration = factories.make_registration(alice)
    as_carl = client_for(carl)
    response = as_carl.post(_url(registration, "watch"), {}, "json")
    assert response.status_code == 200 and response.json() == {"watching": True}
    assert registration.watchers.filter(user=carl).exists()
    assert as_carl.post(_url(registration, "watch"), {}, "json").status_code == 200
    assert registration.watchers.count() == 1
    response = as_carl.delete(_url(registration, "watch"))
    assert response.status_code == 200 and response.json() == {"watching": False}
    assert not registration.watchers.exists()


def test_following_another_partners_registration_is_404_and_managers_403(
    as_bob, as_manager, alice, product
):
    registration = factories.make_registration(alice)
    assert as_bob.post(_url(registration, "watch"), {}, "json").status_code == 404
    assert as_manager.post(_url(registration, "watch"), {}, "json").status_code == 403
    assert not registration.watchers.exists()


def test_the_owner_filter(as_alice, alice, alice_admin, carl, product):
    mine = factories.make_registration(alice)
    theirs = factories.make_registration(carl)
    ids = lambda response: {r["id"] for r in response.json()["results"]}  # noqa: E731
    assert ids(as_alice.get("/api/v1/registrations/?owner=me")) == {mine.pk}
    assert ids(as_alice.get(f"/api/v1/registrations/?owner={carl.pk}")) == {theirs.pk}
    # Everyone in the company sees every registration of the company without the filter.
    assert ids(as_alice.get("/api/v1/registrations/")) == {mine.pk, theirs.pk}
    response = as_alice.get("/api/v1/registrations/?owner=someone")
    assert response.status_code == 400
    assert "owner" in response.json()["fields"]


def test_the_list_reads_the_owner_in_the_same_query(alice, carl, product):
    client = client_for(alice)

    def count(n):
        while DealRegistration.objects.count() < n:
            owner = alice if DealRegistration.objects.count() % 2 else carl
            factories.make_registration(owner)
        client.get("/api/v1/registrations/?page_size=200")  # warm caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/registrations/?page_size=200")
        assert len(response.json()["results"]) == n
        return len(queries)

    assert count(1) == count(6)
