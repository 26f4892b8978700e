"""Issue 20, item 1: the outside probe's races and limiter scenarios as real concurrent HTTP
requests (threads behind a barrier, one httpx client each), with 0 × 5xx.

Every scenario runs against two servers:
- `in_process`: Django's threaded server in a thread of this process, on whatever database
  the suite runs with (SQLITE_PATH by default; PostgreSQL or DATABASE_URL=sqlite:////... when the
  suite is run so);
- `sqlite_url_process` (SQLite suites only): a separate OS process serving the same test
  database file configured through DATABASE_URL=sqlite:////<absolute path>, as the probe did.
  Before the fix that configuration ran with deferred transactions, the rollback journal and a
  5 s timeout: the loser of a race got 500 "database is locked".

Scenarios (CONC-05 over HTTP): two managers approve one registration; approve ∥ reject;
withdraw ∥ withdraw; extension request ∥ extension request (max_extensions=1); conflict
resolution ∥ conflict resolution → exactly one 2xx and one 409. Limiters (AUTH-02, ISO-08) on
the database cache (the project default without CACHE_URL): 20 parallel wrong passwords for
one e-mail → exactly 5 reach the password check (400), 15 × 429; 40 parallel availability
checks → exactly 30 × 200, 10 × 429.

ROUNDS (RACE_ROUNDS, default 3) keeps the default suite to a few seconds per scenario.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection

from conflicts.models import Conflict
from deals.models import DealRegistration, ExtensionRequest, RegistrationEvent
from partners.services import token_create
from tests import factories
from tests.reliability.race_server import make_server

ROUNDS = int(os.environ.get("RACE_ROUNDS", "3"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "prm_cache",
    }
}


def fire(requests: list[tuple[str, str, dict | None, str]]) -> list[httpx.Response]:
    """Send (method, url, json, token) requests at the same moment; return the responses."""
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def worker(index):
        method, url, body, token = requests[index]
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            try:
                headers = {"Authorization": f"Token {token}"} if token else {}
                responses[index] = client.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as exc:  # reported as a failure by the caller
                responses[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(not t.is_alive() for t in threads), "a request hung"
    return responses


def codes_of(responses) -> list[int]:
    failures = [r for r in responses if not isinstance(r, httpx.Response)]
    assert not failures, f"transport errors: {failures[:3]}"
    server_errors = [(r.status_code, r.text[:200]) for r in responses if r.status_code >= 500]
    assert not server_errors, f"{len(server_errors)} × 5xx: {server_errors[:3]}"
    return sorted(r.status_code for r in responses)


@pytest.fixture(scope="module")
def sqlite_url_process(django_db_setup, django_db_blocker):
    """The app in its own process on the test database file, configured through
    DATABASE_URL=sqlite:////<absolute path> (started once per module: ~3 s)."""
    if connection.vendor != "sqlite":
        pytest.skip("the DATABASE_URL=sqlite:// server process is a SQLite configuration")
    path = os.path.abspath(connection.settings_dict["NAME"])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings_test",
        "DATABASE_URL": f"sqlite:///{path}",  # sqlite:////abs/path
        "CACHE_URL": "dbcache://prm_cache",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        # The production limits (the suite's settings raise them for seeding).
        "CONFLICT_CHECK_RATE_USER": "30/m",
        "CONFLICT_CHECK_RATE_PARTNER": "300/d",
    }
    env.pop("SQLITE_PATH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.race_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), f"the server process did not start (exit {proc.poll()})"
        url = f"http://127.0.0.1:{port}"
        httpx.get(f"{url}/healthz", timeout=60)  # warm up imports and the URL resolver
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def in_process(django_db_setup, django_db_blocker):
    """The app served from a thread of this process, on the suite's own database."""
    server = make_server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["in_process", "sqlite_url_process"])
def server_url(request, transactional_db):
    return request.getfixturevalue(request.param)


@pytest.fixture
def cast(transactional_db, settings):
    """A partner (owner + a colleague), a second partner, two managers; tokens for each. The
    limiter scenarios use the database cache, as a server without CACHE_URL does."""
    settings.CACHES = DB_CACHE
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()
    factories.ProductFactory(code="crm-pro", product_line__code="crm")
    partner = factories.PartnerFactory(name="Racing Resellers", domains=["racing.example"])
    rival = factories.PartnerFactory(name="Rival Resellers", domains=["rival.example"])
    owner = factories.partner_user(partner, email="owner@racing.example")
    rival_user = factories.partner_user(rival, email="seller@rival.example")
    managers = [factories.manager_user(email=f"judge{i}@vendor.example") for i in (1, 2)]
    people = {"owner": owner, "rival": rival_user, "m1": managers[0], "m2": managers[1]}
    tokens = {name: token_create(user=user)[1] for name, user in people.items()}
    return people, tokens


