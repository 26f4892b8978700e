"""SQLite support for the append-only event triggers."""

from __future__ import annotations

import threading
from contextlib import contextmanager

_state = threading.local()


def _events_locked() -> int:
    return 0 if getattr(_state, "purge_allowed", False) else 1


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "prm_events_locked", 0, _events_locked, deterministic=False
        )


@contextmanager
def event_purge_allowed():
    """Only for the test runner's table flush: lets DELETE through the SQLite trigger."""
    _state.purge_allowed = True
    try:
        yield
    finally:
        _state.purge_allowed = False
