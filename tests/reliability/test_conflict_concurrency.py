"""First come, first served under concurrency (docs/reliability.md CONC-01/02/03/06/07).

Threads behind a barrier, each with its own database connection, submit registrations for the
same customer at the same moment. Exactly one may come out clear; every other one is a conflict
pointing at it (or, for one partner, a duplicate). Runs on SQLite (file DB, WAL, BEGIN
IMMEDIATE) and on PostgreSQL (advisory locks on the blocking keys).
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.db import connection, connections

from conflicts.models import Conflict
from deals.models import DealRegistration, DirectOpportunity
from deals.opportunities.services import opportunities_bulk_upsert
from deals.registrations import services
from prm.exceptions import DuplicateRegistration
from tests import factories

ROUNDS = int(os.environ.get("CONC_ROUNDS", "50"))
SYLLABLES = [
    "ka",
    "vo",
    "ri",
    "mex",
    "lu",
    "tar",
    "zen",
    "qui",
    "bro",
    "dal",
    "fen",
    "gor",
    "hul",
    "jin",
    "nop",
    "sur",
    "wex",
    "yal",
    "cin",
    "pev",
]


def customer_word(round_no: int, salt: str) -> str:
    """A made-up company word, unique per (round, salt) and unlike the other rounds' words:
    its first two syllables are fixed by the round, so no two rounds share a prefix (which
    string similarity rewards), the rest comes from a hash of the salt."""
    import hashlib

    digest = hashlib.sha256(f"{salt}:{round_no}".encode()).digest()
    first = (
        SYLLABLES[round_no % len(SYLLABLES)]
        + SYLLABLES[(round_no // len(SYLLABLES)) % len(SYLLABLES)]
    )
    rest = "".join(SYLLABLES[b % len(SYLLABLES)] for b in digest[:3])
    return (first + rest).capitalize()


def spellings(word: str) -> list[dict]:
    """Surface forms of one customer (CONC-02)."""
    domain = f"{word.lower()}.com"
    return [
        {"customer_name": f"{word} Corp", "customer_domain": ""},
        {"customer_name": f"{word.upper()} Corporation, Inc.", "customer_domain": ""},
        {"customer_name": f"{word} Corporation", "customer_domain": domain},
        {"customer_name": f"{word.lower()}", "customer_domain": f"https://www.{domain}/"},
        {"customer_name": f"The {word} Company", "customer_domain": ""},
        {"customer_name": f"{word} Corp.", "customer_domain": f"WWW.{domain.upper()}"},
        {"customer_name": f"{word} Incorporated", "customer_domain": ""},
        {"customer_name": f"{word} LLC", "customer_domain": domain},
    ]


def run_concurrently(calls):
    """Run the callables at once (barrier), each on its own connection; collect results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", call())
        except BaseException as exc:  # noqa: BLE001 - reported in the assertion
            results[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def contenders(transactional_db, product):
    partners = [factories.PartnerFactory(name=f"Contender {i} Partners") for i in range(32)]
    return [
        factories.partner_user(p, email=f"seller@contender{i}.example")
        for i, p in enumerate(partners)
    ]


def _assert_one_winner(round_no, created, results):
    errors = [r[1] for r in results if r[0] == "error"]
    assert not errors, f"round {round_no}: {len(errors)} submissions failed: {errors[:3]!r}"
    registrations = list(
        DealRegistration.objects.filter(pk__in=[r.pk for r in created]).order_by("submitted_at")
    )
    assert len(registrations) == len(created), f"round {round_no}: rows lost"
    clear = [r for r in registrations if r.conflict_status == "clear"]
    assert len(clear) == 1, (
        f"round {round_no}: {len(clear)} of {len(registrations)} came out clear "
        f"({[r.conflict_status for r in registrations]})"
    )
    winner = clear[0]
    for loser in registrations:
        if loser.pk == winner.pk:
            continue
        assert loser.conflict_status == "conflict", f"round {round_no}: {loser.conflict_status}"
        assert Conflict.objects.filter(
            registration_id=loser.pk, kind="registration", other_id=winner.pk
        ).exists(), f"round {round_no}: loser {loser.pk} has no conflict with the winner"
        assert winner.submitted_at < loser.submitted_at, f"round {round_no}: winner not first"


@pytest.mark.parametrize("n", [2, 8, 32])
def test_first_come_first_served_under_concurrency(contenders, n):
    """CONC-01: same customer, different partners, N at once → exactly one clear."""
    rounds = ROUNDS if n < 32 else max(1, ROUNDS // 5)
    for round_no in range(rounds):
        word = customer_word(round_no, f"n{n}")
        data = factories.registration_data(
            customer_name=f"{word} Corporation", customer_domain=f"{word.lower()}.com"
        )
        calls = [
            (lambda u=u, d=data: services.registration_create(actor=u, data=dict(d)))
            for u in contenders[:n]
        ]
        results = run_concurrently(calls)
        created = [r[1] for r in results if r[0] == "ok"]
        _assert_one_winner(round_no, created, results)


def test_first_come_first_served_with_different_spellings(contenders):
    """CONC-02: each thread spells the customer differently → still exactly one clear."""
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "sp")
        forms = spellings(word)
        calls = []
        for index, user in enumerate(contenders[: len(forms)]):
            data = factories.registration_data(
                contact_email=f"buyer{index}@{word.lower()}.com", **forms[index]
            )
            calls.append(lambda u=user, d=data: services.registration_create(actor=u, data=d))
        results = run_concurrently(calls)
        created = [r[1] for r in results if r[0] == "ok"]
        _assert_one_winner(round_no, created, results)


def test_same_partner_concurrent_duplicates_leave_one_registration(
    transactional_db, alice, product
):
    """CONC-03: 10 identical submissions from one partner → 1 created, 9 duplicates."""
    for round_no in range(max(1, ROUNDS // 5)):
        word = customer_word(round_no, "dup")
        data = factories.registration_data(
            customer_name=f"{word} GmbH",
            customer_domain=f"{word.lower()}.de",
            customer_country="DE",
        )
        before = DealRegistration.objects.count()
        results = run_concurrently(
            [lambda d=data: services.registration_create(actor=alice, data=dict(d))] * 10
        )
        created = [r[1] for r in results if r[0] == "ok"]
        duplicates = [r[1] for r in results if r[0] == "error"]
        assert len(created) == 1, f"round {round_no}: {len(created)} created"
        assert len(duplicates) == 9
        assert all(isinstance(e, DuplicateRegistration) for e in duplicates), duplicates
        assert {e.extra["existing_id"] for e in duplicates} == {created[0].pk}
        assert DealRegistration.objects.count() == before + 1, "a losing row was persisted"


def test_registration_racing_crm_sync_always_records_the_conflict(transactional_db, alice, product):
    """CONC-04: a submit racing an opportunity upsert for the same customer: either order, the
    conflict is recorded once both exist."""
    for round_no in range(ROUNDS // 2 or 1):
        word = customer_word(round_no, "crm")
        data = factories.registration_data(
            customer_name=f"{word} Systems", customer_domain=f"{word.lower()}.io"
        )
        row = {
            "external_id": f"CRM-{word}",
            "account_name": f"{word} Systems Inc.",
            "account_domain": f"{word.lower()}.io",
            "country": "US",
            "owner_email": "rep@vendor.example",
            "products": [product.code],
            "amount": "10000.00",
            "currency": "USD",
            "stage": "discovery",
            "status": "open",
        }
        results = run_concurrently(
            [
                lambda d=data: services.registration_create(actor=alice, data=dict(d)),
                lambda r=row: opportunities_bulk_upsert(rows=[dict(r)]),
            ]
        )
        assert all(r[0] == "ok" for r in results), results
        registration = DealRegistration.objects.get(pk=results[0][1].pk)
        opportunity = DirectOpportunity.objects.get(external_id=row["external_id"])
        assert (
            Conflict.objects.filter(
                registration_id=registration.pk,
                kind="direct_opportunity",
                other_id=opportunity.pk,
            ).count()
            == 1
        ), f"round {round_no}: conflict missing ({registration.conflict_status})"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="CONC-06 is about PostgreSQL's advisory locks",
)
def test_submit_lock_blocks_equivalent_customer_but_not_unrelated(
    transactional_db, alice, bob, product
):
    """CONC-06: while connection 1 holds the submit lock for X, an equivalent X times out on
    lock_timeout=200ms and unrelated customers Y complete under lock_timeout=100ms (a Y that
    waited for any lock that long would fail). No wall-clock bound here: that is
    test_conc06_unrelated_customer_wall_clock in the reliability suite."""
    results = _conc06_scenario(alice, bob)
    assert results.get("x") == "timed out", results
    assert results.get("y") == "completed", results


@pytest.mark.reliability
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or os.environ.get("RUN_RELIABILITY") != "1",
    reason="a wall-clock bound: reliability suite on PostgreSQL only (RUN_RELIABILITY=1)",
)
def test_conc06_unrelated_customer_wall_clock(transactional_db, alice, bob, product):
    """CONC-06's figure, with a generous bound: while X's lock is held, the fastest of three
    unrelated submits takes under 250 ms (goal: < 100 ms; the machine is shared)."""
    results = _conc06_scenario(alice, bob)
    assert results.get("y") == "completed", results
    assert results["y_ms"] < 250, f"unrelated customer took {results['y_ms']:.1f} ms"


def _conc06_scenario(alice, bob) -> dict:
    from django.db import OperationalError, transaction

    from conflicts.index import lock_identity
    from conflicts.scoring import Identity

    holding = threading.Event()
    release = threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                lock_identity(Identity.from_raw(name="Initech Corporation", domain="initech.com"))
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holding.wait(timeout=10)
    results = {}

    def contender():
        try:
            # Warm this connection first (an unrelated customer): the first submit of a session
            # pays one-off costs (trigger functions compiled, statements prepared) that have
            # nothing to do with locking, and Y below must measure only whether it waits.
            services.registration_create(
                actor=bob,
                data=factories.registration_data(
                    customer_name="Wayne Aerospace", customer_domain="wayne-aero.com"
                ),
            )
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            try:
                services.registration_create(
                    actor=bob,
                    data=factories.registration_data(
                        customer_name="INITECH Corp", customer_domain=""
                    ),
                )
                results["x"] = "completed"
            except OperationalError:
                results["x"] = "timed out"
            # Unrelated customers Y: under lock_timeout = 100 ms, so a Y that needed the held
            # lock (or any lock held for 100 ms) fails instead of completing. The wall-clock
            # figure is the best of three, so one CPU stall of a loaded test machine (xdist
            # workers and PostgreSQL share two cores) is not read as a lock wait.
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '100ms'")
            timings = []
            for name, domain in (
                ("Umbrella Pharmaceuticals", "umbrella-pharma.com"),
                ("Cyberdyne Systems", "cyberdyne.io"),
                ("Soylent Foods", "soylent-foods.com"),
            ):
                started = time.perf_counter()
                services.registration_create(
                    actor=bob,
                    data=factories.registration_data(customer_name=name, customer_domain=domain),
                )
                timings.append((time.perf_counter() - started) * 1000)
            results["y_ms"] = min(timings)
            results["y"] = "completed"
        finally:
            connections.close_all()

    t = threading.Thread(target=contender)
    t.start()
    t.join(timeout=30)
    release.set()
    holder.join(timeout=30)
    return results


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the bulk lock is a PostgreSQL advisory lock (SQLite serialises every writer)",
)
@pytest.mark.parametrize("held", ["bulk", "identity"])
def test_bulk_writer_and_identity_writers_exclude_each_other(transactional_db, alice, held):
    """A batch of opportunities takes one exclusive lock instead of one per key (a 100-row
    batch took ~3,000 and ran PostgreSQL's lock table out); every single-identity writer holds
    it shared. So while a batch writes, a submit waits (here: times out on lock_timeout), and
    while a submit holds its customer, a batch waits."""
    from django.db import OperationalError, transaction

    from conflicts.index import lock_for_bulk, lock_identity
    from conflicts.scoring import Identity

    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                if held == "bulk":
                    lock_for_bulk()
                else:
                    lock_identity(Identity.from_raw(name="Initech Corporation"))
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=10)
    outcome = {}

    def contend():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '200ms'")
                try:
                    if held == "bulk":
                        lock_identity(Identity.from_raw(name="Umbrella Pharmaceuticals"))
                    else:
                        lock_for_bulk()
                    outcome["result"] = "acquired"
                except OperationalError:
                    outcome["result"] = "timed out"
        finally:
            connections.close_all()

    contender = threading.Thread(target=contend)
    contender.start()
    contender.join(timeout=30)
    release.set()
    holder.join(timeout=30)
    assert outcome == {"result": "timed out"}
