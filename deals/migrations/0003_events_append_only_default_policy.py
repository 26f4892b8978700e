"""Make registration events append-only in the database itself, create policy v1 and the
database cache table."""

from django.core.management import call_command
from django.db import migrations

TABLE = "deals_registrationevent"

PG_FORWARD = f"""
CREATE OR REPLACE FUNCTION prm_refuse_event_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'registration events are append-only (% refused)', TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER prm_event_no_update BEFORE UPDATE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION prm_refuse_event_change();
CREATE TRIGGER prm_event_no_delete BEFORE DELETE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION prm_refuse_event_change();
"""
PG_BACKWARD = f"""
DROP TRIGGER IF EXISTS prm_event_no_update ON {TABLE};
DROP TRIGGER IF EXISTS prm_event_no_delete ON {TABLE};
DROP FUNCTION IF EXISTS prm_refuse_event_change();
"""
# prm_events_locked() is registered on every SQLite connection (deals.apps); it returns 0 only
# inside deals.db.event_purge_allowed(), which the test runner uses to flush tables.
SQLITE_FORWARD = [
    f"""CREATE TRIGGER prm_event_no_update BEFORE UPDATE ON {TABLE}
        WHEN prm_events_locked() BEGIN
        SELECT RAISE(ABORT, 'registration events are append-only (UPDATE refused)'); END;""",
    f"""CREATE TRIGGER prm_event_no_delete BEFORE DELETE ON {TABLE}
        WHEN prm_events_locked() BEGIN
        SELECT RAISE(ABORT, 'registration events are append-only (DELETE refused)'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS prm_event_no_update;",
    "DROP TRIGGER IF EXISTS prm_event_no_delete;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    Policy = apps.get_model("deals", "RulesOfEngagement")
    Policy.objects.get_or_create(version=1, defaults={"change_note": "Default policy"})
    call_command("createcachetable", verbosity=0)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("deals", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
