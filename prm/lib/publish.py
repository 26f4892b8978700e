"""Publishing background work after commit without ever failing the caller.

The rows to work on (notifications, webhook deliveries) are already committed, so a broker
outage must not raise: the rows stay pending and each app's periodic drain picks them up. After
a failure, publishing pauses for settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS so a down broker
is not retried on every request. In eager mode (tests) tasks run inline and errors surface."""

from __future__ import annotations

import logging
import time

from django.conf import settings

logger = logging.getLogger("prm.publish")


class Publisher:
    """One per kind of work (its own pause): `publish(ids)` queues `task` once per id."""

    def __init__(self, task, what: str):
        self.task, self.what = task, what
        self.paused_until = 0.0

    def publish(self, ids: list[int]) -> int:
        """Queue a task per id; returns how many were queued (0 while paused or on failure)."""
        from prm.celery import app

        if app.conf.task_always_eager:
            for pk in ids:
                self.task.apply_async((pk,))
            return len(ids)
        if time.monotonic() < self.paused_until:
            return 0
        published = 0
        try:
            for pk in ids:
                self.task.apply_async((pk,), retry=False)
                published += 1
        except Exception:  # kombu OperationalError, socket errors, anything from the transport
            self.paused_until = time.monotonic() + settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS
            logger.warning(
                "Broker unreachable: %d %s left for the drain.",
                len(ids) - published,
                self.what,
                exc_info=True,
            )
        return published
