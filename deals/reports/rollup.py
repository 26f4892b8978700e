"""The report rollup: deals_reportcell and deals_reporthourscell rows kept by database
triggers (see models.ReportCell and models.ReportHoursCell).

Why triggers and not the services: every write path (services, the admin, bulk SQL in the
benchmarks, a future import) keeps the rollup right by construction, and the triggers only
ever INSERT deltas, so two transactions changing registrations never wait on a shared
counter row (a submit-heavy hour would otherwise serialise on "today's submitted" cell).

Two rollups, both keyed by first-submission day (UTC) and the partner's tier:
- **cells**: + currency, status, rejection reason and five flags (decided, approved at some
  point, decided after the SLA, extended, co-sell); values n, sum of estimated values, sum of
  actual values and how many actual values there are ("no value" stays distinct from 0).
- **hours cells**: + an 8-business-hour bucket of the time to decision; value n. The summary
  finds the bucket holding each percentile's rank here, then reads the exact value from the
  registrations' decision-hours index within that bucket (deals.reports).

- PostgreSQL: row-level triggers (a plain INSERT per rollup and changed row: cheap to plan
  and run inside a submit; statement-level triggers with transition tables were measured
  slower for single-row writes, ~20 ms to plan per session). An UPDATE that changes no watched
  column does not call the function (the WHEN clause is checked in C). The partner row is
  locked FOR SHARE while its tier is read, so a concurrent tier change of the same partner is
  serialised with it (both orders add up).
- SQLite: row-level triggers too; one writer at a time. SQLite
  drops a table's triggers when a migration rebuilds the table, so they are installed after
  every `migrate` (deals.apps) rather than by the migration, from the migration's frozen text.
- Installed definitions are frozen text in the migrations (FROZEN_TRIGGERS below); the
  generator here must keep producing exactly that text (tests/reports/test_trigger_definitions.py,
  `manage.py report_cells --check-triggers`).
- A partner's tier change moves its registrations' contribution from the old tier to the new.

`report_cells_compact()` folds deltas into one row per key (periodic job and after bulk
loads); `report_cells_rebuild()` recomputes everything from the registrations (migration,
`manage.py report_cells --rebuild`); `report_cells_differences()` checks them (`--check`).
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, connections, transaction
from django.db.migrations.recorder import MigrationRecorder

REGISTRATIONS = "deals_dealregistration"
PARTNERS = "partners_partner"
HOURS_BUCKET = 8  # business hours per histogram bucket: a power of two, so x / 8 is exact

# Registration columns the rollups are computed from: a change elsewhere writes nothing.
WATCHED = (
    "partner_id",
    "first_submitted_at",
    "currency",
    "status",
    "rejection_reason",
    "decided_at",
    "decision_hours",
    "approved_at",
    "sla_due_at",
    "extensions_used",
    "co_sell",
    "estimated_value",
    "actual_value",
)


@dataclass(frozen=True)
class Rollup:
    table: str
    key: tuple[str, ...]
    values: tuple[str, ...]
    hours: bool  # only registrations with a time to decision

    @property
    def columns(self) -> str:
        return ", ".join(self.key + self.values)

    def contribution(self, row: str, tier: str, sign: str, vendor: str) -> str:
        """Select-list of one registration's contribution (`row`: an alias, NEW or OLD)."""
        if vendor == "postgresql":
            day = f"({row}.first_submitted_at AT TIME ZONE 'UTC')::date"
        else:
            day = f"date({row}.first_submitted_at)"
        common = f"{day} AS day, {tier} AS tier_id"
        if self.hours:
            if vendor == "postgresql":
                bucket = f"floor({row}.decision_hours / {HOURS_BUCKET}.0)::integer"
            else:  # decision_hours >= 0 (a constraint): truncation is floor
                bucket = f"CAST({row}.decision_hours / {HOURS_BUCKET}.0 AS INTEGER)"
            return f"{common}, {bucket} AS bucket, {sign} AS n"
        if vendor == "postgresql":
            late = f"COALESCE({row}.decided_at > {row}.sla_due_at, false)"
            has_actual = f"({row}.actual_value IS NOT NULL)::int"
        else:
            late = f"COALESCE({row}.decided_at > {row}.sla_due_at, 0)"
            has_actual = f"({row}.actual_value IS NOT NULL)"
        return (
            f"{common}, {row}.currency AS currency, {row}.status AS status, "
            f"{row}.rejection_reason AS rejection_reason, "
            f"({row}.decided_at IS NOT NULL) AS decided, "
            f"({row}.approved_at IS NOT NULL) AS approved, {late} AS late, "
            f"({row}.approved_at IS NOT NULL AND {row}.extensions_used > 0) AS extended, "
            f"{row}.co_sell AS co_sell, {sign} AS n, "
            f"{sign} * {row}.estimated_value AS estimated, "
            f"{sign} * COALESCE({row}.actual_value, 0) AS actual, "
            f"{sign} * {has_actual} AS actual_n"
        )

    def condition(self, row: str) -> str:
        where = f"{row}.first_submitted_at IS NOT NULL"
        return f"{where} AND {row}.decision_hours IS NOT NULL" if self.hours else where

    def grouped(self, changes: str) -> str:
        """Sum a set of contributions per key, dropping keys whose deltas cancel out."""
        key = ", ".join(self.key)
        sums = ", ".join(f"SUM({v})" for v in self.values)
        nonzero = " OR ".join(f"SUM({v}) <> 0" for v in self.values)
        return f"SELECT {key}, {sums} FROM ({changes}) c GROUP BY {key} HAVING {nonzero}"

    def insert(self, changes: str) -> str:
        return f"INSERT INTO {self.table} ({self.columns}) {self.grouped(changes)}"

    def from_rows(self, rows: str, sign: str, vendor: str) -> str:
        return (
            f"SELECT {self.contribution('r', 'p.tier_id', sign, vendor)} "
            f"FROM {rows} r JOIN {PARTNERS} p ON p.id = r.partner_id "
            f"WHERE {self.condition('r')}"
        )

    def partner_moved(self, vendor: str) -> str:
        """A partner's registrations leave OLD.tier_id and join NEW.tier_id."""
        where = f"FROM {REGISTRATIONS} r WHERE r.partner_id = NEW.id AND {self.condition('r')}"
        old = self.contribution("r", "OLD.tier_id", "-1", vendor)
        new = self.contribution("r", "NEW.tier_id", "1", vendor)
        return self.insert(f"SELECT {old} {where} UNION ALL SELECT {new} {where}")


