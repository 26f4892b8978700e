"""The rollup triggers the database holds are the ones the code generates (issue 13 §3).

The migrations install frozen text (deals/migrations/_rollup_sql_NNNN.py), never the live
generator in deals.reports.rollup, so a fresh database and an old one hold the same definitions. These
tests read the definitions back from the database (pg_trigger / pg_get_triggerdef / pg_proc on
PostgreSQL, sqlite_master on SQLite) and compare them with what deals.reports.rollup generates today:
a change to the generator that is not shipped as a frozen module + migration fails here."""

from __future__ import annotations

import ast
import hashlib
import importlib
import io
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase

from deals.reports import rollup

MIGRATIONS = Path(importlib.import_module("deals.migrations").__file__).resolve().parent
TRIGGERS = {
    "postgresql": {"prm_report_cells_insert", "prm_report_cells_update", "prm_report_cells_tier"},
    "sqlite": {
        "prm_report_cells_insert",
        "prm_report_cells_update",
        "prm_report_cells_delete",
        "prm_report_cells_tier",
    },
}
# Frozen modules are written once and never edited: their text is what databases hold.
FROZEN_DIGESTS = {
    "deals.migrations._rollup_sql_0006": (
        "941a9ab1159cb9d94c29da33cb807cf76f253a49692be04d7db66f7e523128d7"
    ),
}


def _digest(module) -> str:
    texts = [module.PG_FORWARD, module.PG_BACKWARD]
    for name in ("SQLITE_FORWARD", "SQLITE_BACKWARD", "PG_REBUILD", "SQLITE_REBUILD"):
        texts.extend(getattr(module, name))
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def _latest_frozen():
    return importlib.import_module(rollup.FROZEN_TRIGGERS[-1][1])


class InstalledTriggersTests(TestCase):
    def test_the_database_holds_every_rollup_trigger(self):
        installed = rollup.triggers_installed()
        names = {key.split(" ", 1)[1] for key in installed if key.startswith("trigger ")}
        self.assertEqual(names, TRIGGERS[connection.vendor])
        if connection.vendor == "postgresql":
            self.assertIn("source prm_report_cells_registration", installed)
            self.assertIn("source prm_report_cells_tier", installed)

    def test_installed_definitions_equal_the_generated_ones(self):
        self.assertEqual(rollup.triggers_differences(), [])
        call_command("report_cells", "--check-triggers", stdout=io.StringIO())

    def test_a_generator_change_without_a_migration_fails_the_comparison(self):
        # e.g. a new column the reports read, added to WATCHED but not shipped as a migration
        watched = tuple(c for c in rollup.WATCHED if c != "co_sell")
        with mock.patch.object(rollup, "WATCHED", watched):
            differences = rollup.triggers_differences()
            with self.assertRaises(CommandError):
                call_command("report_cells", "--check-triggers", stdout=io.StringIO())
        self.assertTrue(any("prm_report_cells_update" in name for name in differences))
        # The comparison itself changed nothing: the installed triggers are still the frozen ones.
        self.assertEqual(rollup.triggers_differences(), [])

    def test_a_database_trigger_altered_by_hand_fails_the_comparison(self):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP TRIGGER prm_report_cells_tier ON partners_partner")
            else:
                cursor.execute("DROP TRIGGER prm_report_cells_tier")
        self.assertEqual(rollup.triggers_differences(), ["trigger prm_report_cells_tier"])

    def test_reinstall_after_migrate_uses_the_frozen_text_not_the_generator(self):
        before = rollup.triggers_installed()
        watched = tuple(c for c in rollup.WATCHED if c != "co_sell")
        with mock.patch.object(rollup, "WATCHED", watched):
            rollup.sqlite_triggers_before_migrate()
            rollup.sqlite_triggers_after_migrate()  # what deals.apps runs after `migrate`
        self.assertEqual(rollup.triggers_installed(), before)
        self.assertEqual(rollup.report_cells_differences(), [])


class FrozenTextTests(TestCase):
    def test_the_latest_frozen_text_is_what_the_generator_produces(self):
        frozen = _latest_frozen()
        self.assertEqual(frozen.PG_FORWARD, rollup._pg_forward())
        self.assertEqual(frozen.PG_BACKWARD, rollup.PG_BACKWARD)
        self.assertEqual(list(frozen.SQLITE_FORWARD), rollup._sqlite_forward())
        self.assertEqual(list(frozen.SQLITE_BACKWARD), rollup.SQLITE_BACKWARD)
        for vendor, rebuild in (
            ("postgresql", frozen.PG_REBUILD),
            ("sqlite", frozen.SQLITE_REBUILD),
        ):
            generated = [
                statement
                for r in rollup.ROLLUPS
                for statement in (
                    f"DELETE FROM {r.table}",
                    r.insert(r.from_rows(rollup.REGISTRATIONS, "1", vendor)),
                )
            ]
            self.assertEqual([s for s in rebuild if not s.startswith("LOCK")], generated)

    def test_frozen_modules_are_never_edited(self):
        self.assertEqual({module for _, module in rollup.FROZEN_TRIGGERS}, set(FROZEN_DIGESTS))
        for module, digest in FROZEN_DIGESTS.items():
            self.assertEqual(_digest(importlib.import_module(module)), digest, module)

    def test_migrations_import_no_live_code(self):
        # Django's own modules, the standard library and frozen modules only; 0001 names model
        # default callables (deals.models.default_*), as makemigrations writes them, and the
        # project-clock migration names the clock and its field (prm.lib.time, prm.lib.fields).
        for path in sorted(MIGRATIONS.glob("[0-9]*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    allowed = (
                        name.split(".")[0] in {"django", "datetime"}
                        or name == "deals.migrations"
                        or (path.name == "0001_initial.py" and name == "deals.models")
                        or name in {"prm.lib.time", "prm.lib.fields"}
                    )
                    self.assertTrue(allowed, f"{path.name} imports {name}")
