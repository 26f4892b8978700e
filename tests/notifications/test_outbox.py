"""The outbox mechanics: same transaction as the event, preferences, publishing, delivery
(compare-and-set claim, Message-ID, backoff, final failure) and the drain."""

from __future__ import annotations

import datetime as dt
import smtplib
import time

import pytest
from django.core import mail
from django.test import override_settings

from deals.models import Notification, NotificationKind, NotificationPreference
from deals.notifications import delivery
from deals.registrations import collaboration, extensions, services
from deals.tasks import notification_deliver as notification_deliver_task
from deals.tasks import notifications_drain as notifications_drain_task
from prm.celery import app as celery_app
from tests import factories
from tests.notifications.conftest import received

pytestmark = pytest.mark.django_db
K = NotificationKind


class Boom(Exception):
    pass


def test_job01_rollback_writes_and_sends_nothing(
    alice, manager, monkeypatch, django_capture_on_commit_callbacks
):
    """JOB-01: 100 service calls that raise after the notifications were scheduled leave
    0 outbox rows, 0 after-commit callbacks (tasks) and 0 e-mails."""
    registrations = [factories.make_registration(alice, manager=manager) for _ in range(4)]
    approved = factories.make_registration(alice, status="approved", manager=manager)
    Notification.objects.all().delete()
    mail.outbox.clear()
    original = services._registration_event
    scheduled = []

    def event_then_boom(*args, **kwargs):
        event = original(*args, **kwargs)
        scheduled.append(Notification.objects.filter(event=event).count())
        raise Boom("after the event and its notifications were written")

    for module in (services, collaboration, extensions):
        monkeypatch.setattr(module, "_registration_event", event_then_boom)
    calls = [
        lambda r: services.registration_approve(registration=r, actor=manager),
        lambda r: services.registration_reject(registration=r, actor=manager, reason="duplicate"),
        lambda r: services.registration_request_info(registration=r, actor=manager, message="?"),
        lambda r: collaboration.comment_create(registration=r, actor=manager, body="hello"),
        lambda r: collaboration.comment_create(registration=r, actor=alice, body="hi"),
    ]
    raised = 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for i in range(100):
            call = calls[i % len(calls)]
            try:
                call(registrations[i % len(registrations)])
            except Boom:
                raised += 1
            try:
                extensions.extension_request_create(registration=approved, actor=alice, reason="x")
            except Boom:
                pass
    assert raised == 100, f"{raised}/100 calls raised"
    assert sum(scheduled) > 100, "notifications were written before each failure"
    assert Notification.objects.count() == 0, f"{Notification.objects.count()} outbox rows"
    assert len(callbacks) == 0, f"{len(callbacks)} tasks scheduled"
    assert len(mail.outbox) == 0, f"{len(mail.outbox)} e-mails"


def test_outbox_rows_are_written_before_commit_and_delivered_after(
    alice, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.make_registration(alice, manager=manager)
    assert Notification.objects.filter(channel="email", status="pending").count() == 2
    assert len(mail.outbox) == 0, "nothing is sent before the commit"
    assert len(callbacks) == 1, "one publish per event with e-mail rows"
    for callback in callbacks:
        callback()
    assert Notification.objects.filter(channel="email", status="sent").count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, manager.email])


class TestPreferences:
    def test_email_opt_out_per_kind_keeps_in_app(self, alice, manager, deliver):
        NotificationPreference.objects.create(
            user=alice, kind=K.SUBMISSION_RECEIVED, email_enabled=False
        )
        with deliver():
            registration = factories.make_registration(alice, manager=manager)
        assert received(alice, K.SUBMISSION_RECEIVED, "in_app").count() == 1
        assert received(alice, K.SUBMISSION_RECEIVED, "email").count() == 0
        assert received(manager, K.SUBMISSION_RECEIVED, "email").count() == 1
        assert [m.to for m in mail.outbox] == [[manager.email]]
        # Other kinds still e-mail.
        with deliver():
            services.registration_approve(registration=registration, actor=manager)
        assert received(alice, K.APPROVED, "email").count() == 1

    def test_explicit_opt_in_is_like_default(self, alice, manager):
        NotificationPreference.objects.create(user=alice, kind=K.APPROVED, email_enabled=True)
        factories.make_registration(alice, status="approved", manager=manager)
        assert received(alice, K.APPROVED, "email").count() == 1