FLAGS = {"decided", "approved", "late", "extended", "co_sell"}
CELLS = Rollup(
    table="deals_reportcell",
    key=(
        "day",
        "tier_id",
        "currency",
        "status",
        "rejection_reason",
        "decided",
        "approved",
        "late",
        "extended",
        "co_sell",
    ),
    values=("n", "estimated", "actual", "actual_n"),
    hours=False,
)
HOURS = Rollup(
    table="deals_reporthourscell",
    key=("day", "tier_id", "bucket"),
    values=("n",),
    hours=True,
)
ROLLUPS = (CELLS, HOURS)


# --- Triggers -----------------------------------------------------------------------------------


def _pg_forward() -> str:
    pg = "postgresql"

    def one(row: str, sign: str) -> str:
        # The partner row is share-locked while its tier is read: a concurrent tier change
        # (which moves the partner's cells) then runs wholly before or after this row's delta.
        inserts = " ".join(
            f"INSERT INTO {r.table} ({r.columns}) "
            f"SELECT {r.contribution(row, 'tier', sign, pg)} WHERE {r.condition(row)};"
            for r in ROLLUPS
        )
        return (
            f"IF {row}.first_submitted_at IS NOT NULL THEN "
            f"SELECT tier_id INTO tier FROM {PARTNERS} WHERE id = {row}.partner_id FOR SHARE; "
            f"{inserts} END IF;"
        )

    def each(make) -> str:
        return "\n    ".join(f"{make(rollup)};" for rollup in ROLLUPS)

    old_watched = ", ".join(f"OLD.{c}" for c in WATCHED)
    new_watched = ", ".join(f"NEW.{c}" for c in WATCHED)
    return f"""
CREATE OR REPLACE FUNCTION prm_report_cells_registration() RETURNS trigger AS $$
DECLARE
  tier bigint;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {one("OLD", "-1")}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {one("NEW", "1")}
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER prm_report_cells_insert AFTER INSERT OR DELETE ON {REGISTRATIONS}
  FOR EACH ROW EXECUTE FUNCTION prm_report_cells_registration();
-- Only when a column the reports read changed (checked in C, before any function call).
CREATE TRIGGER prm_report_cells_update AFTER UPDATE ON {REGISTRATIONS}
  FOR EACH ROW WHEN (({old_watched}) IS DISTINCT FROM ({new_watched}))
  EXECUTE FUNCTION prm_report_cells_registration();

CREATE OR REPLACE FUNCTION prm_report_cells_tier() RETURNS trigger AS $$
BEGIN
  {each(lambda r: r.partner_moved(pg))}
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER prm_report_cells_tier AFTER UPDATE OF tier_id ON {PARTNERS}
  FOR EACH ROW WHEN (OLD.tier_id IS DISTINCT FROM NEW.tier_id)
  EXECUTE FUNCTION prm_report_cells_tier();
"""


