"""Periodic sweeps with a frozen clock: expiry, reminders, SLA escalation (JOB-06), and the
default schedules."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections

from deals.models import EventAction, Notification, NotificationKind, RegistrationEvent
from deals.policy import policy_publish
from deals.registrations import services
from deals.registrations.extensions import extension_request_create, extension_request_decide
from deals.registrations.sweeps import (
    registrations_expire_due,
    reminders_send_due,
    sla_escalate_due,
)
from deals.schedules import schedules_ensure_defaults
from deals.tasks import registrations_expire as registrations_expire_task
from deals.tasks import reminders_send, sla_escalate
from tests import factories
from tests.notifications.conftest import received

K = NotificationKind
UTC = dt.UTC


def _next_weekday(start: dt.datetime, weekday: int) -> dt.datetime:
    days = (weekday - start.weekday()) % 7 or 7
    return start + dt.timedelta(days=days)


def _events(registration, action) -> int:
    return RegistrationEvent.objects.filter(registration=registration, action=action).count()


@pytest.mark.django_db
class TestExpiry:
    def test_due_ones_expire_once_not_yet_due_ones_never(self, alice, manager, time_machine):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        due = [
            factories.make_registration(alice, status="approved", manager=manager) for _ in range(3)
        ]
        time_machine.move_to(start + dt.timedelta(hours=1), tick=False)
        later = factories.make_registration(alice, status="approved", manager=manager)
        time_machine.move_to(due[0].expires_at + dt.timedelta(seconds=1), tick=False)
        assert registrations_expire_task.delay().get() == 3
        assert registrations_expire_task.delay().get() == 0, "a second run expires nothing"
        for registration in due:
            registration.refresh_from_db()
            assert registration.status == "expired"
            assert _events(registration, EventAction.EXPIRED) == 1
            assert (
                received(alice, K.EXPIRED, "in_app").filter(registration=registration).count() == 1
            )
            assert (
                received(alice, K.EXPIRED, "email").filter(registration=registration).count() == 1
            )
        later.refresh_from_db()
        assert later.status == "approved", "not yet due (expires one hour later)"
        assert _events(later, EventAction.EXPIRED) == 0


@pytest.mark.django_db
class TestReminders:
    def test_reminders_at_14_and_3_days_once_each(self, alice, bob, manager, time_machine):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        registration = factories.make_registration(alice, status="approved", manager=manager)
        expires = registration.expires_at
        counts = []
        for moment in [
            expires - dt.timedelta(days=15),
            expires - dt.timedelta(days=14) + dt.timedelta(seconds=1),
            expires - dt.timedelta(days=14) + dt.timedelta(hours=1),
            expires - dt.timedelta(days=5),
            expires - dt.timedelta(days=3) + dt.timedelta(minutes=5),
            expires - dt.timedelta(days=1),
            expires - dt.timedelta(seconds=1),
        ]:
            time_machine.move_to(moment, tick=False)
            counts.append(reminders_send.delay().get())
        assert counts == [0, 1, 0, 0, 1, 0, 0], counts
        rows = received(alice, K.EXPIRY_REMINDER, "in_app").order_by("pk")
        assert [r.context["days"] for r in rows] == [14, 3]
        assert received(alice, K.EXPIRY_REMINDER, "email").count() == 2
        assert "expires in 14 days" in rows[0].title
        key = f"reminder:{registration.pk}:14:{expires.date().isoformat()}"
        assert rows[0].dedupe_key == f"{key}:{alice.pk}:in_app"
        assert _events(registration, EventAction.REMINDER_DUE) == 2
        assert received(bob).count() == 0 and received(manager, K.EXPIRY_REMINDER).count() == 0

    def test_only_the_nearest_when_several_are_due(self, alice, manager, time_machine):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        registration = factories.make_registration(alice, status="approved", manager=manager)
        time_machine.move_to(registration.expires_at - dt.timedelta(days=2), tick=False)
        assert reminders_send_due() == 1
        assert [r.context["days"] for r in received(alice, K.EXPIRY_REMINDER, "in_app")] == [3]

    def test_an_extension_starts_a_new_set_of_reminders(self, alice, manager, time_machine):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        registration = factories.make_registration(alice, status="approved", manager=manager)
        time_machine.move_to(registration.expires_at - dt.timedelta(days=10), tick=False)
        assert reminders_send_due() == 1
        request = extension_request_create(registration=registration, actor=alice, reason="Slip")
        extension_request_decide(request=request, actor=manager, approve=True)
        registration.refresh_from_db()
        assert reminders_send_due() == 0, "40 days left now"
        time_machine.move_to(registration.expires_at - dt.timedelta(days=13), tick=False)
        assert reminders_send_due() == 1
        assert received(alice, K.EXPIRY_REMINDER, "in_app").count() == 2

    def test_short_windows_skip_thresholds_longer_than_the_window(
        self, alice, manager, time_machine
    ):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        registration = factories.make_registration(alice, manager=manager)
        services.registration_approve(registration=registration, actor=manager, protection_days=10)
        time_machine.move_to(start + dt.timedelta(hours=2), tick=False)
        assert reminders_send_due() == 0, "no 14-day reminder for a 10-day window"
        time_machine.move_to(start + dt.timedelta(days=7, hours=1), tick=False)
        assert reminders_send_due() == 1


@pytest.mark.django_db
class TestSlaEscalation:
    def test_escalates_once_per_breach_in_business_days(self, alice, manager, time_machine):
        friday = _next_weekday(dt.datetime(2030, 3, 1, 10, 0, tzinfo=UTC), 4)
        time_machine.move_to(friday, tick=False)
        other_manager = factories.manager_user(email="dan@vendor.example")
        registration = factories.make_registration(alice, manager=manager)
        tuesday = friday + dt.timedelta(days=4)
        assert registration.sla_due_at == tuesday, "2 business days: Monday and Tuesday"
        counts = []
        for moment in [
            friday + dt.timedelta(days=1, hours=5),  # Saturday
            friday + dt.timedelta(days=3, hours=5),  # Monday
            tuesday - dt.timedelta(seconds=1),
            tuesday + dt.timedelta(seconds=1),
            tuesday + dt.timedelta(minutes=15),
            tuesday + dt.timedelta(days=1),
        ]:
            time_machine.move_to(moment, tick=False)
            counts.append(sla_escalate.delay().get())
        assert counts == [0, 0, 0, 1, 0, 0], counts
        for user in (manager, other_manager):
            assert received(user, K.SLA_OVERDUE, "in_app").count() == 1
            assert received(user, K.SLA_OVERDUE, "email").count() == 1
        assert received(alice, K.SLA_OVERDUE).count() == 0, "escalations are internal"
        row = received(manager, K.SLA_OVERDUE, "in_app").get()
        assert row.dedupe_key.startswith(f"sla:{registration.pk}:{tuesday.isoformat()}:")
        assert _events(registration, EventAction.SLA_BREACHED) == 1

    def test_holidays_push_the_due_time_and_a_resubmission_is_a_new_breach(
        self, alice, manager, time_machine
    ):
        friday = _next_weekday(dt.datetime(2030, 3, 1, 10, 0, tzinfo=UTC), 4)
        monday = friday + dt.timedelta(days=3)
        time_machine.move_to(friday, tick=False)
        policy_publish(actor=manager, holidays=[monday.date().isoformat()])
        registration = factories.make_registration(alice, manager=manager)
        wednesday = friday + dt.timedelta(days=5)
        assert registration.sla_due_at == wednesday
        time_machine.move_to(wednesday - dt.timedelta(minutes=1), tick=False)
        assert sla_escalate_due() == 0
        time_machine.move_to(wednesday + dt.timedelta(minutes=1), tick=False)
        assert sla_escalate_due() == 1
        services.registration_request_info(registration=registration, actor=manager, message="?")
        time_machine.move_to(wednesday + dt.timedelta(days=7), tick=False)
        assert sla_escalate_due() == 0, "the clock stops while info is requested"
        services.registration_submit(registration=registration, actor=alice)
        registration.refresh_from_db()
        time_machine.move_to(registration.sla_due_at + dt.timedelta(seconds=1), tick=False)
        assert sla_escalate_due() == 1, "a new due time is a new breach"
        assert sla_escalate_due() == 0
        assert received(manager, K.SLA_OVERDUE, "in_app").count() == 2


@pytest.mark.django_db(transaction=True)
class TestConcurrentSweeps:
    """JOB-06: two sweeps at the same moment change each registration once."""

    def _race(self, function, threads=2):
        barrier = threading.Barrier(threads)
        results, errors = [], []

        def run():
            try:
                barrier.wait()
                results.append(function())
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not errors, errors
        return results

    def test_two_expiry_sweeps_expire_each_registration_once(self, alice, manager, time_machine):
        start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
        time_machine.move_to(start, tick=False)
        registrations = [
            factories.make_registration(alice, status="approved", manager=manager) for _ in range(6)
        ]
        time_machine.move_to(registrations[-1].expires_at + dt.timedelta(seconds=1), tick=False)
        results = self._race(registrations_expire_due)
        assert sum(results) == 6, f"sweeps reported {results}; expected 6 expiries in total"
        for registration in registrations:
            assert _events(registration, EventAction.EXPIRED) == 1
            assert (
                Notification.objects.filter(registration=registration, kind=K.EXPIRED).count() == 2
            ), "one in-app + one e-mail"

    def test_two_reminder_and_sla_sweeps_write_once(self, alice, manager, time_machine):
        friday = _next_weekday(dt.datetime(2030, 3, 1, 10, 0, tzinfo=UTC), 4)
        time_machine.move_to(friday, tick=False)
        approved = [
            factories.make_registration(alice, status="approved", manager=manager) for _ in range(3)
        ]
        submitted = [factories.make_registration(alice, manager=manager) for _ in range(3)]
        time_machine.move_to(approved[-1].expires_at - dt.timedelta(days=13), tick=False)
        assert sum(self._race(reminders_send_due)) == 3
        assert sum(self._race(sla_escalate_due)) == 3
        for registration in approved:
            assert _events(registration, EventAction.REMINDER_DUE) == 1
        for registration in submitted:
            assert _events(registration, EventAction.SLA_BREACHED) == 1
        assert received(alice, K.EXPIRY_REMINDER).count() == 6
        assert received(manager, K.SLA_OVERDUE).count() == 6


@pytest.mark.django_db
class TestSchedules:
    def test_defaults_are_created_once_and_follow_the_drain_setting(self, settings):
        from django_celery_beat.models import PeriodicTask

        import integrations.tasks  # noqa: F401 - a worker autodiscovers each app's tasks module
        from prm.celery import app

        settings.NOTIFICATION_DRAIN_SECONDS = 60
        assert schedules_ensure_defaults() == 7
        assert schedules_ensure_defaults() == 0, "idempotent"
        tasks = {t.name: t for t in PeriodicTask.objects.select_related("interval", "crontab")}
        assert set(tasks) == {
            "notifications-drain",
            "registrations-expire",
            "reminders-send",
            "sla-escalate",
            "report-cells-compact",
            "webhooks-drain",
            "crm-push-drain",
        }
        assert tasks["notifications-drain"].interval.every == 60
        assert tasks["webhooks-drain"].interval.every == 60
        assert tasks["registrations-expire"].crontab.minute == "*/5"
        assert tasks["reminders-send"].crontab.minute == "7"
        assert tasks["sla-escalate"].crontab.minute == "*/15"
        assert tasks["report-cells-compact"].crontab.minute == "*/10"
        assert tasks["crm-push-drain"].crontab.minute == "*"
        for task in tasks.values():
            assert task.task in app.tasks, f"{task.task} is not a registered task"
        # An admin edit of another job survives; the drain follows the environment.
        PeriodicTask.objects.filter(name="reminders-send").update(enabled=False)
        settings.NOTIFICATION_DRAIN_SECONDS = 10
        assert schedules_ensure_defaults() == 0
        assert PeriodicTask.objects.get(name="notifications-drain").interval.every == 10
        assert PeriodicTask.objects.get(name="reminders-send").enabled is False

    def test_management_command(self):
        from django.core.management import call_command
        from django_celery_beat.models import PeriodicTask

        call_command("setup_schedules")
        call_command("setup_schedules")
        assert PeriodicTask.objects.filter(task__startswith="deals.tasks.").count() == 5
