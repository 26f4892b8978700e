"""Helpers for the notification tests: who got what, on which channel."""

from __future__ import annotations

import pytest

from deals.models import Notification


def received(user, kind=None, channel=None):
    qs = Notification.objects.filter(recipient=user)
    if kind:
        qs = qs.filter(kind=kind)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


def kinds_for(user, channel="in_app") -> list[str]:
    return sorted(received(user, channel=channel).values_list("kind", flat=True))


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run a block and its after-commit callbacks (eager Celery: e-mails land in mail.outbox)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
