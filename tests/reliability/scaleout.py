"""Scale-out harness (issue 21): PgBouncer in transaction mode from the Debian binary on a free
port with a temporary configuration, and gunicorn processes of the app on their own ports.

Used by tests/reliability/test_scale_out_races.py and tests/reliability/test_read_replica.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.jobs_harness import free_port

ROOT = Path(__file__).resolve().parents[2]
PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
)


def require_pgbouncer() -> str:
    """The pgbouncer binary. Missing: a skip that says how to get it; in CI (CI=true, where
    .ci/run installs it) a failure, so the scale-out profile cannot silently not run."""
    if PGBOUNCER:
        return PGBOUNCER
    message = "pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class PgBouncer:
    """pgbouncer in transaction mode in front of one PostgreSQL server; trust auth."""

    def __init__(self, *, pg_host: str, pg_port: int, pg_user: str):
        self.binary = require_pgbouncer()
        self.pg_host, self.pg_port, self.pg_user = pg_host or "127.0.0.1", pg_port, pg_user
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dealbridge-pgbouncer-"))
        self.proc: subprocess.Popen | None = None

    def start(self) -> PgBouncer:
        (self.dir / "userlist.txt").write_text(f'"{self.pg_user}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.pg_host} port={self.pg_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 400\n"
            "default_pool_size = 20\n"
            "server_reset_query =\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
        )
        os.chmod(self.dir, 0o755)
        command = [self.binary, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            shutil.chown(self.dir, user="postgres")
            for path in self.dir.iterdir():
                shutil.chown(path, user="postgres")
            command[1:1] = ["-u", "postgres"]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.time() + 15
        import psycopg

        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        f"pgbouncer did not start (exit {self.proc.poll()}): {self.log()[-2000:]}"
                    ) from None
                time.sleep(0.2)

    def url(self, database: str) -> str:
        return f"postgres://{self.pg_user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        try:
            return (self.dir / "pgbouncer.log").read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Gunicorn:
    """The app under gunicorn (gthread workers) on a free port, with the given environment."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prm.settings_test",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.env.pop("SQLITE_PATH", None)
        self.workers, self.threads = workers, threads
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()

    def start(self) -> Gunicorn:
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.proc = subprocess.Popen(
            [gunicorn, "prm.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", str(self.threads),
             "--backlog", "256", "--timeout", "120", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log, text=True,
        )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.poll()}: {self.stderr()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn on {self.url} did not become ready")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()
