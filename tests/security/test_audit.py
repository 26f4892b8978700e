"""AUD-02 (events cannot be changed: raw SQL and ORM, both backends), AUD-03 (no hard delete
of registrations through any route or the admin), and the manager audit export with its
hash-chain verification (dispute evidence)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory

from deals.models import AppendOnlyError, DealRegistration, RegistrationEvent
from tests import factories
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def registration(alice, manager):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    from deals.registrations.collaboration import comment_create

    comment_create(registration=registration, actor=manager, body="internal =1+1", internal=True)
    return registration


# --- AUD-02 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE deals_registrationevent SET action = 'approved' WHERE id = %s",
        "UPDATE deals_registrationevent SET details = '{}' WHERE id = %s",
        "DELETE FROM deals_registrationevent WHERE id = %s",
        "DELETE FROM deals_registrationevent WHERE id >= %s",
    ],
)
def test_aud02_raw_sql_cannot_change_events(registration, statement):
    event = RegistrationEvent.objects.filter(registration=registration).first()
    before = list(RegistrationEvent.objects.order_by("pk").values_list("pk", "action", "hash"))
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    after = list(RegistrationEvent.objects.order_by("pk").values_list("pk", "action", "hash"))
    assert after == before


def test_aud02_orm_cannot_change_events(registration):
    events = RegistrationEvent.objects.filter(registration=registration)
    event = events.first()
    count = events.count()
    with pytest.raises(AppendOnlyError):
        events.update(action="approved")
    with pytest.raises(AppendOnlyError):
        events.delete()
    with pytest.raises(AppendOnlyError):
        RegistrationEvent.objects.bulk_update([event], ["action"])
    with pytest.raises(AppendOnlyError):
        event.action = "approved"
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    # Deleting the registration cannot cascade into its events either.
    with pytest.raises(Exception):  # noqa: B017 - ProtectedError or the trigger
        with transaction.atomic():
            DealRegistration.objects.filter(pk=registration.pk).delete()
    assert RegistrationEvent.objects.filter(registration=registration).count() == count
    from deals.events import events_verify_chain

    assert events_verify_chain(f"r:{registration.pk}") == []


# --- AUD-03 ---------------------------------------------------------------------------------------


def test_aud03_no_route_hard_deletes_a_registration(registration, bob):
    other = factories.make_registration(bob, status="draft")
    root = factories.manager_user(email="root@vendor.example", superuser=True)
    clients = []
    for user in (root, registration.submitted_by):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients.append(client)
    ids = sorted(DealRegistration.objects.values_list("pk", flat=True))
    for target in (registration, other):
        for route in all_routes(str(target.pk)):
            for client in clients:
                client.delete(route.path)
                client.post(route.path, {"post": "yes", "action": "delete_selected"})
    assert sorted(DealRegistration.objects.values_list("pk", flat=True)) == ids


def test_aud03_admin_cannot_delete_registrations_or_touch_events():
    request = RequestFactory().get("/admin/")
    request.user = factories.manager_user(email="root@vendor.example", superuser=True)
    for model in (DealRegistration, RegistrationEvent):
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, model
        assert not model_admin.has_delete_permission(request)
        assert "delete_selected" not in model_admin.get_actions(request)
    events_admin = admin.site._registry[RegistrationEvent]
    assert not events_admin.has_change_permission(request)
    assert not events_admin.has_add_permission(request)


# --- Audit export ---------------------------------------------------------------------------------


def _manager_client(manager):
    client = Client()
    client.force_login(manager)
    return client


def test_export_json_has_the_full_chain_and_verifies(registration, manager, security_records):
    response = _manager_client(manager).get(f"/manage/registrations/{registration.pk}/audit.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    events = list(RegistrationEvent.objects.filter(registration=registration).order_by("seq"))
    assert [e["seq"] for e in data["events"]] == [e.seq for e in events]
    assert any(e["internal"] for e in data["events"])  # managers get the whole chain
    assert data["verification"] == {
        "verified": True,
        "event_count": len(events),
        "head_hash": events[-1].hash,
        "problems": [],
    }
    # Anyone can re-check a link from the export alone.
    import hashlib

    for event in data["events"]:
        assert hashlib.sha256(event["canonical"].encode()).hexdigest() == event["hash"]
    assert security_records.of("audit_export")[0]["object_id"] == registration.pk


def test_export_csv_has_the_chain_and_neutralises_formulas(registration, manager):
    response = _manager_client(manager).get(f"/manage/registrations/{registration.pk}/audit.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = dict(row for row in rows if len(row) == 2)
    assert header["chain_verified"] == "true"
    assert header["registration_id"] == str(registration.pk)
    start = rows.index(
        [
            "seq",
            "at",
            "actor_id",
            "actor_label",
            "action",
            "from_status",
            "to_status",
            "internal",
            "policy_version",
            "details",
            "prev_hash",
            "hash",
        ]
    )
    body = rows[start + 1 :]
    assert len(body) == RegistrationEvent.objects.filter(registration=registration).count()
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def _tamper(event):
    """Change an event behind the application's back (a DBA with the trigger disabled)."""
    from deals.db import event_purge_allowed

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Superuser only: user triggers do not fire for a replication-role session.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                "UPDATE deals_registrationevent SET actor_label = 'mallory' WHERE id = %s",
                [event.pk],
            )
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        else:
            with event_purge_allowed():
                cursor.execute(
                    "UPDATE deals_registrationevent SET actor_label = 'mallory' WHERE id = %s",
                    [event.pk],
                )


def test_export_reports_a_broken_chain(registration, manager):
    event = RegistrationEvent.objects.filter(registration=registration).order_by("seq")[1]
    _tamper(event)
    client = _manager_client(manager)
    data = json.loads(client.get(f"/manage/registrations/{registration.pk}/audit.json").content)
    assert data["verification"]["verified"] is False
    assert any(f"#{event.seq}" in p for p in data["verification"]["problems"])
    csv_text = client.get(f"/manage/registrations/{registration.pk}/audit.csv").content.decode()
    assert "chain_verified,false" in csv_text


def test_export_is_for_managers_only(registration, alice, bob, manager):
    for user, status in ((alice, 403), (bob, 403)):
        client = Client()
        client.force_login(user)
        for fmt in ("json", "csv"):
            assert (
                client.get(f"/manage/registrations/{registration.pk}/audit.{fmt}").status_code
                == status
            )
    anonymous = Client().get(f"/manage/registrations/{registration.pk}/audit.json")
    assert anonymous.status_code == 302
    staff = _manager_client(manager)
    assert staff.get("/manage/registrations/987654/audit.json").status_code == 404
    assert staff.post(f"/manage/registrations/{registration.pk}/audit.json").status_code == 405
