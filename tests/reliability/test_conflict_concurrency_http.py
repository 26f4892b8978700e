"""CONC-01/03 through HTTP: a live server and concurrent httpx clients with partner tokens."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from conflicts.models import Conflict
from deals.models import DealRegistration
from partners.services import token_create
from tests import factories
from tests.reliability.test_conflict_concurrency import customer_word

ROUNDS = int(os.environ.get("CONC_HTTP_ROUNDS", "10"))


def post_concurrently(url: str, tokens: list[str], bodies: list[dict]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(tokens))
    responses: list = [None] * len(tokens)

    def worker(index):
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            responses[index] = client.post(
                url, json=bodies[index], headers={"Authorization": f"Token {tokens[index]}"}
            )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return responses


@pytest.fixture
def partner_tokens(transactional_db, product):
    tokens = []
    for i in range(8):
        partner = factories.PartnerFactory(name=f"Http Contender {i}")
        user = factories.partner_user(partner, email=f"api@httpcontender{i}.example")
        tokens.append(token_create(user=user)[1])
    return tokens


def test_first_come_first_served_over_http(live_server, partner_tokens):
    url = f"{live_server.url}/api/v1/registrations/"
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "http")
        body = factories.registration_data(
            customer_name=f"{word} Holdings Ltd", customer_domain=f"{word.lower()}.co.uk"
        )
        responses = post_concurrently(url, partner_tokens, [dict(body) for _ in partner_tokens])
        codes = [r.status_code for r in responses]
        assert codes == [201] * len(codes), f"round {round_no}: {codes}"
        verdicts = [r.json()["conflict_status"] for r in responses]
        assert verdicts.count("clear") == 1, f"round {round_no}: {verdicts}"
        winner = next(r.json()["id"] for r in responses if r.json()["conflict_status"] == "clear")
        losers = [r.json()["id"] for r in responses if r.json()["id"] != winner]
        assert Conflict.objects.filter(registration_id__in=losers, other_id=winner).count() == 7


def test_same_partner_duplicates_over_http(live_server, transactional_db, alice, product):
    token = token_create(user=alice)[1]
    url = f"{live_server.url}/api/v1/registrations/"
    for round_no in range(max(1, ROUNDS // 2)):
        word = customer_word(round_no, "httpdup")
        body = factories.registration_data(customer_name=f"{word} SARL", customer_country="FR")
        before = DealRegistration.objects.count()
        responses = post_concurrently(url, [token] * 10, [dict(body)] * 10)
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 9, f"round {round_no}: {codes}"
        created = next(r.json()["id"] for r in responses if r.status_code == 201)
        for r in responses:
            if r.status_code == 409:
                assert r.json()["code"] == "duplicate_registration"
                assert r.json()["existing_id"] == created
        assert DealRegistration.objects.count() == before + 1
