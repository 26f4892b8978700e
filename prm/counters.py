"""Atomic fixed-window counters in the database: the one place with the counter SQL.

Each hit is ONE statement, so there is no read-modify-write window whatever the backend or
the isolation level:

    INSERT INTO prm_rate_counter (key, count, expires_at) VALUES (k, delta, now + window)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN <row expired> THEN excluded.count ELSE count + excluded.count END,
        expires_at = CASE WHEN <row expired> THEN excluded.expires_at ELSE expires_at END
    RETURNING count

PostgreSQL takes the row lock for the conflicting row, so concurrent upserts of one key queue
and each sees the previous one's result; SQLite (>= 3.35 for RETURNING) runs the statement
under its single write lock. The window runs from the first hit: later hits never move
`expires_at`. Django's DatabaseCache.incr, by contrast, is get + set (two requests can both
read 4 and both write 5), and it restarts the TTL.
"""

from __future__ import annotations

import random
import time

from django.db import connections, router

from prm.models import RateCounter

# Rows whose window ended more than this long ago are deleted now and then (1 hit in 200).
PURGE_AFTER_SECONDS = 3600
PURGE_ONE_IN = 200


def _table_and_connection():
    db = router.db_for_write(RateCounter)
    connection = connections[db]
    return connection.ops.quote_name(RateCounter._meta.db_table), connection


def increment(key: str, window_seconds: float, delta: int = 1) -> int:
    """Add `delta` to the counter `key` (a new window of `window_seconds` if there is no
    live one) and return the new count, atomically."""
    table, connection = _table_and_connection()
    now = time.time()
    sql = (
        f"INSERT INTO {table} (key, count, expires_at) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (key) DO UPDATE SET "
        f"count = CASE WHEN {table}.expires_at <= %s THEN excluded.count "
        f"ELSE {table}.count + excluded.count END, "
        f"expires_at = CASE WHEN {table}.expires_at <= %s THEN excluded.expires_at "
        f"ELSE {table}.expires_at END "
        f"RETURNING count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, delta, now + window_seconds, now, now])
        value = cursor.fetchone()[0]
        if random.random() < 1 / PURGE_ONE_IN:  # noqa: S311 - housekeeping, not security
            cursor.execute(
                f"DELETE FROM {table} WHERE expires_at < %s",  # noqa: S608
                [now - PURGE_AFTER_SECONDS],
            )
    return int(value)


def decrement(key: str) -> int:
    """Take one off a live counter (never below 0); 0 when there is none."""
    table, connection = _table_and_connection()
    sql = (
        f"UPDATE {table} SET count = CASE WHEN count > 0 THEN count - 1 ELSE 0 END "  # noqa: S608
        f"WHERE key = %s AND expires_at > %s RETURNING count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, time.time()])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def delete(key: str) -> None:
    RateCounter.objects.filter(key=key).delete()


def seconds_left(key: str) -> float | None:
    """Seconds until the live window of `key` ends, or None when there is none."""
    row = RateCounter.objects.filter(key=key).values_list("expires_at", flat=True).first()
    if row is None:
        return None
    left = float(row) - time.time()
    return left if left > 0 else None
