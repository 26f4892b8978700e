"""Plain SQL of the conflict engine and the identity index. One module, read it whole.

Everything else in conflicts/ goes through the ORM; these statements are here because
the ORM cannot say them (advisory locks, an upsert that adds to a counter) or because the
conflict check runs them on every keystroke-debounced availability check and compiling them
through the ORM cost more than running them (issue 15):

- ``candidate_rows``: PostgreSQL's candidate fetch, every probe in one round trip;
- ``key_frequencies``: PostgreSQL's read of the probe's key frequencies;
- ``lock_all`` / ``begin_bulk``: PostgreSQL's first-come-first-served advisory locks on an
  identity's keys, and the one lock a bulk writer takes instead;
- ``adjust_frequencies``: the key-frequency counters, on both backends.

Rules: table and column names come from the models' metadata, never from input; every value
is a bound parameter (lists as arrays), so each statement's text depends only on which probes
apply and PostgreSQL prepares it once per connection (prm.settings). No tenant data is read
here: the index has no tenant scope of its own (the engine reports matches to deals, which
decides what a caller may see).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from django.db import connection

from conflicts.models import CandidateKey, IdentityEntry, KeyFrequency

# The candidate columns, in conflicts.engine.Candidate's order; `since` (the last) as exact
# integer microseconds since the epoch (parsing a timestamp text per candidate was a fifth of
# the check's Python time).
CANDIDATE_COLUMNS = (
    "id",
    "kind",
    "record_id",
    "partner_id",
    "label",
    "name_norm",
    "domain",
    "email_domain",
    "country",
    "location",
    "product_lines",
    "since",
)
# One row of candidate_rows: the columns above, `since` as integer microseconds.
CandidateRow = tuple[int, str, int, int | None, str, str, str, str, str, str, str, int]
_SELECT = ", ".join([*CANDIDATE_COLUMNS[:-1], "(EXTRACT(EPOCH FROM since) * 1000000)::int8"])


def candidate_rows(
    *,
    domains: list[str],
    name_key: str,
    mode: str,
    keys: list[str],
    cap: int,
    now: dt.datetime,
) -> list[CandidateRow]:
    """PostgreSQL: the active index entries found by any probe — website or e-mail domain in
    `domains`, the exact `name_key`, and the blocking-key postings of `keys` (`mode` "rare":
    any of them; "and": at least two) — each probe capped at `cap` and on its own index,
    combined as `id IN (probe UNION probe ...)`. Rows in CANDIDATE_COLUMNS order."""
    entries = IdentityEntry._meta.db_table
    postings = CandidateKey._meta.db_table
    cap = int(cap)
    probes: list[str] = []
    params: list[str | list[str] | dt.datetime] = []
    if domains:
        probes.append(f"(SELECT id FROM {entries} WHERE domain = ANY(%s) LIMIT {cap})")
        probes.append(f"(SELECT id FROM {entries} WHERE email_domain = ANY(%s) LIMIT {cap})")
        params += [domains, domains]
    if name_key:
        probes.append(f"(SELECT id FROM {entries} WHERE name_key = %s LIMIT {cap})")
        params.append(name_key)
    if mode == "rare" and keys:
        probes.append(f"(SELECT DISTINCT entry_id FROM {postings} WHERE key = ANY(%s) LIMIT {cap})")
        params.append(keys)
    elif mode == "and" and keys:
        probes.append(
            f"(SELECT entry_id FROM {postings} WHERE key = ANY(%s) "
            f"GROUP BY entry_id HAVING COUNT(id) >= 2 LIMIT {cap})"
        )
        params.append(keys)
    if not probes:
        return []
    sql = (
        f"SELECT {_SELECT} FROM {entries} "  # noqa: S608 - names from the models' metadata
        f"WHERE id IN ({' UNION '.join(probes)}) "
        "AND active AND (active_until IS NULL OR active_until > %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now])
        return cursor.fetchall()


def key_frequencies(keys: list[str]) -> list[tuple[int, str]]:
    """PostgreSQL: (df, key) of the keys that occur (the ORM built and compiled an IN list of
    ~30 keys on every check)."""
    table = KeyFrequency._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT df, key FROM {table} WHERE key = ANY(%s) AND df > 0",  # noqa: S608
            [keys],
        )
        return cursor.fetchall()


def lock_all(lock_ids: list[int], *, shared: int) -> None:
    """PostgreSQL: the advisory lock `shared` in shared mode, then transaction-scoped advisory
    locks on every id, taken in ascending order (no deadlock between two writers), all held
    until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [shared])
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS ordered_keys",
            [sorted(lock_ids)],
        )


def begin_bulk(lock_id: int) -> None:
    """PostgreSQL: one transaction-scoped advisory lock in exclusive mode, and custom plans for
    the rest of the transaction. A batch's statements have the same text every batch, so the
    connection prepares them and PostgreSQL soon settles on one generic plan, made while the
    tables were small (a first sync into a new install): a sequential scan testing each row
    against the whole IN list, 33 ms a batch at 30,000 opportunities and growing. Planned
    with the batch's own values, each takes its index (~0.2 ms of planning a statement)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")


def adjust_frequencies(deltas: Mapping[str, int]) -> None:
    """Add each key's change to its document frequency, in at most two statements whatever
    the count: the keys that gain (new keys start at their gain) and the keys that lose. The
    lists travel as one parameter each (PostgreSQL arrays, a JSON text on SQLite), and rows are
    locked in key order (no deadlock between two writers)."""
    gains = sorted((key, delta) for key, delta in deltas.items() if delta > 0)
    losses = sorted((key, delta) for key, delta in deltas.items() if delta < 0)
    table = KeyFrequency._meta.db_table
    with connection.cursor() as cursor:
        for changes, upsert in ((gains, True), (losses, False)):
            if not changes:
                continue
            if connection.vendor == "postgresql":
                rows = "SELECT k, d FROM unnest(%s::varchar[], %s::int[]) AS v(k, d) ORDER BY k"
                params: list = [[k for k, _ in changes], [d for _, d in changes]]
            else:
                rows = (
                    "SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS d "
                    "FROM json_each(%s) WHERE true ORDER BY k"
                )
                params = [json.dumps(changes)]
            if upsert:
                cursor.execute(
                    f"INSERT INTO {table} (key, df) {rows} "  # noqa: S608 - fixed names
                    f"ON CONFLICT (key) DO UPDATE SET df = {table}.df + excluded.df",
                    params,
                )
            else:
                cursor.execute(
                    f"UPDATE {table} SET df = {table}.df + v.d FROM ({rows}) AS v "  # noqa: S608
                    f"WHERE {table}.key = v.k",
                    params,
                )
