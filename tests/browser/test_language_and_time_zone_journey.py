"""Languages and time zones in a real browser (issue 18 §4), one screenshot per step under
test-artifacts/browser/:

1. a partner user opens the preferences page in English, chooses German and Asia/Tokyo and
   saves: the page answers in German, with the current time in Tokyo;
2. their draft registration (created 09:30 UTC) shows its history at 18:30, Tokyo time;
3. they submit it from the page (in German): the e-mail that action sends them is German,
   subject included, and states its time in Tokyo time;
4. the footer's language switcher (no JavaScript needed) takes the pages to Spanish.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.core import mail
from django.utils import dateformat, translation
from playwright.sync_api import expect

from deals.models import Notification, NotificationKind
from prm.lib.time import clock_source
from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR

pytestmark = pytest.mark.django_db(transaction=True)

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
CREATED_AT = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)  # 18:30 in Tokyo


def test_language_and_time_zone_journey(open_session, partner_a, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    with clock_source(lambda: CREATED_AT):
        draft = factories.make_registration(alice, status="draft", customer_name="Initech GmbH")
    session = open_session()
    page = session.page
    session.sign_in_as(alice)

    # --- 1. English until they choose German and Tokyo ------------------------------------
    page.goto("/settings/preferences/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preferences")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    session.screenshot("language-01-preferences-english")
    page.locator("#id_language").select_option("de")
    page.locator("#id_time_zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Einstellungen")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator(".messages")).to_contain_text("Einstellungen gespeichert.")
    expect(page.get_by_test_id("local-now")).to_contain_text("JST")
    expect(page.get_by_test_id("local-now")).to_have_attribute("datetime", re.compile(r"\+09:00$"))
    expect(page.get_by_role("link", name="Deal registrieren").first).to_be_visible()
    session.screenshot("language-02-preferences-german-tokyo")
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("de", "Asia/Tokyo")

    # --- 2. Times on the pages are Tokyo times ---------------------------------------------
    page.goto(f"/registrations/{draft.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech GmbH")
    expect(page.locator(".timeline-meta time").first).to_contain_text("3. Dez. 2026, 18:30")
    session.screenshot("language-03-registration-german-tokyo")

    # --- 3. Submitting sends a German e-mail with Tokyo time --------------------------------
    mail.outbox.clear()
    page.get_by_role("button", name="Zur Prüfung einreichen").click()
    expect(page.get_by_test_id("status")).to_have_text("Eingereicht")
    session.screenshot("language-04-submitted-german")
    draft.refresh_from_db()
    [message] = [m for m in mail.outbox if alice.email in m.to]
    assert message.subject == f"Registrierung {draft.reference} eingegangen"
    assert "Wir haben Ihre Deal-Registrierung für Initech GmbH erhalten." in message.body
    row = Notification.objects.get(
        recipient=alice, kind=NotificationKind.SUBMISSION_RECEIVED, channel="email"
    )
    with translation.override("de"):
        sent = dateformat.format(row.created_at.astimezone(TOKYO), "j. N Y, H:i T")
    assert f"Gesendet am {sent}." in message.body and sent.endswith("JST")
    html = message.alternatives[0][0]
    assert '<html lang="de">' in html and f"Gesendet am {sent}." in html

    # --- 4. The footer's switcher, without JavaScript -----------------------------------------
    no_js = open_session(java_script_enabled=False)
    no_js.sign_in_as(alice)
    no_js.page.goto("/registrations/")
    expect(no_js.page.get_by_role("heading", level=1)).to_have_text("Meine Registrierungen")
    no_js.page.locator("#id_switch_language").select_option("es")
    no_js.page.get_by_role("button", name="Ändern").click()
    expect(no_js.page.get_by_role("heading", level=1)).to_have_text("Mis registros")
    assert no_js.page.url.endswith("/registrations/")
    no_js.screenshot("language-05-switched-to-spanish")
    alice.refresh_from_db()
    assert alice.language == "es"
    assert not [e for e in session.console_errors if CSP_ERROR.search(e)]
