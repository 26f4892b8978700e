"""Issue 21: first come, first served across processes — the race tests over HTTP against two
gunicorn processes (own ports) on one PostgreSQL through PgBouncer in transaction mode, the
clients alternating between the two servers (docs/reliability.md CONC-01/02/03, "scale-out").

The profile is production's: DATABASE_PREPARED_STATEMENTS=false (a statement prepared on one
server connection does not exist on the next transaction's) and
DATABASE_DISABLE_SERVER_SIDE_CURSORS=true (a named cursor dies with its transaction's server
connection). The advisory locks are transaction-scoped (pg_advisory_xact_lock), so they hold
on the one server connection PgBouncer lends a transaction, whichever process sent it.

Exactly one `clear` per customer per round, 0 × 5xx. CONC-07 (any two identities at or above
review share a blocking key) is a property of the keys, tested without a database in
tests/conflicts/test_blocking_keys.py; its consequence across processes is CONC-02 here: eight
spellings of one customer, split over both servers, still give one winner.

pgbouncer comes from the Debian package (.ci/run installs it); without it the module skips
saying so, except under CI=true, where it fails. SCALE_ROUNDS (default 5) rounds each.
"""

from __future__ import annotations

import os

import pytest
from django.core.management import call_command
from django.db import connection

from conflicts.models import Conflict
from deals.models import DealRegistration
from partners.services import token_create
from tests import factories
from tests.reliability.scaleout import Gunicorn, PgBouncer, require_pgbouncer
from tests.reliability.test_conflict_concurrency import customer_word, spellings
from tests.reliability.test_http_races import codes_of, fire

ROUNDS = int(os.environ.get("SCALE_ROUNDS", "5"))

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        os.environ.get("RUN_RELIABILITY") != "1",
        reason="reliability suite: RUN_RELIABILITY=1 (.ci/run's reliability step)",
    ),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="PgBouncer fronts PostgreSQL: run the suite with DATABASE_URL=postgres://…",
    ),
]


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker):
    """pgbouncer (transaction mode) + two gunicorn processes on the suite's test database."""
    require_pgbouncer()
    settings_dict = connection.settings_dict
    bouncer = PgBouncer(
        pg_host=settings_dict["HOST"],
        pg_port=int(settings_dict["PORT"] or 5432),
        pg_user=settings_dict["USER"] or "postgres",
    ).start()
    env = {
        "DATABASE_URL": bouncer.url(settings_dict["NAME"]),
        "DATABASE_PREPARED_STATEMENTS": "false",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "true",
        "CONN_MAX_AGE": "60",
        # One shared cache for both processes (hot reads, limiters), as in production.
        "CACHE_URL": "dbcache://prm_cache",
    }
    servers = [Gunicorn(env), Gunicorn(env)]
    try:
        with django_db_blocker.unblock():
            call_command("createcachetable", "prm_cache", verbosity=0)
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield bouncer, [server.url for server in servers]
    finally:
        for server in servers:
            print(f"--- gunicorn {server.url} log (tail) ---\n{server.stderr()}")
            server.stop()
        bouncer.stop()


@pytest.fixture(autouse=True)
def _empty_shared_cache(two_servers, transactional_db):
    """The servers' shared cache outlives the test database's flush between tests: empty it,
    so no entry (a policy, a token) names rows of an earlier test."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM prm_cache")


def _alternating(servers, path: str, n: int) -> list[str]:
    urls = servers[1]
    return [f"{urls[i % len(urls)]}{path}" for i in range(n)]


@pytest.fixture
def contenders(transactional_db, product):
    tokens = []
    for i in range(8):
        partner = factories.PartnerFactory(name=f"Scale Contender {i}")
        user = factories.partner_user(partner, email=f"api@scalecontender{i}.example")
        tokens.append(token_create(user=user)[1])
    return tokens


def _assert_one_clear(round_no, responses):
    codes = codes_of(responses)
    assert codes == [201] * len(responses), f"round {round_no}: {codes}"
    bodies = [r.json() for r in responses]
    verdicts = [b["conflict_status"] for b in bodies]
    assert verdicts.count("clear") == 1, f"round {round_no}: {verdicts}"
    winner = next(b["id"] for b in bodies if b["conflict_status"] == "clear")
    losers = [b["id"] for b in bodies if b["id"] != winner]
    linked = Conflict.objects.filter(registration_id__in=losers, other_id=winner).count()
    assert linked == len(losers), f"round {round_no}: {linked} of {len(losers)} point at the winner"
    first = DealRegistration.objects.filter(pk__in=[b["id"] for b in bodies])
    assert first.order_by("submitted_at").first().pk == winner, f"round {round_no}: not first"


def test_conc01_first_come_first_served_across_two_processes(two_servers, contenders):
    """CONC-01: 8 partners, one customer, requests alternating between the two servers."""
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "scale01")
        body = factories.registration_data(
            customer_name=f"{word} Holdings Ltd", customer_domain=f"{word.lower()}.co.uk"
        )
        urls = _alternating(two_servers, "/api/v1/registrations/", len(contenders))
        responses = fire(
            [("POST", u, dict(body), t) for u, t in zip(urls, contenders, strict=True)]
        )
        _assert_one_clear(round_no, responses)


def test_conc02_spellings_across_two_processes(two_servers, contenders):
    """CONC-02: each request spells the customer differently; still exactly one clear."""
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "scale02")
        forms = spellings(word)
        urls = _alternating(two_servers, "/api/v1/registrations/", len(forms))
        requests = [
            (
                "POST",
                url,
                factories.registration_data(
                    contact_email=f"buyer{i}@{word.lower()}.com", **forms[i]
                ),
                contenders[i],
            )
            for i, url in enumerate(urls)
        ]
        _assert_one_clear(round_no, fire(requests))


def test_conc03_same_partner_duplicates_across_two_processes(two_servers, alice, product):
    """CONC-03: 10 identical submissions from one partner, split over both servers: one 201,
    nine 409 duplicate_registration naming it, one row."""
    token = token_create(user=alice)[1]
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "scale03")
        body = factories.registration_data(customer_name=f"{word} SARL", customer_country="FR")
        before = DealRegistration.objects.count()
        urls = _alternating(two_servers, "/api/v1/registrations/", 10)
        responses = fire([("POST", u, dict(body), token) for u in urls])
        codes = codes_of(responses)
        assert codes == [201] + [409] * 9, f"round {round_no}: {codes}"
        created = next(r.json()["id"] for r in responses if r.status_code == 201)
        for response in responses:
            if response.status_code == 409:
                assert response.json()["code"] == "duplicate_registration"
                assert response.json()["existing_id"] == created
        assert DealRegistration.objects.count() == before + 1


def test_the_servers_connect_through_pgbouncer(two_servers, transactional_db):
    """The two servers' database connections are PgBouncer's clients (its log records each
    login to the test database), not direct connections to PostgreSQL."""
    bouncer, _ = two_servers
    logins = bouncer.log().count(f"login attempt: db={connection.settings_dict['NAME']} ")
    assert logins >= 2, f"{logins} logins through pgbouncer: {bouncer.log()[-1000:]}"