PG_BACKWARD = f"""
DROP TRIGGER IF EXISTS prm_report_cells_insert ON {REGISTRATIONS};
DROP TRIGGER IF EXISTS prm_report_cells_update ON {REGISTRATIONS};
DROP TRIGGER IF EXISTS prm_report_cells_tier ON {PARTNERS};
DROP FUNCTION IF EXISTS prm_report_cells_registration();
DROP FUNCTION IF EXISTS prm_report_cells_tier();
"""


def _sqlite_forward() -> list[str]:
    lite = "sqlite"

    def one(row: str, sign: str) -> str:
        tier = f"(SELECT tier_id FROM {PARTNERS} WHERE id = {row}.partner_id)"
        return " ".join(
            f"INSERT INTO {r.table} ({r.columns}) "
            f"SELECT {r.contribution(row, tier, sign, lite)} WHERE {r.condition(row)};"
            for r in ROLLUPS
        )

    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    moved = " ".join(f"{r.partner_moved(lite)};" for r in ROLLUPS)
    return [
        f"CREATE TRIGGER prm_report_cells_insert AFTER INSERT ON {REGISTRATIONS} "
        f"BEGIN {one('NEW', '1')} END;",
        f"CREATE TRIGGER prm_report_cells_update AFTER UPDATE ON {REGISTRATIONS} "
        f"WHEN {changed} BEGIN {one('OLD', '-1')} {one('NEW', '1')} END;",
        f"CREATE TRIGGER prm_report_cells_delete AFTER DELETE ON {REGISTRATIONS} "
        f"BEGIN {one('OLD', '-1')} END;",
        f"CREATE TRIGGER prm_report_cells_tier AFTER UPDATE OF tier_id ON {PARTNERS} "
        f"WHEN OLD.tier_id IS NOT NEW.tier_id BEGIN {moved} END;",
    ]


SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in (
        "prm_report_cells_insert",
        "prm_report_cells_update",
        "prm_report_cells_delete",
        "prm_report_cells_tier",
    )
]


# --- Installed triggers: frozen text, one module per migration that installs it -------------