class TestTemplates:
    def test_rejection_email_has_html_text_link_decision_and_reason(self, alice, manager, deliver):
        registration = factories.make_registration(alice, manager=manager)
        mail.outbox.clear()
        with deliver():
            services.registration_reject(
                registration=registration, actor=manager, reason="below_minimum", note="Too <small>"
            )
        (message,) = mail.outbox
        link = f"http://testserver/registrations/{registration.pk}/"
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        for part in (message.body, html):
            assert link in part
            assert "Rejected" in part
            assert "Below minimum deal size" in part
            assert registration.reference in part
        assert "Too <small>" in message.body, "plain text is not HTML-escaped"
        assert "Too &lt;small&gt;" in html, "HTML is escaped"
        assert message.subject == f"Registration {registration.reference} rejected"

    def test_manager_email_links_to_the_manager_page(self, alice, manager, deliver):
        with deliver():
            registration = factories.make_registration(alice, manager=manager)
        (message,) = [m for m in mail.outbox if m.to == [manager.email]]
        assert f"http://testserver/manage/registrations/{registration.pk}/" in message.body

    @pytest.mark.parametrize("kind", [k for k in K.values if k != K.USER_INVITED])
    def test_every_kind_renders(self, kind, alice, manager):
        registration = factories.make_registration(alice, manager=manager)
        row = received(alice, channel="email").first()
        row.kind = kind
        subject, text, html = delivery.email_render(row)
        assert subject and registration.reference in text and "<html" in html


@pytest.fixture
def worker_like():
    """Eager tasks that behave like a worker: a Retry re-runs the task (at once, in eager
    mode) and a failure runs the failure hook instead of propagating into the test."""
    old = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = old


class TestDelivery:
    def _pending_email(self, alice, manager):
        registration = factories.make_registration(alice, manager=manager)
        return received(alice, K.SUBMISSION_RECEIVED, "email").get(), registration

    def test_claim_is_compare_and_set(self, alice, manager):
        row, _ = self._pending_email(alice, manager)
        first = delivery.notification_deliver(notification_id=row.pk)
        second = delivery.notification_deliver(notification_id=row.pk)
        assert (first.status, second.status) == ("sent", "skipped")
        assert len(mail.outbox) == 1
        row.refresh_from_db()
        assert row.status == "sent" and row.attempts == 1

    def test_message_id_is_stable_across_retries(self, alice, manager, monkeypatch):
        row, _ = self._pending_email(alice, manager)
        sent_ids = []
        original = delivery._email_send

        def flaky(notification, message_id):
            sent_ids.append(message_id)
            if len(sent_ids) == 1:
                raise smtplib.SMTPServerDisconnected("gone")
            return original(notification, message_id)

        monkeypatch.setattr(delivery, "_email_send", flaky)
        assert delivery.notification_deliver(notification_id=row.pk).status == "retry"
        row.refresh_from_db()
        assert row.status == "pending" and row.attempts == 1 and "gone" in row.last_error
        assert delivery.notification_deliver(notification_id=row.pk).status == "sent"
        assert sent_ids[0] == sent_ids[1] == row.message_id
        assert row.message_id.startswith(f"<notification-{row.pk}-")
        (message,) = mail.outbox
        assert message.extra_headers["Message-ID"] == row.message_id

    def test_backoff_is_exponential_capped_and_jittered(self, settings):
        settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
        settings.NOTIFICATION_RETRY_MAX_SECONDS = 600
        for attempt, full in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (10, 600)]:
            delays = {delivery.retry_delay(attempt) for _ in range(50)}
            assert all(full / 2 <= d <= full for d in delays), (attempt, delays)
            assert len(delays) > 1, "jitter"
        assert max(delivery.retry_delay(30) for _ in range(100)) <= 600

    def test_job07_poison_message_stops_after_max_attempts(
        self, alice, manager, monkeypatch, settings, worker_like
    ):
        """JOB-07: a delivery that always raises stops after NOTIFICATION_MAX_ATTEMPTS (10)
        and leaves a failed row with the error; later deliveries and drains leave it alone."""
        settings.NOTIFICATION_MAX_ATTEMPTS = 10
        calls = []

        def poison(notification, message_id):
            calls.append(message_id)
            raise smtplib.SMTPDataError(451, b"try again later")

        monkeypatch.setattr(delivery, "_email_send", poison)
        row, _ = self._pending_email(alice, manager)
        # Eager Celery runs each retry at once: the whole retry chain happens in this call.
        notification_deliver_task.delay(row.pk)
        row.refresh_from_db()
        assert len(calls) == 10, f"{len(calls)} attempts, expected 10"
        assert row.status == "failed" and row.attempts == 10
        assert "try again later" in row.last_error
        notification_deliver_task.delay(row.pk)
        delivery.notifications_drain(now=row.next_attempt_at + dt.timedelta(hours=1))
        assert calls.count(row.message_id) == 10, "a failed row is never retried (no loop)"

    def test_unexpected_task_error_is_recorded_by_the_failure_hook(
        self, alice, manager, monkeypatch, worker_like
    ):
        row, _ = self._pending_email(alice, manager)
        original = delivery.notification_deliver

        def crash_after_claim(*, notification_id, now=None):
            Notification.objects.filter(pk=notification_id).update(status="sending", attempts=1)
            raise RuntimeError("database hiccup")

        monkeypatch.setattr(delivery, "notification_deliver", crash_after_claim)
        result = notification_deliver_task.delay(row.pk)
        assert result.failed() and isinstance(result.result, RuntimeError)
        row.refresh_from_db()
        assert row.status == "pending" and "database hiccup" in row.last_error
        monkeypatch.setattr(delivery, "notification_deliver", original)

    def test_deactivated_recipient_is_failed_not_sent(self, alice, manager):
        row, _ = self._pending_email(alice, manager)
        alice.is_active = False
        alice.save()
        assert delivery.notification_deliver(notification_id=row.pk).status == "failed"
        assert len(mail.outbox) == 0


