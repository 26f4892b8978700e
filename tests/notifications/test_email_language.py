"""E-mails speak the recipient's language and show times in the recipient's time zone (issue
18 §4), whoever caused them: the subject, the body and the footer."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from deals.models import Notification, NotificationKind
from deals.notifications.delivery import email_render
from deals.registrations import services
from prm.lib.time import clock_source
from tests import factories

pytestmark = pytest.mark.django_db

# 09:30 UTC on a winter day: 10:30 in Paris (CET, UTC+1).
DECIDED_AT = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _set(user, *, language="", time_zone=""):
    user.language = language
    user.time_zone = time_zone
    user.save(update_fields=["language", "time_zone"])


def test_an_approval_email_to_a_french_user_in_paris(alice, manager, deliver, product):
    _set(alice, language="fr", time_zone="Europe/Paris")
    registration = factories.make_registration(alice, customer_name="Initech SARL")
    Notification.objects.all().delete()
    mail.outbox.clear()
    with clock_source(lambda: DECIDED_AT), deliver():
        registration = services.registration_approve(registration=registration, actor=manager)
    (message,) = [m for m in mail.outbox if alice.email in m.to]
    html = message.alternatives[0][0]
    assert message.subject == f"Enregistrement {registration.reference} approuvé"
    assert "Bonjour" in message.body and "Votre enregistrement pour Initech SARL est approuvé" in (
        message.body
    )
    # The protection's end as a French date in Paris, the e-mail's time in Paris time.
    until = registration.expires_at.astimezone(PARIS)
    months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août"]
    months += ["septembre", "octobre", "novembre", "décembre"]
    assert f"protégé jusqu’au {until.day} {months[until.month - 1]} {until.year}" in message.body
    assert "Envoyé le 3 déc. 2026, 10:30 CET." in message.body
    assert "10:30 CET" in html and '<html lang="fr">' in html
    assert "Décision" in html and "préférences de notification" in html
    assert "09:30" not in message.body


def test_the_same_event_reaches_each_recipient_in_their_own_language(
    alice, manager, deliver, product
):
    """The manager who decided stays in English (no language saved); the partner reads
    German with Berlin time."""
    _set(alice, language="de", time_zone="Europe/Berlin")
    with clock_source(lambda: DECIDED_AT), deliver():
        registration = factories.make_registration(alice)
    to_alice = [m for m in mail.outbox if alice.email in m.to]
    to_manager = [m for m in mail.outbox if manager.email in m.to]
    assert to_alice[0].subject == f"Registrierung {registration.reference} eingegangen"
    assert "Hallo" in to_alice[0].body
    assert "Gesendet am 3. Dez. 2026, 10:30 CET." in to_alice[0].body
    assert to_manager[0].subject.startswith("New registration")
    assert "Sent on 3 Dec 2026, 09:30 UTC." in to_manager[0].body


def test_rendering_follows_the_preferences_at_send_time(alice, manager, product):
    """The e-mail's frame (greeting, labels, time) is rendered when it is sent, in the
    recipient's language and zone as they are then."""
    with clock_source(lambda: DECIDED_AT):
        factories.make_registration(alice)
    row = Notification.objects.get(
        recipient=alice, kind=NotificationKind.SUBMISSION_RECEIVED, channel="email"
    )
    _set(alice, language="es", time_zone="America/Mexico_City")
    _subject, text, html = email_render(row)
    assert "Enviado el 3 dic. 2026, 03:30 CST." in text
    assert '<html lang="es">' in html
    assert "preferencias de notificación" in text