def _registration(people, round_no, tag, status="submitted"):
    return factories.make_registration(
        people["owner"],
        status=status,
        manager=people["m1"] if status == "approved" else None,
        customer_name=f"Race {tag} Account {round_no}",
        customer_domain=f"race-{tag}-{round_no}.com",
    )


def _events(registration, action: str) -> int:
    return RegistrationEvent.objects.filter(registration_id=registration.pk, action=action).count()


def test_two_managers_approve_one_registration(server_url, cast):
    people, tokens = cast
    for round_no in range(ROUNDS):
        registration = _registration(people, round_no, "approve")
        url = f"{server_url}/api/v1/registrations/{registration.pk}/approve/"
        codes = codes_of(fire([("POST", url, {}, tokens["m1"]), ("POST", url, {}, tokens["m2"])]))
        assert codes == [200, 409], f"round {round_no}: {codes}"
        assert DealRegistration.objects.get(pk=registration.pk).status == "approved"


def test_approve_against_reject(server_url, cast):
    people, tokens = cast
    for round_no in range(ROUNDS):
        registration = _registration(people, round_no, "decide")
        base = f"{server_url}/api/v1/registrations/{registration.pk}"
        codes = codes_of(
            fire(
                [
                    ("POST", f"{base}/approve/", {}, tokens["m1"]),
                    ("POST", f"{base}/reject/", {"reason": "not_qualified"}, tokens["m2"]),
                ]
            )
        )
        assert codes == [200, 409], f"round {round_no}: {codes}"
        status = DealRegistration.objects.get(pk=registration.pk).status
        assert status in ("approved", "rejected")


def test_double_withdraw(server_url, cast):
    people, tokens = cast
    for round_no in range(ROUNDS):
        registration = _registration(people, round_no, "withdraw")
        url = f"{server_url}/api/v1/registrations/{registration.pk}/withdraw/"
        codes = codes_of(fire([("POST", url, {}, tokens["owner"])] * 2))
        assert codes == [200, 409], f"round {round_no}: {codes}"
        assert DealRegistration.objects.get(pk=registration.pk).status == "withdrawn"


def test_double_extension_request(server_url, cast):
    people, tokens = cast
    for round_no in range(ROUNDS):
        registration = _registration(people, round_no, "extend", status="approved")
        url = f"{server_url}/api/v1/registrations/{registration.pk}/extension-requests/"
        body = {"reason": "Procurement is slow"}
        codes = codes_of(fire([("POST", url, body, tokens["owner"])] * 2))
        assert codes == [201, 409], f"round {round_no}: {codes}"
        assert ExtensionRequest.objects.filter(registration_id=registration.pk).count() == 1


def test_double_conflict_resolution(server_url, cast):
    people, tokens = cast
    for round_no in range(ROUNDS):
        first = _registration(people, round_no, "conflict")
        second = factories.make_registration(
            people["rival"],
            customer_name=first.customer_name,
            customer_domain=first.customer_domain,
        )
        conflict = Conflict.objects.get(registration_id=second.pk)
        url = f"{server_url}/api/v1/conflicts/{conflict.pk}/resolve/"
        body = {"resolution": "first_registration_wins"}
        codes = codes_of(
            fire([("POST", url, body, tokens["m1"]), ("POST", url, body, tokens["m2"])])
        )
        assert codes == [200, 409], f"round {round_no}: {codes}"
        assert Conflict.objects.get(pk=conflict.pk).status == "resolved"
        assert DealRegistration.objects.get(pk=second.pk).status == "rejected"


def test_parallel_wrong_passwords_reach_the_check_exactly_limit_times(server_url, cast):
    people, _ = cast
    url = f"{server_url}/api/v1/auth/token/"
    body = {"email": people["owner"].email, "password": "not-the-password"}
    responses = fire([("POST", url, body, "")] * 20)
    codes = codes_of(responses)
    # 400 invalid_credentials = the password was checked; 429 = refused before the check.
    assert codes == [400] * 5 + [429] * 15, codes


def test_parallel_availability_checks_allow_exactly_the_limit(server_url, cast, settings):
    settings.CONFLICT_CHECK_RATE_USER = "30/m"  # the production limits (the in-process server)
    settings.CONFLICT_CHECK_RATE_PARTNER = "300/d"
    _, tokens = cast
    url = f"{server_url}/api/v1/conflict-check/"
    body = {
        "customer_name": "Limiter Probe Corporation",
        "customer_domain": "limiter-probe.com",
        "customer_country": "US",
        "products": ["crm-pro"],
    }
    codes = codes_of(fire([("POST", url, body, tokens["rival"])] * 40))
    assert codes == [200] * 30 + [429] * 10, codes
