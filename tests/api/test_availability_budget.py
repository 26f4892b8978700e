"""Issue 20 item 2: the availability limit cannot be bypassed by registering.

A submission (or re-submission) tells the partner the same verdict as the availability check,
so it spends the same per-user and per-partner budget, answers the same 429 when it is spent,
and is logged in the same check log. A partner whose withdrawals follow conflicts at an
unusual rate is flagged to its managers (once per period) and in the manager's partner list.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from deals.models import ConflictCheckLog, DealRegistration, Notification
from deals.registrations import services
from tests import factories
from tests.api.conftest import client_for

CHECK_URL = "/api/v1/conflict-check/"
REGISTRATIONS_URL = "/api/v1/registrations/"
WORDS = [
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Monarch",
    "Dunder",
    "Pied Piper",
]
GLOBEX = {
    "customer_name": "Globex Corporation",
    "customer_domain": "globex.com",
    "customer_country": "US",
    "products": ["crm-pro"],
}
# The production budget, stated here so the tests do not depend on the test settings.
BUDGET = {"CONFLICT_CHECK_RATE_USER": "30/m", "CONFLICT_CHECK_RATE_PARTNER": "300/d"}


def _registration(**overrides) -> dict:
    return factories.registration_data(**overrides)


@override_settings(**BUDGET)
def test_a_partner_over_the_check_limit_cannot_learn_the_verdict_by_registering(
    alice, bob, product
):
    """The outside probe: 30 checks, then POST /registrations/ + withdraw gave the verdict."""
    factories.make_registration(
        bob, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    client = client_for(alice)
    statuses = [client.post(CHECK_URL, GLOBEX, format="json").status_code for _ in range(30)]
    assert statuses == [200] * 30
    assert client.post(CHECK_URL, GLOBEX, format="json").status_code == 429

    response = client.post(
        REGISTRATIONS_URL,
        _registration(customer_name="Globex Corporation", customer_domain="globex.com"),
        format="json",
    )
    assert response.status_code == 429, response.content
    # The availability check's 429 contract: the shared error shape, code "throttled".
    body = response.json()
    assert body["code"] == "throttled"
    assert set(body) == {"code", "detail"}
    assert "conflict" not in body["detail"].lower()
    assert not DealRegistration.objects.filter(partner=alice.membership.partner).exists()
    refused = ConflictCheckLog.objects.filter(user=alice, verdict="throttled", source="submit")
    assert refused.count() == 1
    assert refused.get().partner_id == alice.membership.partner_id


@override_settings(**BUDGET)
def test_submissions_spend_the_budget_and_are_logged_as_checks(alice, product):
    client = client_for(alice)
    for _ in range(29):
        assert client.post(CHECK_URL, GLOBEX, format="json").status_code == 200
    created = client.post(REGISTRATIONS_URL, _registration(), format="json")
    assert created.status_code == 201, created.content
    submitted = ConflictCheckLog.objects.get(user=alice, source="submit")
    assert submitted.verdict == "clear"
    assert submitted.partner_id == alice.membership.partner_id
    assert len(submitted.customer_key_hash) == 64
    # The 31st answer of the minute is refused, whichever door it comes through.
    assert client.post(REGISTRATIONS_URL, _registration(), format="json").status_code == 429
    assert client.post(CHECK_URL, GLOBEX, format="json").status_code == 429
    assert DealRegistration.objects.filter(submitted_by=alice).count() == 1
    # A draft tells nothing and spends nothing.
    draft = client.post(REGISTRATIONS_URL, {**_registration(), "draft": True}, format="json")
    assert draft.status_code == 201, draft.content


@override_settings(CONFLICT_CHECK_RATE_USER="2/m", CONFLICT_CHECK_RATE_PARTNER="300/d")
def test_resubmission_and_draft_submission_spend_the_budget(alice, manager, product):
    waiting = factories.make_registration(alice, status="info_requested", manager=manager)
    draft = factories.make_registration(alice, status="draft")
    client = client_for(alice)
    # make_registration spent one submission; the resubmission spends the second.
    assert (
        client.post(f"{REGISTRATIONS_URL}{waiting.pk}/submit/", {}, format="json").status_code
        == 200
    )
    response = client.post(f"{REGISTRATIONS_URL}{draft.pk}/submit/", {}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    draft.refresh_from_db()
    assert draft.status == "draft"
    sources = sorted(ConflictCheckLog.objects.filter(user=alice).values_list("source", "verdict"))
    assert sources == [("resubmit", "clear"), ("submit", "clear"), ("submit", "throttled")]


@override_settings(CONFLICT_CHECK_RATE_USER="30/m", CONFLICT_CHECK_RATE_PARTNER="3/d")
def test_submissions_spend_the_partner_budget(alice, alice_admin, bob, product):
    a, b = client_for(alice), client_for(alice_admin)
    statuses = [
        c.post(REGISTRATIONS_URL, _registration(), format="json").status_code for c in (a, b, a, b)
    ]
    assert statuses == [201, 201, 201, 429]
    # Another partner has its own budget.
    assert (
        client_for(bob).post(REGISTRATIONS_URL, _registration(), format="json").status_code == 201
    )


@override_settings(**BUDGET)
def test_an_honest_partner_is_never_slowed(alice, alice_admin, product):
    """A normal partner: a few checks and a few registrations a day, some withdrawn."""
    for user in (alice, alice_admin):
        client = client_for(user)
        for word in WORDS[:5] if user == alice else WORDS[5:10]:
            assert client.post(CHECK_URL, GLOBEX, format="json").status_code == 200
            data = _registration(customer_name=f"{word} Group", customer_domain=f"{word}.com")
            assert client.post(REGISTRATIONS_URL, data, format="json").status_code == 201
    assert not ConflictCheckLog.objects.filter(verdict="throttled").exists()


@override_settings(CONFLICT_CHECK_RATE_USER="1/m", CONFLICT_CHECK_RATE_PARTNER="300/d")
def test_portal_submission_over_budget_is_a_429_page_not_a_500(client, alice, product):
    client.force_login(alice)
    assert client.post(CHECK_URL, GLOBEX, content_type="application/json").status_code == 200
    response = client.post(reverse("registration_create"), {**_registration(), "intent": "submit"})
    assert response.status_code == 429
    assert "Too many availability checks and submissions" in response.content.decode()
    assert not DealRegistration.objects.exists()


# --- Withdrawals after conflicts ----------------------------------------------------------------


def _probe(prober, competitor, words: list[str]) -> list:
    """Registrations that conflict with the competitor's, each withdrawn at once."""
    withdrawn = []
    for word in words:
        name, domain = f"{word} Industries", f"{word.replace(' ', '')}.com"
        factories.make_registration(competitor, customer_name=name, customer_domain=domain)
        registration = factories.make_registration(
            prober, customer_name=name, customer_domain=domain
        )
        assert registration.conflict_status == "conflict"
        withdrawn.append(services.registration_withdraw(registration=registration, actor=prober))
    return withdrawn


