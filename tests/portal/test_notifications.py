"""The notifications bell and page: unread count for every user, mark read / mark all read."""

from __future__ import annotations

from django.urls import reverse

from deals.models import Notification


def _notify(user, n, **extra):
    return [
        Notification.objects.create(
            recipient=user,
            kind="approved",
            channel="in_app",
            dedupe_key=f"t-{user.pk}-{i}",
            title=f"Note {i}",
            **extra,
        )
        for i in range(n)
    ]


def test_bell_shows_unread_count(alice_client, alice):
    _notify(alice, 3)
    Notification.objects.create(
        recipient=alice, kind="approved", channel="email", dedupe_key="mail", title="Mail"
    )
    html = alice_client.get(reverse("registration_list")).content.decode()
    assert 'data-testid="unread-count">3<' in html


def test_page_lists_and_marks_read(alice_client, alice):
    first, second = _notify(alice, 2)
    response = alice_client.get(reverse("notification_list"))
    assert len(response.context["page"].object_list) == 2
    alice_client.post(reverse("notification_read", args=[first.pk]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    unread = alice_client.get(reverse("notification_list"), {"unread": "true"})
    assert [n.pk for n in unread.context["page"].object_list] == [second.pk]


def test_mark_all_read(alice_client, alice, bob):
    _notify(alice, 2)
    (theirs,) = _notify(bob, 1)
    response = alice_client.post(reverse("notification_read_all"), follow=True)
    assert "2 notifications marked as read." in response.content.decode()
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_open_goes_to_the_registration(client, alice, manager, alice_registration):
    (mine,) = _notify(alice, 1, registration=alice_registration)
    client.force_login(alice)
    response = client.post(reverse("notification_read", args=[mine.pk]), {"next": "open"})
    assert response["Location"] == reverse("registration_detail", args=[alice_registration.pk])
    (theirs,) = _notify(manager, 1, registration=alice_registration)
    client.force_login(manager)
    response = client.post(reverse("notification_read", args=[theirs.pk]), {"next": "open"})
    assert response["Location"] == reverse("manage_registration", args=[alice_registration.pk])


def test_empty_state(alice_client):
    assert "No notifications yet" in alice_client.get(reverse("notification_list")).content.decode()


def test_mark_read_needs_post(alice_client, alice):
    (mine,) = _notify(alice, 1)
    assert alice_client.get(reverse("notification_read", args=[mine.pk])).status_code == 405
    assert alice_client.get(reverse("notification_read_all")).status_code == 405
