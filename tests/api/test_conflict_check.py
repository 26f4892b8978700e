"""POST /api/v1/conflict-check/: neutral partner answer (ISO-04), manager matches, atomic
per-user and per-partner limits (ISO-08), every call logged."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import override_settings

from deals.models import ConflictCheckLog
from deals.registrations.availability import availability_check, customer_key_hash
from deals.registrations.services import CONFLICT_MESSAGES
from tests import factories
from tests.api.conftest import client_for

URL = "/api/v1/conflict-check/"
GLOBEX = {
    "customer_name": "Globex Corporation",
    "customer_domain": "globex.com",
    "customer_country": "US",
    "products": ["crm-pro"],
}


def test_clear_customer(as_alice, alice, product):
    response = as_alice.post(URL, GLOBEX, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "clear",
        "available": True,
        "message": CONFLICT_MESSAGES["clear"],
    }
    log = ConflictCheckLog.objects.get()
    assert log.user_id == alice.pk
    assert log.partner_id == alice.membership.partner_id
    assert log.verdict == "clear"
    assert len(log.customer_key_hash) == 64
    assert "globex" not in log.customer_key_hash


def test_partner_message_is_identical_whoever_the_other_party_is(alice, bob, product, partner_a):
    """ISO-04: with B's registration, C's registration or a direct opportunity: same answer."""
    carol = factories.partner_user(factories.PartnerFactory(name="Charlie Channel"))
    answers = []
    for name, make in [
        (
            "Globex Corporation",
            lambda: factories.make_registration(
                bob, customer_name="Globex Corporation", customer_domain="globex.com"
            ),
        ),
        (
            "Initech LLC",
            lambda: factories.make_registration(
                carol, customer_name="Initech LLC", customer_domain="initech.com"
            ),
        ),
        (
            "Umbrella Corp",
            lambda: factories.make_opportunity(
                account_name="Umbrella Corp", account_domain="umbrella.com"
            ),
        ),
    ]:
        make()
        domain = {
            "Globex Corporation": "globex.com",
            "Initech LLC": "initech.com",
            "Umbrella Corp": "umbrella.com",
        }[name]
        response = client_for(alice).post(
            URL,
            {
                "customer_name": name,
                "customer_domain": domain,
                "customer_country": "US",
                "products": ["crm-pro"],
            },
            format="json",
        )
        assert response.status_code == 200
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["status"] == "conflict"
    assert answers[0]["available"] is False
    assert set(answers[0]) == {"status", "available", "message"}


def test_manager_sees_matches(as_manager, bob, product):
    registration = factories.make_registration(
        bob, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    body = as_manager.post(URL, GLOBEX, format="json").json()
    assert body["status"] == "conflict"
    assert body["matches"][0]["kind"] == "registration"
    assert body["matches"][0]["id"] == registration.pk
    assert "domain" in body["matches"][0]["reasons"]


def test_without_products_every_record_counts(as_alice, bob, product):
    factories.make_registration(
        bob, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    data = {k: v for k, v in GLOBEX.items() if k != "products"}
    assert as_alice.post(URL, data, format="json").json()["status"] == "conflict"


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"customer_name": ""}, "customer_name"),
        ({"customer_country": "XX"}, "customer_country"),
        ({"products": ["nope"]}, "products"),
        ({"customer_domain": "not a domain"}, "customer_domain"),
    ],
)
def test_validation_is_400_and_not_logged(as_alice, product, overrides, field):
    response = as_alice.post(URL, {**GLOBEX, **overrides}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not ConflictCheckLog.objects.exists()


@override_settings(CONFLICT_CHECK_RATE_USER="3/m")
def test_per_user_limit_is_429_and_logged(as_alice, alice, alice_admin, product):
    statuses = [as_alice.post(URL, GLOBEX, format="json").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = as_alice.post(URL, GLOBEX, format="json")
    assert last.json()["code"] == "throttled"
    assert ConflictCheckLog.objects.filter(user=alice).count() == 5
    assert ConflictCheckLog.objects.filter(user=alice, verdict="throttled").count() == 2
    # Another user of the same partner has their own per-user budget.
    assert client_for(alice_admin).post(URL, GLOBEX, format="json").status_code == 200


@override_settings(CONFLICT_CHECK_RATE_PARTNER="4/d")
def test_per_partner_limit(alice, alice_admin, bob, product):
    a, b = client_for(alice), client_for(alice_admin)
    statuses = [c.post(URL, GLOBEX, format="json").status_code for c in (a, b, a, b, a)]
    assert statuses == [200, 200, 200, 200, 429]
    assert client_for(bob).post(URL, GLOBEX, format="json").status_code == 200


@override_settings(CONFLICT_CHECK_RATE_USER="30/m")
@pytest.mark.django_db(transaction=True)
def test_limit_holds_under_50_concurrent_calls(alice, product):
    def one(_):
        try:
            return availability_check(actor=alice, data=dict(GLOBEX), source="api")["status"]
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(50)))
    assert results.count("clear") == 30
    assert results.count("RateLimited") == 20
    assert ConflictCheckLog.objects.count() == 50


def test_key_hash_is_sha256_of_the_normalised_key():
    from conflicts.scoring import Identity

    identity = Identity.from_raw(
        name="Globex Corp.", domain="https://www.globex.com/", country="us"
    )
    assert (
        customer_key_hash(identity)
        == hashlib.sha256(
            f"{identity.name}|{identity.domain}|{identity.country}".encode()
        ).hexdigest()
    )
    same = Identity.from_raw(name="GLOBEX CORP", domain="globex.com", country="US")
    assert customer_key_hash(same) == customer_key_hash(identity)


def test_anonymous_is_401(anon, db):
    assert anon.post(URL, GLOBEX, format="json").status_code == 401
