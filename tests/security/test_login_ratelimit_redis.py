"""AUTH-01 [redis]: allauth's login limits on a real, shared Redis cache (as in production).

Runs with RUN_RELIABILITY=1; starts its own redis-server on a free port in a temp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from tests.security.conftest import is_signed_in, password_login

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.django_db,
    pytest.mark.skipif(
        os.environ.get("RUN_RELIABILITY") != "1", reason="needs RUN_RELIABILITY=1 (real Redis)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "volatile-ttl",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/1"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_cache(redis_url):
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "auth01",
        }
    }
    with override_settings(CACHES=config, ALLAUTH_TRUSTED_PROXY_COUNT=0):
        caches["default"].clear()
        assert "Redis" in type(caches["default"]).__name__
        yield caches["default"]
        caches["default"].clear()


def test_auth01_sixth_failed_login_for_one_email_is_blocked_even_with_the_right_password(
    redis_cache, alice, security_records
):
    for n in range(5):
        # Different addresses: only the per-e-mail limit (5/300s/key) is in play.
        client = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")
        password_login(client, alice.email, "wrong-password-0")
        assert not is_signed_in(client)
    client = Client(REMOTE_ADDR="10.0.1.1")
    response = password_login(client, alice.email)
    assert not is_signed_in(client)
    assert b"Too many failed login attempts" in response.content
    assert len(security_records.of("login_failed")) == 5
    assert len(security_records.of("rate_limited")) == 1
    assert any(key.startswith(b"auth01") for key in _redis_keys(redis_cache))


def _redis_keys(cache):
    return cache._cache.get_client().keys("*")


def _eleven_failures_from_one_ip(rotate_forwarded_for: bool, target_email: str):
    results = []
    for n in range(11):
        extra = {"REMOTE_ADDR": "192.0.2.10"}
        if rotate_forwarded_for:
            extra["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n + 1}"
        client = Client(**extra)
        if n < 10:
            # Ten different unknown e-mails: the per-e-mail limit never trips.
            password_login(client, f"nobody{n}@example.com", "wrong-password-0")
            results.append(is_signed_in(client))
        else:
            response = password_login(client, target_email)
            results.append(is_signed_in(client))
            return results, response
    raise AssertionError("unreachable")


def test_auth01_eleventh_failed_attempt_from_one_ip_is_blocked(redis_cache, alice):
    results, response = _eleven_failures_from_one_ip(False, alice.email)
    assert results == [False] * 11
    assert b"Too many failed login attempts" in response.content


def test_auth01_rotating_x_forwarded_for_does_not_reset_the_ip_limit(redis_cache, alice):
    results, response = _eleven_failures_from_one_ip(True, alice.email)
    assert results == [False] * 11
    assert b"Too many failed login attempts" in response.content


def test_auth01_limits_are_shared_between_processes(redis_cache, alice, redis_url):
    """The counters live in Redis, so another process (a second gunicorn worker) with its own
    connection sees them: read them over a fresh redis-py connection."""
    import redis

    for n in range(5):
        password_login(Client(REMOTE_ADDR=f"10.0.2.{n + 1}"), alice.email, "wrong-password-0")
    other = redis.Redis.from_url(redis_url)
    keys = other.keys("auth01*login_failed*")
    assert keys, "no allauth counters in Redis"
    # A second worker (fresh client, same Redis) is refused too.
    client = Client(REMOTE_ADDR="10.0.3.1")
    password_login(client, alice.email)
    assert not is_signed_in(client)
