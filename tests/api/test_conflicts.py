"""Conflicts (manager): list with filters, resolve."""

from __future__ import annotations

from conflicts.models import Conflict
from deals.models import DealRegistration
from tests import factories

URL = "/api/v1/conflicts/"


def _pair(alice, bob):
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    return first, second, Conflict.objects.get(registration_id=second.pk)


def test_list_with_summaries_and_filters(as_manager, alice, bob, product):
    first, second, conflict = _pair(alice, bob)
    opp = factories.make_opportunity(account_name="Initech", account_domain="initech.com")
    third = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    body = as_manager.get(URL).json()
    assert isinstance(body, list)  # docs/api.md: this list is an array
    assert len(body) == 2
    item = next(c for c in body if c["id"] == conflict.pk)
    assert item["registration_id"] == second.pk
    assert item["kind"] == "registration"
    assert item["other_id"] == first.pk
    assert item["registration"]["partner"]["name"] == "Bravo Solutions"
    assert item["other"]["partner"]["name"] == "Acme Resellers"
    direct = next(c for c in body if c["kind"] == "direct_opportunity")
    assert direct["other"] == {
        "id": opp.pk,
        "kind": "direct_opportunity",
        "label": f"{opp.external_id} · Initech",
        "status": "open",
        "partner": None,
    }
    assert [c["id"] for c in as_manager.get(URL, {"registration": third.pk}).json()] == [
        direct["id"]
    ]
    assert as_manager.get(URL, {"status": "resolved"}).json() == []
    assert as_manager.get(URL, {"registration": "abc"}).status_code == 400


def test_resolve_first_registration_wins(as_manager, alice, bob, product):
    first, second, conflict = _pair(alice, bob)
    response = as_manager.post(
        f"{URL}{conflict.pk}/resolve/", {"resolution": "first_registration_wins"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    assert DealRegistration.objects.get(pk=second.pk).status == "rejected"
    again = as_manager.post(
        f"{URL}{conflict.pk}/resolve/", {"resolution": "co_sell"}, format="json"
    )
    assert again.status_code == 409


def test_resolve_validation(as_manager, alice, bob, product):
    _, _, conflict = _pair(alice, bob)
    assert (
        as_manager.post(
            f"{URL}{conflict.pk}/resolve/", {"resolution": "coin_toss"}, format="json"
        ).status_code
        == 400
    )
    # direct_wins only applies to conflicts with a direct opportunity.
    response = as_manager.post(
        f"{URL}{conflict.pk}/resolve/", {"resolution": "direct_wins"}, format="json"
    )
    assert response.status_code == 400
    assert Conflict.objects.get(pk=conflict.pk).status == "open"


def test_partners_get_403_on_the_list_and_404_on_conflicts(as_alice, as_bob, alice, bob, product):
    _, _, conflict = _pair(alice, bob)
    assert as_alice.get(URL).status_code == 403
    # Conflicts are manager objects: to partners they do not exist (even on their own registration).
    own = as_bob.post(f"{URL}{conflict.pk}/resolve/", {"resolution": "co_sell"}, format="json")
    missing = as_bob.post(f"{URL}99999999/resolve/", {"resolution": "co_sell"}, format="json")
    assert own.status_code == missing.status_code == 404
    assert own.content == missing.content
