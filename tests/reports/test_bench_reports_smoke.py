"""The reports benchmark seeds registrations with plain SQL; a required column added to the
model later broke it without any test noticing (issue 17's owner, issue 19's benefit columns).
This runs it at a tiny size on PostgreSQL (its SQL is PostgreSQL's), in its own database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="bench.reports runs on PostgreSQL only (the PostgreSQL run of the suite covers it)",
)
def test_reports_bench_seeds_against_the_current_schema():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "prm.settings"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.reports", "--rows", "300", "--runs", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "data: 300 registrations" in result.stdout
    assert "target: unfiltered summary p95 <= 300 ms" in result.stdout
