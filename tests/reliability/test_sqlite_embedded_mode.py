"""CONC-08: the embedded default (SQLite file, WAL, BEGIN IMMEDIATE, timeout 20 s) with two
OS processes (as gunicorn workers would be) racing on the same customers: exactly one winner
per round and no "database is locked" errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from deals.models import DealRegistration
from tests import factories
from tests.reliability.test_conflict_concurrency import customer_word

DATABASE_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "prm_cache"}
ROUNDS = int(os.environ.get("CONC_ROUNDS", "50"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="CONC-08 is about the SQLite embedded mode",
)


def test_embedded_sqlite_two_processes_one_winner_per_round(transactional_db, product):
    partners = [factories.PartnerFactory(name=f"Embedded {i} Resellers") for i in range(8)]
    users = [
        factories.partner_user(p, email=f"rep@embedded{i}.example") for i, p in enumerate(partners)
    ]
    rounds = []
    for round_no in range(ROUNDS):
        word = customer_word(round_no, "embedded")
        rounds.append(
            factories.registration_data(
                customer_name=f"{word} Industries", customer_domain=f"{word.lower()}.net"
            )
        )
    sqlite_path = connection.settings_dict["NAME"]
    # The workers run prm.settings, whose default cache is the database cache (the policy and
    # the catalogue are read through it, prm.lib.hotcache): give the test database its table,
    # as migration 0003 does for a real install (the test settings' cache is local memory).
    with override_settings(CACHES={"default": DATABASE_CACHE}):
        call_command("createcachetable", verbosity=0)
    start_at = time.time() + 6
    procs = []
    for half in (users[:4], users[4:]):
        spec = {
            "sqlite_path": sqlite_path,
            "emails": [u.email for u in half],
            "rounds": rounds,
            "start_at": start_at,
            "spacing": 0.3,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.conc_worker", json.dumps(spec)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    errors = [e for o in outputs for e in o["errors"]]
    assert not errors, f"{len(errors)} submissions failed, e.g. {errors[:3]}"
    assert sum(o["submitted"] for o in outputs) == 8 * ROUNDS
    for round_no, data in enumerate(rounds):
        registrations = DealRegistration.objects.filter(customer_name=data["customer_name"])
        statuses = sorted(registrations.values_list("conflict_status", flat=True))
        assert len(statuses) == 8, f"round {round_no}: {len(statuses)} rows"
        assert statuses.count("clear") == 1, f"round {round_no}: {statuses}"
