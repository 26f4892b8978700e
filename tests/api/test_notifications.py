"""Notifications: list (?unread=true), read, read-all; only the recipient's own."""

from __future__ import annotations

import itertools

from deals.models import Notification

_n = itertools.count(1)


def notify(user, **extra):
    return Notification.objects.create(
        recipient=user,
        kind="approved",
        channel="in_app",
        dedupe_key=f"test:{next(_n)}",
        title="Registration approved",
        body="Your registration was approved.",
        **extra,
    )


def test_list_read_and_read_all(as_alice, alice, bob):
    first, second, third = notify(alice), notify(alice), notify(alice)
    notify(bob)
    Notification.objects.create(
        recipient=alice, kind="approved", channel="email", dedupe_key="mail:1", title="mail"
    )
    body = as_alice.get("/api/v1/notifications/").json()
    assert body["count"] == 3
    assert [n["id"] for n in body["results"]] == [third.pk, second.pk, first.pk]
    assert body["results"][0]["read"] is False
    response = as_alice.post(f"/api/v1/notifications/{first.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read"] is True
    assert [
        n["id"]
        for n in as_alice.get("/api/v1/notifications/", {"unread": "true"}).json()["results"]
    ] == [third.pk, second.pk]
    assert as_alice.post("/api/v1/notifications/read-all/").json() == {"updated": 2}
    assert as_alice.get("/api/v1/notifications/", {"unread": "true"}).json()["count"] == 0


def test_foreign_notification_is_404_and_untouched(as_alice, bob):
    theirs = notify(bob)
    foreign = as_alice.post(f"/api/v1/notifications/{theirs.pk}/read/")
    missing = as_alice.post("/api/v1/notifications/99999999/read/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    as_alice.post("/api/v1/notifications/read-all/")
    assert Notification.objects.get(pk=theirs.pk).read_at is None
