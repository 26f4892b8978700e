"""The portal's live availability check in a real browser (issue 15, second part): it checks
when typing pauses and when a field is left, never twice for the same input, and a refused
check (429) pauses it and says when to retry."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

LONG_NAME = "Vandelay Industries Import Export Holding BV"  # 44 characters


def _count_checks(page) -> list[str]:
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data or "")
            if request.method == "POST" and "availability" in request.url
            else None
        ),
    )
    return sent


def test_typing_a_long_name_sends_at_most_four_checks(open_session, partner_a, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    session = open_session()
    session.sign_in_as(alice)
    page = session.page
    page.goto("/registrations/new/")
    page.get_by_label("Country").select_option("US")
    sent = _count_checks(page)
    page.get_by_label("Customer name").press_sequentially(LONG_NAME, delay=150)
    page.get_by_label("Website domain").click()  # leaving the field: same input, not resent
    verdict = page.get_by_test_id("availability")
    expect(verdict.locator("[data-status]")).to_have_attribute("data-status", "clear")
    time.sleep(1.0)  # any straggling check would have been sent by now
    assert 1 <= len(sent) <= 4, sent
    assert len(set(sent)) == len(sent)  # never the same input twice
    assert not session.console_errors


def test_a_refused_check_says_when_to_retry(open_session, partner_a, product, settings):
    settings.CONFLICT_CHECK_RATE_USER = "1/m"
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    session = open_session()
    session.sign_in_as(alice)
    page = session.page
    page.goto("/registrations/new/")
    page.get_by_label("Country").select_option("US")
    name = page.get_by_label("Customer name")
    name.press_sequentially("Vandelay", delay=20)
    verdict = page.get_by_test_id("availability")
    expect(verdict.locator("[data-status]")).to_have_attribute("data-status", "clear")
    name.press_sequentially(" Industries", delay=20)
    expect(verdict.locator("[data-retry-after]")).to_be_visible()
    expect(verdict).to_contain_text("try again in")
    sent = _count_checks(page)
    name.press_sequentially(" Export", delay=20)  # paused until Retry-After: nothing is sent
    page.get_by_label("Website domain").click()
    time.sleep(1.0)
    assert sent == []