class TestDrain:
    def test_drain_delivers_pending_and_redrives_stuck_rows(self, alice, manager, settings):
        settings.NOTIFICATION_STALE_SECONDS = 120
        settings.NOTIFICATION_DRAIN_GRACE_SECONDS = 10
        factories.make_registration(alice, manager=manager)
        factories.make_registration(alice, manager=manager)
        rows = list(Notification.objects.filter(channel="email").order_by("pk"))
        assert len(rows) == 4 and len(mail.outbox) == 0
        now = rows[-1].created_at + dt.timedelta(seconds=30)
        # One row is stuck in "sending" (a worker died after claiming it) for 3 minutes, one
        # for only 30 s (maybe still being sent: left alone).
        Notification.objects.filter(pk=rows[0].pk).update(
            status="sending", claimed_at=now - dt.timedelta(minutes=3), attempts=1
        )
        Notification.objects.filter(pk=rows[1].pk).update(
            status="sending", claimed_at=now - dt.timedelta(seconds=30), attempts=1
        )
        counts = delivery.notifications_drain(now=now)
        assert counts["redriven"] == 1 and counts["sent"] == 3, counts
        statuses = dict(Notification.objects.filter(channel="email").values_list("pk", "status"))
        assert statuses[rows[1].pk] == "sending"
        assert [s for pk, s in statuses.items() if pk != rows[1].pk] == ["sent"] * 3
        assert len(mail.outbox) == 3
        assert delivery.notifications_drain(now=now)["sent"] == 0, "idempotent"

    def test_drain_respects_backoff_and_grace(self, alice, manager):
        factories.make_registration(alice, manager=manager)
        row = Notification.objects.filter(channel="email").first()
        counts = delivery.notifications_drain(now=row.created_at)
        assert counts["sent"] == 0, "fresh rows are left to their after-commit task"
        Notification.objects.filter(pk=row.pk).update(
            next_attempt_at=row.created_at + dt.timedelta(minutes=5)
        )
        later = row.created_at + dt.timedelta(minutes=2)
        assert delivery.notifications_drain(now=later)["sent"] == 1, "the other row"
        row.refresh_from_db()
        assert row.status == "pending", "not due yet"

    def test_stuck_row_out_of_attempts_is_failed(self, alice, manager, settings):
        settings.NOTIFICATION_MAX_ATTEMPTS = 3
        factories.make_registration(alice, manager=manager)
        row = Notification.objects.filter(channel="email").first()
        now = row.created_at + dt.timedelta(minutes=10)
        Notification.objects.filter(pk=row.pk).update(
            status="sending", claimed_at=now - dt.timedelta(minutes=5), attempts=3
        )
        counts = delivery.notifications_drain(now=now)
        row.refresh_from_db()
        assert counts["failed"] == 1 and row.status == "failed"

    def test_drain_task_runs_the_service(self, alice, manager, time_machine):
        factories.make_registration(alice, manager=manager)
        time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
        result = notifications_drain_task.delay().get()
        assert result["sent"] == 2 and len(mail.outbox) == 2


