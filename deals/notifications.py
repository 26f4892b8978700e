"""The notification outbox. `notifications_for_event` is called by every event write, inside
the same transaction, and decides who hears about it (owned by the notifications work)."""

from __future__ import annotations


def notifications_for_event(event) -> None:
    """Write outbox rows for `event` (placeholder until the notifications module lands)."""
    return None
