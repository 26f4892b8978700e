"""Issue 20, item 1: every SQLite configuration gets BEGIN IMMEDIATE, WAL and the 20 s busy
timeout; a lock wait that still times out answers 503 with Retry-After (API and pages), never
500; the database counters behind the limiters are one atomic statement per hit."""

from __future__ import annotations

import runpy
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.db.utils import ConnectionHandler
from django.test import Client

from prm import counters
from prm.api import ApiView
from prm.lib.db_busy import is_database_busy
from prm.lib.sqlite import with_sqlite_safeguards
from tests.api.conftest import client_for

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "prm" / "settings.py"


def _settings_with(monkeypatch, tmp_path, **env) -> dict:
    """prm/settings.py evaluated afresh with `env` (django.conf.settings is not touched)."""
    monkeypatch.setenv("PRM_VAR_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "SQLITE_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))["DATABASES"]["default"]


def _pragmas(database: dict) -> dict:
    wrapper = ConnectionHandler({"default": {**database, "CONN_MAX_AGE": 0}})["default"]
    wrapper.ensure_connection()
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA busy_timeout")
            busy = cursor.fetchone()[0]
        return {"journal": journal, "busy_ms": busy, "mode": wrapper.transaction_mode}
    finally:
        wrapper.close()


@pytest.mark.parametrize(
    "configure",
    [
        "SQLITE_PATH",
        "DATABASE_URL absolute",
        "DATABASE_URL relative",
        "DATABASE_URL with options",
    ],
)
def test_every_sqlite_configuration_gets_the_safeguards(
    monkeypatch, tmp_path, django_db_blocker, configure
):
    db_file = tmp_path / "probe.sqlite3"
    monkeypatch.chdir(tmp_path)
    env = {
        "SQLITE_PATH": {"SQLITE_PATH": str(db_file)},
        "DATABASE_URL absolute": {"DATABASE_URL": f"sqlite:///{db_file}"},  # sqlite:////abs
        "DATABASE_URL relative": {"DATABASE_URL": "sqlite:///probe.sqlite3"},
        "DATABASE_URL with options": {
            "DATABASE_URL": f"sqlite:///{db_file}?timeout=5&transaction_mode=DEFERRED"
        },
    }[configure]
    database = _settings_with(monkeypatch, tmp_path, **env)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] >= 20
    with django_db_blocker.unblock():  # a probe file of its own, not the test database
        pragmas = _pragmas(database)
    assert pragmas == {"journal": "wal", "busy_ms": 20000, "mode": "IMMEDIATE"}


def test_a_longer_timeout_and_an_own_init_command_are_kept():
    database = with_sqlite_safeguards(
        {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": "x.sqlite3",
            "OPTIONS": {"timeout": 60, "init_command": "PRAGMA foreign_keys=ON"},
        }
    )
    assert database["OPTIONS"]["timeout"] == 60
    assert database["OPTIONS"]["init_command"].startswith("PRAGMA foreign_keys=ON;")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}
    assert with_sqlite_safeguards(postgres) is postgres


# --- 503 + Retry-After for a lock timeout -------------------------------------------------------


class _PgLockNotAvailable(Exception):
    sqlstate = "55P03"


def _pg_lock_timeout() -> OperationalError:
    try:
        try:
            raise _PgLockNotAvailable("canceling statement due to lock timeout")
        except _PgLockNotAvailable as cause:
            raise OperationalError("canceling statement due to lock timeout") from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [OperationalError("database is locked"), _pg_lock_timeout()],
    ids=["sqlite-locked", "pg-lock-timeout"],
)
def test_api_answers_503_with_retry_after_on_a_lock_timeout(alice, error):
    client = client_for(alice)
    with mock.patch.object(ApiView, "initial", side_effect=error):
        response = client.get("/api/v1/me/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert response.json()["code"] == "service_busy"


def test_page_answers_503_with_retry_after_on_a_lock_timeout(alice):
    client = Client()
    client.force_login(alice)
    with mock.patch(
        "deals.web.portal.selectors_portal.partner_dashboard",
        side_effect=OperationalError("database is locked"),
    ):
        response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert b"busy" in response.content


def test_other_database_errors_are_not_dressed_up_as_busy():
    assert not is_database_busy(OperationalError("no such table: deals_dealregistration"))
    assert not is_database_busy(ValueError("database is locked"))
    assert is_database_busy(OperationalError("database table is locked"))


# --- The database counters: one atomic statement per hit ------------------------------------


def test_database_counter_counts_exactly_under_concurrency(transactional_db):
    """40 threads, each on its own connection, increment one counter: the values returned are
    exactly 1..40 (a get + set increment returns duplicates and loses hits)."""
    barrier = threading.Barrier(20)

    def one(_):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        try:
            return counters.increment("race-key", 60)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        values = sorted(pool.map(one, range(40)))
    assert values == list(range(1, 41))
    assert counters.decrement("race-key") == 39
    counters.delete("race-key")
    assert counters.decrement("race-key") == 0


def test_database_counter_window_starts_again_after_expiry(db):
    assert [counters.increment("window-key", 60) for _ in range(3)] == [1, 2, 3]
    with _later(61):
        assert counters.increment("window-key", 60) == 1


class _later:
    def __init__(self, seconds):
        import time

        import time_machine

        self.traveller = time_machine.travel(time.time() + seconds)

    def __enter__(self):
        return self.traveller.__enter__()

    def __exit__(self, *exc):
        return self.traveller.__exit__(*exc)
