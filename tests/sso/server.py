"""Start the test OpenID Provider (tests/sso/idp) in its own process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalOpenIdProvider:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/o"
        self.people: dict[str, dict] = {}
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (workdir / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.users_file = workdir / "users.json"
        self.users_file.write_text("{}")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.sso.idp.settings",
            "IDP_DATABASE": str(workdir / "idp.sqlite3"),
            "IDP_KEY_FILE": str(workdir / "key.pem"),
            "IDP_USERS_FILE": str(self.users_file),
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    def _django(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=self.env, check=True, capture_output=True
        )

    def start(self) -> LocalOpenIdProvider:
        self._django("-m", "django", "migrate", "--noinput", "-v", "0")
        log = open(self.workdir / "idp.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "runserver",
                f"127.0.0.1:{self.port}",
                "--noreload",
                "--skip-checks",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.discovery_url, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            "the test identity provider did not start: "
            + (self.workdir / "idp.log").read_text()[-2000:]
        )

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def add(
        self,
        *,
        people: list[dict] | None = None,
        clients: list[dict] | None = None,
    ) -> None:
        """people: {"username", "password", "email", "email_verified", "name", "amr"}."""
        for person in people or []:
            self.people[person["username"]] = person
        self.users_file.write_text(json.dumps(self.people))
        spec = {
            "people": [
                {"username": p["username"], "password": p["password"]} for p in people or []
            ],
            "clients": clients or [],
        }
        self._django("-m", "tests.sso.idp.setup", json.dumps(spec))
