"""Languages (issue 18 §4): every partner-facing text is marked for translation, every
catalogue is complete, and pages, validation messages, numbers and dates follow the language."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.dateformat import format as date_format

from tests import factories
from tests.portal.template_text import (
    partner_templates,
    untranslated,
    untranslated_in_partner_templates,
)

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ("de", "fr", "es")
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sd]|%%|\{[a-z_0-9]*\}")


# --- Every text is marked ------------------------------------------------------------------


def test_no_untranslated_text_in_the_partner_templates():
    """A text node (or placeholder/title/aria-label/alt) with letters outside {% translate %}
    and {% blocktranslate %} fails here, naming the template and the text."""
    assert partner_templates(), "no partner templates found"
    assert untranslated_in_partner_templates() == {}


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("<p>Hello</p>", ["Hello"]),
        ('<input placeholder="Customer name">', ["Customer name"]),
        ('<img alt="Logo" src="x.svg">', ["Logo"]),
        ('<td>{{ t.last_used_at|default:"never" }}</td>', ["never"]),
        (
            "{% include \"portal/_x.html\" with empty_text='No activity yet.' %}",
            ["No activity yet."],
        ),
        ('<td>{{ t.last_used_at|default:_("never") }}</td>', []),
        ('{% include "portal/_x.html" with empty_text=_("No activity yet.") n=3 %}', []),
        ("{% load i18n %}<p>{% translate 'Hello' %}</p>", []),
        ("<p>{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}</p>", []),
        ("<p>{{ r.customer_name }} · {{ r.currency }}</p>", []),
        ("{# a comment #}<script>const label = 'x';</script>", []),
        ("<footer>Dealbridge</footer>", []),
        ("<p>{% if x %}Yes{% endif %}</p>", ["Yes"]),
    ],
)
def test_the_scanner_finds_unmarked_text(source, found):
    assert untranslated(source) == found


# --- Every catalogue is complete -----------------------------------------------------------


def _entries(lang: str):
    """(flags, msgid, msgid_plural, [msgstr...]) of each entry of a .po file (no header)."""
    text = (LOCALE / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    for block in re.split(r"\n\s*\n", text):
        flags = " ".join(line for line in block.splitlines() if line.startswith("#,"))
        fields = _fields(block)
        if fields is None or fields[0] == "":
            continue
        yield flags, *fields


def _fields(block: str):
    fields: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line)
        if match:
            current = match.group(1)
            fields[current] = ast.literal_eval(match.group(2))
        elif current:
            fields[current] += ast.literal_eval(line)
    if "msgid" not in fields:
        return None
    strs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
    return fields["msgid"], fields.get("msgid_plural"), strs


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(lang):
    count = 0
    problems = []
    for flags, msgid, plural, strs in _entries(lang):
        count += 1
        if "fuzzy" in flags:
            problems.append(f"fuzzy: {msgid!r}")
        if not strs or not all(s.strip() for s in strs):
            problems.append(f"untranslated: {msgid!r}")
            continue
        for index, translated in enumerate(strs):
            source = msgid if (index == 0 or plural is None) else plural
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translated)):
                # Plural forms may drop the count of the singular ("noch %(n)s Tag"), never others.
                if sorted(set(PLACEHOLDER.findall(source))) != sorted(
                    set(PLACEHOLDER.findall(translated))
                ):
                    problems.append(f"placeholders differ: {msgid!r} -> {translated!r}")
            if "<" in source and re.findall(r"</?\w+", source) != re.findall(r"</?\w+", translated):
                problems.append(f"markup differs: {msgid!r} -> {translated!r}")
    assert count > 400, f"{lang}: only {count} messages"
    assert problems == []


_CALL = re.compile(r"\b(n?p?gettext)\(((?:u'(?:[^'\\]|\\.)*'(?:, )?)+)")
_STRING = re.compile(r"u'(?:[^'\\]|\\.)*'")


def test_every_marked_template_string_is_in_the_catalogues():
    """A string marked in a partner template but never extracted (`make messages`) fails here:
    marking alone would leave it English in every language."""
    from django.utils.translation.template import templatize

    catalogue = {msgid for _flags, msgid, _plural, _strs in _entries("de")}
    missing = []
    for path in partner_templates():
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for function, arguments in _CALL.findall(code):
            strings = [ast.literal_eval(literal) for literal in _STRING.findall(arguments)]
            msgid = strings[1] if function.startswith(("pgettext", "npgettext")) else strings[0]
            if msgid not in catalogue:
                missing.append(f"{path.name}: {msgid!r}")
    assert missing == [], "run `make messages` and translate"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_catalogue_is_compiled_and_used(lang):
    with translation.override(lang):
        assert translation.gettext("Register a deal") != "Register a deal"
        assert translation.gettext("This field is required.") != "This field is required."


# --- Pages in German, French and Spanish -----------------------------------------------------


@pytest.fixture
def german_alice(alice):
    alice.language = "de"
    alice.save(update_fields=["language"])
    return alice


def test_the_registration_form_and_list_speak_the_users_language(client, german_alice, product):
    client.force_login(german_alice)
    form = client.get(reverse("registration_create")).content.decode()
    assert '<html lang="de">' in form
    assert "Deal registrieren" in form and "Als Entwurf speichern" in form
    assert "Register a deal" not in form
    factories.make_registration(german_alice, estimated_value=Decimal("125000.50"))
    listing = client.get(reverse("registration_list")).content.decode()
    assert "Meine Registrierungen" in listing
    assert "Eingereicht" in listing  # the status label
    assert "125.001 USD" in listing  # floatformat:"0g" groups with the German separator


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("de", "Dieses Feld ist erforderlich."),
        ("fr", "Ce champ est obligatoire."),
        ("es", "Este campo es obligatorio."),
    ],
)
def test_validation_messages_are_translated(client, alice, product, lang, expected):
    alice.language = lang
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.post(
        reverse("registration_create"), {"customer_name": "", "intent": "submit"}
    )
    assert response.status_code == 400
    assert expected in response.content.decode()


def test_numbers_and_dates_follow_the_language(client, alice, product):
    registration = factories.make_registration(alice, estimated_value=Decimal("125000.50"))
    url = reverse("registration_detail", args=[registration.pk])
    client.force_login(alice)
    english = client.get(url).content.decode()
    assert "125,000.50" in english
    alice.language = "fr"
    alice.save(update_fields=["language"])
    french = client.get(url).content.decode()
    assert "125\u202f000,50" in french or "125 000,50" in french or "125\xa0000,50" in french
    created = registration.created_at.astimezone(dt.UTC)
    with translation.override("fr"):
        # Dates use the language's format: "3 déc. 2026" (French month, no English "Dec").
        expected = date_format(created, translation.gettext("j M Y"))
    assert expected in french and created.strftime("%b %Y") not in french


def test_the_language_cookie_and_accept_language_choose_for_visitors(client):
    page = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Iniciar sesión" in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert "Se connecter" in client.get(reverse("account_login")).content.decode()


def test_the_switcher_saves_the_language_and_returns_safely(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("language_switch"), {"language": "es", "next": reverse("registration_list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("registration_list")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    alice.refresh_from_db()
    assert alice.language == "es"
    assert "Mis registros" in client.get(reverse("registration_list")).content.decode()
    # An outside address is not followed; an unknown language changes nothing.
    response = client.post(
        reverse("language_switch"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    alice.refresh_from_db()
    assert alice.language == "es"


def test_the_switcher_works_for_visitors_with_the_cookie_only(client):
    response = client.post(
        reverse("language_switch"), {"language": "de", "next": "/accounts/login/"}
    )
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert "Anmelden" in client.get("/accounts/login/").content.decode()


def test_the_preferences_page_saves_the_language(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("preferences"),
        {"email": [], "time_zone": "Europe/Berlin", "language": "de"},
        follow=True,
    )
    alice.refresh_from_db()
    assert alice.language == "de" and alice.time_zone == "Europe/Berlin"
    html = response.content.decode()
    assert "Einstellungen gespeichert." in html and 'value="de" lang="de" selected' in html
    response = client.post(reverse("preferences"), {"time_zone": "", "language": "klingon"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.language == "de"


def test_english_stays_the_default(client, alice):
    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()
    assert '<html lang="en">' in html and "Register a deal" in html
