"""Shared helpers for the security suite: the security-log capture, TOTP codes, real logins."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from tests import factories


class SecurityRecords(logging.Handler):
    """Collects the JSON records written on "prm.security" (it does not propagate to root)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def of(self, event: str) -> list[dict]:
        return [r for r in self.records if r["event"] == event]


@pytest.fixture
def security_records():
    handler = SecurityRecords()
    logger = logging.getLogger("prm.security")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def totp_now(secret: str, offset: int = 0) -> str:
    return factories.totp_code(secret, offset)


def password_login(client: Client, email: str, password: str = factories.PASSWORD, **extra):
    """The real allauth login form (not force_login)."""
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def is_signed_in(client: Client) -> bool:
    from django.contrib.auth import SESSION_KEY

    return SESSION_KEY in client.session


@pytest.fixture
def totp_clock():
    """The clock frozen inside one TOTP window (time_machine), so codes from totp_now() are the
    ones the server expects; a test may still travel further itself."""
    with factories.pinned_totp_clock() as traveller:
        yield traveller


@pytest.fixture
def mfa_user(partner_a, totp_clock):
    """A partner admin with TOTP enrolled; `.totp_secret` holds the secret. The clock is frozen
    for the test (totp_clock), so its codes never straddle a window boundary."""
    user = factories.partner_user(partner_a, role="admin", email="mia@acme-resellers.example")
    user.totp_secret = factories.enrol_totp(user)
    return user


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the (per-process) test cache: start every test at zero, as
    all requests here come from 127.0.0.1."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