@override_settings(CONFLICT_WITHDRAWAL_ALERT_RATE="3/d", **BUDGET)
@pytest.mark.django_db(transaction=True)
def test_withdrawals_after_conflicts_flag_the_partner_once_per_period(alice, bob, manager, product):
    flagged = Notification.objects.filter(kind="withdrawals_flagged")
    _probe(alice, bob, WORDS[0:2])
    assert not flagged.exists()  # two withdrawals in a day are not unusual
    _probe(alice, bob, WORDS[2:3])
    assert sorted(flagged.values_list("recipient_id", "channel")) == [
        (manager.pk, "email"),
        (manager.pk, "in_app"),
    ]
    note = flagged.get(channel="in_app")
    assert alice.membership.partner.name in note.title
    assert note.url == f"/manage/partners/{alice.membership.partner_id}/"
    assert flagged.get(channel="email").status == "sent"  # delivered once, through the outbox
    # More withdrawals in the same period: never a second notification.
    _probe(alice, bob, WORDS[3:5])
    assert flagged.count() == 2
    # The competitor, whose registrations were never withdrawn, is not flagged.
    assert not flagged.exclude(title__contains=alice.membership.partner.name).exists()


@override_settings(CONFLICT_WITHDRAWAL_ALERT_RATE="3/d", **BUDGET)
def test_clear_withdrawals_do_not_flag(alice, manager, product):
    for _ in range(4):
        registration = factories.make_registration(alice)
        assert registration.conflict_status == "clear"
        services.registration_withdraw(registration=registration, actor=alice)
    assert not Notification.objects.filter(kind="withdrawals_flagged").exists()


@override_settings(CONFLICT_WITHDRAWAL_ALERT_RATE="3/d", **BUDGET)
def test_partner_list_shows_withdrawals_after_conflict(client, alice, bob, manager, product):
    _probe(alice, bob, WORDS[:3])
    client.force_login(manager)
    html = client.get(reverse("manage_partner_list")).content.decode()
    assert "Withdrawn after conflict" in html
    assert "3 · flagged" in html
    partner_b_row = html.split(bob.membership.partner.name, 1)[1].split("</tr>", 1)[0]
    assert "flagged" not in partner_b_row
