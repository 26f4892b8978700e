"""Events: one per change, hash-chained, append-only in the ORM and in the database itself
(AUD-02), and a tampered event is detected by `manage.py verify_events`."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from deals.events import events_verify_all, events_verify_chain
from deals.models import AppendOnlyError, Notification, RegistrationEvent
from deals.registrations import services
from deals.registrations.collaboration import activity_create, comment_create
from deals.registrations.extensions import extension_request_create, extension_request_decide
from tests import factories

TABLE = RegistrationEvent._meta.db_table


def _actions(registration) -> list[str]:
    return list(
        RegistrationEvent.objects.filter(registration=registration)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_one_event_per_change(alice, manager, product):
    registration = factories.make_registration(alice, status="draft")
    assert _actions(registration) == ["created"]
    services.registration_update(
        registration=registration, actor=alice, data={"description": "Pilot first"}
    )
    services.registration_update(  # no change, no event
        registration=registration, actor=alice, data={"description": "Pilot first"}
    )
    services.registration_submit(registration=registration, actor=alice)
    comment_create(registration=registration, actor=alice, body="Budget confirmed.")
    comment_create(registration=registration, actor=manager, body="Check the CFO.", internal=True)
    services.registration_request_info(registration=registration, actor=manager, message="Who?")
    services.registration_submit(registration=registration, actor=alice)
    services.registration_approve(registration=registration, actor=manager)
    activity_create(
        registration=registration,
        actor=alice,
        kind="demo",
        occurred_on=timezone.now().date(),
        summary="Demo for the CFO.",
    )
    request = extension_request_create(registration=registration, actor=alice, reason="Delay.")
    extension_request_decide(request=request, actor=manager, approve=True)
    services.registration_close(
        registration=registration,
        actor=alice,
        outcome="won",
        close_date=timezone.now().date().isoformat(),
    )
    assert _actions(registration) == [
        "created",
        "edited",
        "submitted",
        "commented",
        "internal_note",
        "info_requested",
        "resubmitted",
        "approved",
        "activity_logged",
        "extension_requested",
        "extension_approved",
        "closed_won",
    ]


def test_every_event_has_actor_time_action_and_statuses(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    events = list(RegistrationEvent.objects.filter(registration=registration).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert event.actor_label
        assert event.at is not None and event.at.utcoffset().total_seconds() == 0
        assert event.action
    approved = events[-1]
    assert (approved.action, approved.from_status, approved.to_status) == (
        "approved",
        "submitted",
        "approved",
    )
    assert approved.actor == manager
    assert approved.actor_label == manager.email


def test_a_refused_change_writes_no_event(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    count = RegistrationEvent.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - any domain error
        services.registration_reject(
            registration=registration, actor=manager, reason="not_qualified"
        )
    assert RegistrationEvent.objects.count() == count


def test_hash_chain_verifies(alice, manager, product):
    registration = factories.make_registration(alice, status="won", manager=manager)
    chain = f"r:{registration.pk}"
    assert events_verify_chain(chain) == []
    events = list(RegistrationEvent.objects.filter(chain=chain).order_by("seq"))
    assert events[0].prev_hash == ""
    for previous, current in zip(events, events[1:], strict=False):
        assert current.prev_hash == previous.hash
        assert current.hash == current.compute_hash()
    count, problems = events_verify_all()
    assert count >= 1 and problems == []


def test_verify_command_reports_intact_chains(alice, manager, product):
    factories.make_registration(alice, status="approved", manager=manager)
    out = io.StringIO()
    call_command("verify_events", stdout=out)
    assert "all intact" in out.getvalue()


@contextmanager
def _triggers_off():
    """Let a test tamper with the table (as an attacker with DDL rights would)."""
    if connection.vendor == "postgresql":
        # A superuser session can skip user triggers (the test role is a superuser).
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")
    else:
        from deals.db import event_purge_allowed

        with event_purge_allowed():
            yield


def test_tampered_event_is_detected_by_verify_command(alice, manager, product):
    registration = factories.make_registration(alice, status="rejected", manager=manager)
    event = RegistrationEvent.objects.get(registration=registration, action="rejected")
    with _triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET details = %s WHERE id = %s",  # noqa: S608
            ['{"reason": "duplicate", "note": ""}', event.pk],
        )
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_events", stdout=io.StringIO(), stderr=err)
    assert excinfo.value.returncode == 1
    assert f"r:{registration.pk}#{event.seq}: content does not match its hash" in err.getvalue()


def test_removed_event_breaks_the_chain(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    first_submitted = RegistrationEvent.objects.get(registration=registration, action="submitted")
    Notification.objects.filter(event=first_submitted).delete()
    with _triggers_off(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [first_submitted.pk])  # noqa: S608
    problems = events_verify_chain(f"r:{registration.pk}")
    assert any("previous-hash link broken" in p for p in problems)
    assert any("seq" in p for p in problems)
    with pytest.raises(CommandError):
        call_command("verify_events", "--chain", f"r:{registration.pk}", stderr=io.StringIO())


# --- Append-only: ORM and database --------------------------------------------------------------------


@pytest.fixture
def event(alice, product):
    registration = factories.make_registration(alice)
    return RegistrationEvent.objects.filter(registration=registration).order_by("seq").first()


def test_orm_update_refused(event):
    with pytest.raises(AppendOnlyError):
        RegistrationEvent.objects.filter(pk=event.pk).update(action="approved")
    with pytest.raises(AppendOnlyError):
        RegistrationEvent.objects.all().update(internal=True)


def test_orm_delete_refused(event):
    with pytest.raises(AppendOnlyError):
        RegistrationEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_orm_save_on_existing_refused(event):
    event.action = "approved"
    with pytest.raises(AppendOnlyError):
        event.save()
    fresh = RegistrationEvent.objects.get(pk=event.pk)
    with pytest.raises(AppendOnlyError):
        fresh.save(update_fields=["action"])
    with pytest.raises(AppendOnlyError):
        RegistrationEvent.objects.bulk_update([fresh], ["action"])
    assert RegistrationEvent.objects.get(pk=event.pk).action == "created"


def _raw(sql: str, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_raw_sql_update_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {TABLE} SET action = %s WHERE id = %s", ["approved", event.pk])  # noqa: S608
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {TABLE} SET internal = %s", [True])  # noqa: S608
    assert RegistrationEvent.objects.get(pk=event.pk).action == "created"


def test_raw_sql_delete_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])  # noqa: S608
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {TABLE} WHERE id > %s", [0])  # noqa: S608
    assert RegistrationEvent.objects.filter(pk=event.pk).exists()


def test_events_carry_the_policy_version_of_decisions(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    versions = dict(
        RegistrationEvent.objects.filter(registration=registration).values_list(
            "action", "policy_version"
        )
    )
    assert versions["submitted"] == versions["approved"] == services.policy_current().version
