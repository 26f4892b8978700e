"""Real-browser tests: Playwright for Python driving Debian's Chromium against live_server.

`playwright install` does not work on these machines; the system Chromium is used instead.
The tests skip (with the reason) only when that binary is absent.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests import factories

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be
# usable from it in these tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


class Session:
    """One person's browser context, collecting console errors (CSP violations show there)."""

    def __init__(
        self, browser, base_url: str, *, viewport=None, java_script_enabled=True, bypass_csp=False
    ):
        self.base_url = base_url
        # bypass_csp: only for injecting a test tool (axe-core) into the page.
        self.context = browser.new_context(
            base_url=base_url,
            viewport=viewport or {"width": 1360, "height": 900},
            java_script_enabled=java_script_enabled,
            bypass_csp=bypass_csp,
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in_as(self, user) -> None:
        """Start signed in (a session cookie made by Django's test client), skipping the
        login and MFA forms when they are not what a test is about."""
        from django.conf import settings as django_settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        self.context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.base_url}]
        )

    def close(self):
        self.context.close()


@pytest.fixture
def open_session(chromium, live_server):
    sessions: list[Session] = []

    def make(**kwargs) -> Session:
        session = Session(chromium, live_server.url, **kwargs)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@contextmanager
def totp_window():
    """Freeze the clock inside one TOTP window while a code is computed, typed and verified.

    The live server runs in a thread of this process, so time_machine pins the clock its TOTP
    check reads as well: the code the test types is the one the server expects, however slow
    the browser is, and nothing sleeps to wait for a fresh window. Only time.time/datetime are
    frozen (not time.monotonic, which the server's sockets and Playwright's waits use); the
    browser keeps its own clock, which TOTP does not involve."""
    with factories.pinned_totp_clock():
        yield


def totp_code(secret: str) -> str:
    """The current code; call it inside `with totp_window():`."""
    return factories.totp_code(secret)
