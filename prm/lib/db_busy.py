"""Recognising a database that is busy rather than broken, so the request is answered 503
with Retry-After (try again in a moment) instead of 500.

- SQLite: "database is locked" / "database table is locked" once the busy timeout (20 s,
  prm/lib/sqlite.py) has passed without the write lock;
- PostgreSQL: lock_timeout (55P03 lock_not_available), serialization failure (40001) and
  deadlock detected (40P01), should a deployment set lock_timeout or SERIALIZABLE.

Used by the API's exception handler (prm/api.py), the page middleware
(prm.middleware.DatabaseBusyMiddleware) and the 500 handler (prm/views.py).
"""

from __future__ import annotations

from django.db import DatabaseError, OperationalError

RETRY_AFTER_SECONDS = 2
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
BUSY_DETAIL = "The service is busy; please retry in a moment."


def is_database_busy(exc: BaseException | None) -> bool:
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__ or exc.__context__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in BUSY_SQLSTATES:
        return True
    if isinstance(exc, OperationalError):
        text = str(exc).lower()
        return any(marker in text for marker in _SQLITE_BUSY)
    return False