class TestPublishing:
    @pytest.fixture
    def broker_down(self, monkeypatch):
        """A non-eager app pointed at a port where nothing listens."""
        monkeypatch.setattr(delivery._publisher, "paused_until", 0.0)
        old = {
            k: celery_app.conf[k]
            for k in ("task_always_eager", "broker_url", "broker_transport_options")
        }
        celery_app.conf.task_always_eager = False
        celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
        celery_app.conf.broker_transport_options = {"max_retries": 0}
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        yield
        celery_app.conf.update(old)
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    def test_broker_down_never_fails_or_slows_the_request(
        self, alice, manager, broker_down, monkeypatch, django_capture_on_commit_callbacks
    ):
        """Behaviour, not wall-clock time (the latency figure is JOB-02 in the reliability
        suite): one publish tries the broker once, without kombu's connection retries, fails
        quietly and pauses publishing; the next ones do not touch the broker at all."""
        import kombu.transport.redis  # noqa: F401 - a running web process has imported it

        from deals.notifications.delivery import notification_deliver_task as task

        attempts = []
        original_apply_async = task.apply_async

        def counted(*args, **kwargs):
            attempts.append(kwargs.get("retry"))
            return original_apply_async(*args, **kwargs)

        monkeypatch.setattr(task, "apply_async", counted)
        for _ in range(5):
            with django_capture_on_commit_callbacks(execute=True):
                factories.make_registration(alice, manager=manager)
        assert Notification.objects.filter(channel="email", status="pending").count() == 10
        assert attempts == [False], "one attempt, no retries, then paused"
        assert delivery._publisher.paused_until > time.monotonic(), "publishing paused"
        assert delivery.notifications_publish([1, 2]) == 0, "skipped while paused"
        assert attempts == [False]

    def test_publish_errors_are_swallowed_and_logged(self, broker_down, caplog):
        with override_settings(NOTIFICATION_PUBLISH_PAUSE_SECONDS=0):
            assert delivery.notifications_publish([123]) == 0
        assert "Broker unreachable" in caplog.text


class TestInvitation:
    def test_invitation_goes_through_the_outbox(self, alice_admin, partner_a, deliver):
        from partners.services import partner_user_create

        with deliver():
            user = partner_user_create(
                actor=alice_admin, partner=partner_a, email="nia@acme-resellers.example", name="Nia"
            )
        row = Notification.objects.get(recipient=user, kind=K.USER_INVITED)
        assert row.channel == "email" and row.status == "sent" and row.message_id
        (message,) = mail.outbox
        assert message.to == [user.email]
        assert message.subject == f"You're invited to Dealbridge for {partner_a.name}"
        assert "http://testserver/accounts/password/reset/key/" in message.body
        html, _ = message.alternatives[0]
        assert "/accounts/password/reset/key/" in html and "Hello Nia" in html
        assert "key" not in str(row.context), "no reset key is stored in the outbox"

    def test_smtp_down_leaves_it_pending_instead_of_failing_the_request(
        self, alice_admin, partner_a, deliver, monkeypatch, worker_like
    ):
        from partners.services import partner_user_create

        def smtp_down(notification, message_id):
            raise smtplib.SMTPConnectError(421, b"down")

        monkeypatch.setattr(delivery, "_email_send", smtp_down)
        with deliver():
            user = partner_user_create(
                actor=alice_admin, partner=partner_a, email="zed@acme-resellers.example"
            )
        row = Notification.objects.get(recipient=user, kind=K.USER_INVITED)
        assert row.status in ("pending", "failed") and "down" in row.last_error
        assert len(mail.outbox) == 0