# The text the database holds comes from the migrations, never from the generator above:
# (migration, frozen module), oldest first. A change to the generator ships as a new
# deals/migrations/_rollup_sql_NNNN.py (written once from the generator, never edited), a
# migration NNNN that installs it, and a line here. tests/reports/test_trigger_definitions.py
# fails until all three exist: it compares the installed definitions with the generator's.
FROZEN_TRIGGERS = (("0006_report_cells", "deals.migrations._rollup_sql_0006"),)


def frozen_triggers(using: str = "default"):
    """The frozen SQL module of the latest trigger migration applied on `using` (None before
    the rollup existed)."""
    applied = MigrationRecorder(connections[using]).applied_migrations()
    for name, module in reversed(FROZEN_TRIGGERS):
        if ("deals", name) in applied:
            return importlib.import_module(module)
    return None


def sqlite_triggers_before_migrate(using="default", **kwargs) -> None:
    if connections[using].vendor != "sqlite":
        return
    frozen = frozen_triggers(using)
    if frozen is None:
        return
    with connections[using].cursor() as cursor:
        for statement in frozen.SQLITE_BACKWARD:
            cursor.execute(statement)


def sqlite_triggers_after_migrate(using="default", **kwargs) -> None:
    """(Re)install the SQLite triggers of the latest applied trigger migration, from its frozen
    text, and recompute the rollups (writes made while the triggers were off are counted; a
    few seconds at a million registrations)."""
    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    frozen = frozen_triggers(using)
    if frozen is None:
        return  # migrated back before the rollup existed
    with transaction.atomic(using=using), conn.cursor() as cursor:
        for statement in (*frozen.SQLITE_BACKWARD, *frozen.SQLITE_FORWARD, *frozen.SQLITE_REBUILD):
            cursor.execute(statement)


def triggers_installed(using: str = "default") -> dict[str, str]:
    """{name: definition} of the rollup's triggers and trigger functions as the database holds
    them: pg_get_triggerdef and pg_get_functiondef on PostgreSQL (normalised by the server),
    the stored CREATE TRIGGER text on SQLite."""
    conn = connections[using]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "WHERE NOT t.tgisinternal AND t.tgname LIKE 'prm\\_report\\_cells%'"
            )
            found = {f"trigger {name}": definition for name, definition in cursor.fetchall()}
            cursor.execute(
                "SELECT p.proname, p.prosrc, pg_get_functiondef(p.oid) FROM pg_proc p "
                "WHERE p.proname LIKE 'prm\\_report\\_cells%'"
            )
            for name, source, definition in cursor.fetchall():
                found[f"function {name}"] = definition
                found[f"source {name}"] = source
            return found
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'prm\\_report\\_cells%' ESCAPE '\\'"
        )
        return {f"trigger {name}": sql for name, sql in cursor.fetchall()}


def triggers_generated(using: str = "default") -> dict[str, str]:
    """What the generator above would install, read back the same way as triggers_installed:
    the installed triggers are swapped for the generated ones inside a savepoint that is
    always rolled back (on PostgreSQL this briefly locks the registrations and partners)."""
    conn = connections[using]

    class _Undo(Exception):
        pass

    generated: dict[str, str] = {}
    try:
        with transaction.atomic(using=using), conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                cursor.execute(PG_BACKWARD)
                cursor.execute(_pg_forward())
            else:
                for statement in (*SQLITE_BACKWARD, *_sqlite_forward()):
                    cursor.execute(statement)
            generated = triggers_installed(using)
            raise _Undo
    except _Undo:
        pass
    return generated


def triggers_differences(using: str = "default") -> list[str]:
    """Names of the triggers and functions whose installed definition is not the generator's
    (a change to deals.reports.rollup shipped without its migration, or a database altered by hand)."""
    installed, generated = triggers_installed(using), triggers_generated(using)
    return sorted(
        name
        for name in set(installed) | set(generated)
        if installed.get(name) != generated.get(name)
    )


# --- Maintenance --------------------------------------------------------------------------------


