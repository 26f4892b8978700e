"""Issue 18 §4 (part): a preferences page for every user — e-mail on/off per notification kind
and the time zone the pages show times in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from deals.models import NotificationKind, NotificationPreference
from deals.notifications.preferences import MANAGER_KINDS, PARTNER_KINDS
from deals.registrations import services
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_partner_turns_off_approval_emails_and_gets_none(
    alice_client, alice, manager, product, mailoutbox, django_capture_on_commit_callbacks
):
    page = alice_client.get(reverse("preferences"))
    text = page.content.decode()
    assert 'value="approved" checked' in text
    assert 'value="sla_overdue"' not in text  # a manager's kind is not offered to a partner
    keep = [k.value for k in PARTNER_KINDS if k != NotificationKind.APPROVED]
    response = alice_client.post(
        reverse("preferences"), {"email": keep, "time_zone": "Europe/Berlin"}, follow=True
    )
    assert "Preferences saved." in response.content.decode()
    assert NotificationPreference.objects.get(user=alice, kind="approved").email_enabled is False
    alice.refresh_from_db()
    assert alice.time_zone == "Europe/Berlin"
    registration = factories.make_registration(alice)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.registration_approve(registration=registration, actor=manager)
    assert not [m for m in mailoutbox if alice.email in m.to]  # no approval e-mail
    assert alice.notifications.filter(kind="approved").exists()  # in-app stays on


def test_pages_show_times_in_the_users_time_zone(alice_client, alice, product):
    registration = factories.make_registration(alice)
    stamp = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)
    type(registration).objects.filter(pk=registration.pk).update(submitted_at=stamp)
    alice_client.post(
        reverse("preferences"),
        {"email": [k.value for k in PARTNER_KINDS], "time_zone": "Asia/Tokyo"},
    )
    page = alice_client.get(reverse("preferences")).content.decode()
    assert "JST" in page  # "It is now …" in the chosen zone
    detail = alice_client.get(reverse("registration_detail", args=[registration.pk]))
    # 22:30 UTC on 1 July is 2 July in Tokyo.
    assert "2 Jul 2026" in detail.content.decode()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"email": ["approved"], "time_zone": "Mars/Olympus"}, "time zone"),
        ({"email": ["not_a_kind"], "time_zone": ""}, "listed kinds"),
        ({"email": ["sla_overdue"], "time_zone": ""}, "listed kinds"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(alice_client, alice, data, field):
    response = alice_client.post(reverse("preferences"), data)
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert field in response.content.decode()
    alice.refresh_from_db()
    assert alice.time_zone == ""
    assert not NotificationPreference.objects.filter(user=alice).exists()


def test_a_manager_sees_the_managers_kinds(manager_client):
    text = manager_client.get(reverse("preferences")).content.decode()
    for kind in MANAGER_KINDS:
        assert f'value="{kind.value}"' in text
    assert 'value="approved"' not in text


def test_the_email_footer_links_to_the_preferences_page():
    from django.template.loader import render_to_string

    text = render_to_string("emails/notification.txt", {"site_url": "https://prm.example"})
    assert "https://prm.example/settings/preferences/" in text
