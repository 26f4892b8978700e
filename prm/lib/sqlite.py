"""The SQLite safeguards, applied to every SQLite configuration however it is spelled
(SQLITE_PATH, DATABASE_URL=sqlite:////abs/path, sqlite:///relative, with or without options).

- transaction_mode=IMMEDIATE: a write transaction takes the write lock at BEGIN, so two
  concurrent writers queue instead of both reading and then failing to upgrade
  ("database is locked" at once, whatever the timeout);
- timeout >= 20 s: how long a writer queues for the lock (SQLite's busy timeout);
- WAL (and synchronous=NORMAL): readers never block the writer and the writer never blocks
  readers.

Pure configuration: imported by prm/settings.py, so nothing here may import Django models.
"""

from __future__ import annotations

SQLITE_ENGINE = "django.db.backends.sqlite3"
BUSY_TIMEOUT_SECONDS = 20
WAL_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"


def is_sqlite(database: dict) -> bool:
    return database.get("ENGINE") == SQLITE_ENGINE


def with_sqlite_safeguards(database: dict) -> dict:
    """`database` (one DATABASES entry) with the safeguards in OPTIONS; others unchanged.

    The transaction mode is always IMMEDIATE (first-come-first-served depends on it); an
    explicit timeout is kept when it is longer than the floor; an explicit init_command is
    kept and the WAL pragmas are added after it unless it sets a journal mode itself."""
    if not is_sqlite(database):
        return database
    options = dict(database.get("OPTIONS") or {})
    options["transaction_mode"] = "IMMEDIATE"
    try:
        timeout = float(options.get("timeout", 0))
    except (TypeError, ValueError):
        timeout = 0
    options["timeout"] = max(timeout, BUSY_TIMEOUT_SECONDS)
    init = str(options.get("init_command") or "").strip()
    if "journal_mode" not in init.lower():
        if init and not init.endswith(";"):
            init += ";"
        init = f"{init} {WAL_PRAGMAS}".strip()
    options["init_command"] = init
    return {**database, "OPTIONS": options}