def report_cells_compact() -> int:
    """Fold the delta rows into one row per key; returns the number of cell rows afterwards.

    PostgreSQL: one statement per rollup (DELETE ... RETURNING feeding the INSERT), so a delta
    committed while it runs is either folded or left for next time, never lost or counted
    twice. SQLite: the write lock makes the statements atomic."""
    with transaction.atomic(), connection.cursor() as cursor:
        for r in ROLLUPS:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH moved AS (DELETE FROM {r.table} RETURNING {r.columns}) "  # noqa: S608
                    + r.insert("SELECT * FROM moved")
                )
            else:
                cursor.execute(f"SELECT MAX(id) FROM {r.table}")  # noqa: S608
                (last,) = cursor.fetchone()
                if last is not None:
                    cursor.execute(
                        r.insert(f"SELECT {r.columns} FROM {r.table} WHERE id <= %s"), [last]
                    )
                    cursor.execute(f"DELETE FROM {r.table} WHERE id <= %s", [last])  # noqa: S608
        cursor.execute(f"SELECT COUNT(*) FROM {CELLS.table}")  # noqa: S608
        return cursor.fetchone()[0]


def report_cells_rebuild(using: str = "default") -> int:
    """Recompute every cell from the registrations (after a restore or a manual SQL fix)."""
    conn = connections[using]
    with transaction.atomic(using=using), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            # Block writers of registrations and tiers while the tables are rebuilt.
            cursor.execute(f"LOCK TABLE {REGISTRATIONS}, {PARTNERS} IN SHARE MODE")
        for r in ROLLUPS:
            cursor.execute(f"DELETE FROM {r.table}")  # noqa: S608
            cursor.execute(r.insert(r.from_rows(REGISTRATIONS, "1", conn.vendor)))
        cursor.execute(f"SELECT COUNT(*) FROM {CELLS.table}")  # noqa: S608
        return cursor.fetchone()[0]


def _summed(rollup: Rollup, source: str) -> dict[tuple, tuple]:
    """{(rollup, key): values} of a rollup-shaped SELECT, all-zero keys left out."""
    cent = Decimal("0.01")
    key = ", ".join(rollup.key)
    sums = ", ".join(f"SUM({v})" for v in rollup.values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, {sums} FROM ({source}) c GROUP BY {key}")  # noqa: S608
        rows = cursor.fetchall()
    width = len(rollup.key)
    result = {}
    for row in rows:
        # Same key whatever the backend returns: dates as ISO text, flags (SQLite 0/1) as bools.
        key_values = [
            str(v.isoformat() if isinstance(v, dt.date) else v)
            if name == "day"
            else (bool(v) if name in FLAGS else v)
            for name, v in zip(rollup.key, row[:width], strict=True)
        ]
        values = tuple(
            Decimal(str(v)).quantize(cent) if name in ("estimated", "actual") else int(v)
            for name, v in zip(rollup.values, row[width:], strict=True)
        )
        if any(values):
            result[(rollup.table, *key_values)] = values
    return result


def report_cells_stored() -> dict[tuple, tuple]:
    result = {}
    for r in ROLLUPS:
        result.update(_summed(r, f"SELECT {r.columns} FROM {r.table}"))  # noqa: S608
    return result


def report_cells_expected() -> dict[tuple, tuple]:
    """What the cells must add up to, recomputed from the registrations."""
    result = {}
    for r in ROLLUPS:
        result.update(_summed(r, r.from_rows(REGISTRATIONS, "1", connection.vendor)))
    return result


def report_cells_differences() -> list[tuple]:
    """[(key, stored, expected)] for every key where the cells and the registrations differ."""
    stored, expected = report_cells_stored(), report_cells_expected()
    return [
        (key, stored.get(key), expected.get(key))
        for key in sorted(set(stored) | set(expected), key=repr)
        if stored.get(key) != expected.get(key)
    ]
