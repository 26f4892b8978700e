"""Real services for the job reliability tests: a private redis-server, an SMTP sink
(aiosmtpd), Celery worker and beat subprocesses sharing the test database."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = ""):
    """Poll until predicate() is truthy; returns (value, seconds waited) or raises."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


class RedisServer:
    """redis-server on its own port and folder, persistence off (like the CI Redis): a
    restart loses every queued message."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="jobs-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install -y redis-server)"
        subprocess.run(
            [
                binary,
                "--daemonize",
                "yes",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
                "--dir",
                self.dir,
                "--pidfile",
                f"{self.dir}/redis.pid",
                "--logfile",
                f"{self.dir}/redis.log",
            ],
            check=True,
        )
        wait_for(self.ping, 10, 0.05, "redis did not start")

    def cli(self, *args) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10
        )
        return result.stdout.strip()

    def ping(self) -> bool:
        try:
            return self.cli("ping") == "PONG"
        except Exception:
            return False

    def stop(self):
        if self.ping():
            self.cli("shutdown", "nosave")
        wait_for(lambda: not self.ping(), 10, 0.05, "redis did not stop")

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SmtpSink:
    """aiosmtpd on a free port. Records every accepted message by Message-ID; can refuse all
    messages for a while (451 at DATA) and always refuses some recipients (451 at RCPT)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.messages: list[dict] = []
        self.refusals = 0
        self.refuse_all = False
        self.always_refuse: set[str] = set()
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.always_refuse:
            with self.lock:
                self.refusals += 1
            return "451 4.2.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_all:
            with self.lock:
                self.refusals += 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(
                {
                    "message_id": message["Message-ID"],
                    "to": list(envelope.rcpt_tos),
                    "subject": message["Subject"],
                }
            )
        await asyncio.sleep(0)
        return "250 Message accepted for delivery"

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def duplicates(self) -> dict[str, int]:
        with self.lock:
            counts = Counter(m["message_id"] for m in self.messages)
        return {k: v for k, v in counts.items() if v > 1}


def database_env() -> dict[str, str]:
    """Point a subprocess at the test database (the committed rows of transactional_db)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(params["NAME"])}
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"}


class CeleryProcess:
    """`celery -A prm worker|beat` as a subprocess with the test's environment."""

    def __init__(self, kind: str, env: dict[str, str], name: str = "jobs"):
        self.kind = kind
        self.env = env
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"jobs-{kind}-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 60):
        if self.kind == "worker":
            args = [
                "worker",
                "--pool=solo",
                "--prefetch-multiplier=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.name}@%h",
                "--loglevel=INFO",
            ]
            ready = "ready."
        else:
            args = ["beat", "--loglevel=INFO", "--pidfile="]
            ready = "beat: Starting"
        env = {**os.environ, **self.env}
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        env["CELERY_TASK_ALWAYS_EAGER"] = "false"
        env["DJANGO_SETTINGS_MODULE"] = "tests.reliability.jobs_settings"
        env["PYTHONPATH"] = str(ROOT)
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "prm", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: ready in self.read_log() or self.process.poll() is not None,
            ready_timeout,
            0.2,
            f"{self.kind} did not start: {self.read_log()[-2000:]}",
        )
        assert self.process.poll() is None, f"{self.kind} exited: {self.read_log()[-3000:]}"

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self):
        """SIGKILL: no warm shutdown, no ack, no cleanup."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()
        self.log_path.unlink(missing_ok=True)
