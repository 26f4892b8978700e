"""Jobs and notifications: no loss, no duplicates (docs/reliability.md JOB-02..05).

Real services: a private redis-server (persistence off, so a restart loses the queue, like the
CI Redis), a Celery worker and beat as subprocesses (solo pool, acks_late, prefetch 1), an
aiosmtpd sink, and the test database shared with them (transactional tests: rows are really
committed; the worker gets SQLITE_PATH or DATABASE_URL of the test database).

Test timings (env of the worker): drain every 2 s (beat, DatabaseScheduler, rows written by
`schedules_ensure_defaults`), drain grace 1 s, stale "sending" rows re-driven after 8 s,
backoff base 0.5 s capped at 2 s, 8 attempts, visibility timeout 10 s. Production values:
60 s / 10 s / 120 s / 30 s / 600 s / 10 attempts / 600 s.

Run with RUN_RELIABILITY=1 (set by .ci/run); skipped otherwise.
"""

from __future__ import annotations

import os
import secrets
import string
import time

import pytest

from deals.models import Notification
from deals.notifications import delivery, outbox
from deals.schedules import schedules_ensure_defaults
from prm.celery import app as celery_app
from tests import factories
from tests.reliability.jobs_harness import (
    CeleryProcess,
    RedisServer,
    SmtpSink,
    database_env,
    wait_for,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        os.environ.get("RUN_RELIABILITY") != "1", reason="needs RUN_RELIABILITY=1 (real Redis)"
    ),
    pytest.mark.django_db(transaction=True),
]

N_BROKER_DOWN = int(os.environ.get("JOBS_N", "100"))
DELIVERY_TIMEOUT = 60
MAX_ATTEMPTS = 8


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def publish_to_redis(redis_server, settings):
    """The test process publishes for real (not eager), like a web process."""
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    old = {k: celery_app.conf[k] for k in keys}
    celery_app.conf.update(
        task_always_eager=False,
        broker_url=redis_server.url,
        broker_transport_options={"visibility_timeout": 10, "max_retries": 0},
    )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS = 2
    delivery._publisher.paused_until = 0.0
    yield
    celery_app.conf.update(old)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    delivery._publisher.paused_until = 0.0


class Jobs:
    def __init__(self, env):
        self.env = env
        self.processes: list[CeleryProcess] = []

    def start(self, kind: str, name: str = "jobs1", **extra) -> CeleryProcess:
        process = CeleryProcess(kind, {**self.env, **extra}, name=name)
        self.processes.append(process)
        process.start()
        return process

    def stop_all(self):
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.kind} {p.name}\n{p.read_log()[-3000:]}" for p in self.processes)


@pytest.fixture
def jobs(transactional_db, redis_server, smtp_sink, publish_to_redis, settings):
    settings.NOTIFICATION_DRAIN_SECONDS = 2
    schedules_ensure_defaults()
    env = {
        **database_env(),
        "CELERY_BROKER_URL": redis_server.url,
        "EMAIL_URL": smtp_sink.url,
        "NOTIFICATION_DRAIN_SECONDS": "2",
        "NOTIFICATION_DRAIN_GRACE_SECONDS": "1",
        "NOTIFICATION_STALE_SECONDS": "8",
        "NOTIFICATION_RETRY_BASE_SECONDS": "0.5",
        "NOTIFICATION_RETRY_MAX_SECONDS": "2",
        "NOTIFICATION_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "JOBS_VISIBILITY_TIMEOUT": "10",
        "SITE_URL": "http://testserver",
    }
    runner = Jobs(env)
    yield runner
    runner.stop_all()


# --- Helpers ----------------------------------------------------------------------------------


def _word() -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


def submit(client, count: int) -> tuple[list[int], list[float]]:
    """POST /api/v1/registrations/ `count` times with unrelated customers."""
    statuses, latencies = [], []
    for _ in range(count):
        word = _word()
        data = factories.registration_data(
            customer_name=f"{word.capitalize()} Systems",
            customer_domain=f"{word}.com",
            contact_email=f"buyer@{word}.com",
        )
        start = time.monotonic()
        response = client.post("/api/v1/registrations/", data, content_type="application/json")
        latencies.append(time.monotonic() - start)
        statuses.append(response.status_code)
        assert response.status_code == 201, response.content[:500]
    return statuses, latencies


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def email_rows():
    return Notification.objects.filter(channel="email")


def all_delivered(sink: SmtpSink, expected: int):
    def check():
        return sink.count() >= expected and not email_rows().exclude(status="sent").exists()

    return check


def assert_exactly_once(sink: SmtpSink, expected: int, label: str):
    time.sleep(3)  # a late duplicate (second drain, redelivered message) would land by now
    rows = list(email_rows().values_list("message_id", "status"))
    duplicates = sink.duplicates()
    assert sink.count() == expected, (
        f"{label}: {sink.count()} e-mails received, {expected} expected"
    )
    assert not duplicates, f"{label}: duplicated Message-IDs {duplicates}"
    assert {m["message_id"] for m in sink.messages} == {mid for mid, _ in rows}, label
    assert {status for _, status in rows} == {"sent"}, label


# --- Tests --------------------------------------------------------------------------------------


def test_job02_broker_down_submissions_succeed_and_deliver_once(
    jobs, redis_server, smtp_sink, client, alice, manager, monkeypatch
):
    jobs.start("worker")
    jobs.start("beat")
    client.force_login(alice)
    # A web process that has been running: publishing initialised (the first request pays
    # the one-off imports, so it is left out of the baseline), 16 submissions delivered.
    _, latencies_up = submit(client, 16)
    latencies_up = latencies_up[1:]
    wait_for(all_delivered(smtp_sink, 32), 30, 0.2, f"baseline\n{jobs.logs()}")
    publish_times = []
    original_publish = delivery.notifications_publish

    def timed_publish(ids):
        start = time.monotonic()
        try:
            return original_publish(ids)
        finally:
            publish_times.append(time.monotonic() - start)

    monkeypatch.setattr(outbox, "notifications_publish", timed_publish)
    redis_server.stop()
    statuses, latencies = submit(client, N_BROKER_DOWN)
    expected = 32 + 2 * N_BROKER_DOWN  # alice + the manager, per submission
    figures = (
        f"p95 {p95(latencies) * 1000:.0f} ms with the broker down (max "
        f"{max(latencies) * 1000:.0f} ms), {p95(latencies_up) * 1000:.0f} ms with it up; "
        f"publish attempts: max {max(publish_times) * 1000:.0f} ms"
    )
    assert statuses.count(201) == N_BROKER_DOWN, f"{statuses.count(201)}/{N_BROKER_DOWN} × 201"
    assert max(publish_times) <= 0.25, f"a failed publish slowed a request: {figures}"
    # Goal: p95 ≤ 300 ms. On an overloaded machine (the baseline itself is slow) the outage
    # may add at most 50 % to the baseline instead.
    limit = 0.3 if p95(latencies_up) <= 0.2 else 1.5 * p95(latencies_up)
    assert p95(latencies) <= limit, f"{figures}; limit {limit * 1000:.0f} ms"
    assert email_rows().filter(status="pending").count() == expected - 32, "outbox rows written"
    assert smtp_sink.count() == 32, "nothing was delivered while Redis was down"
    redis_server.start()
    _, waited = wait_for(
        all_delivered(smtp_sink, expected),
        DELIVERY_TIMEOUT,
        0.5,
        f"{smtp_sink.count()}/{expected} delivered after Redis came back\n{jobs.logs()}",
    )
    assert_exactly_once(smtp_sink, expected, f"JOB-02 ({N_BROKER_DOWN} submissions)")
    assert Notification.objects.filter(channel="in_app").exclude(status="sent").count() == 0
    print(
        f"JOB-02: {N_BROKER_DOWN} × 201 with Redis down, {figures}; "
        f"{expected} e-mails delivered once, {waited:.1f}s after Redis returned"
    )


def test_job03_queue_flushed_before_consumption_is_redriven(
    jobs, redis_server, smtp_sink, client, alice, manager
):
    client.force_login(alice)
    submit(client, 50)
    expected = 100
    queued = int(redis_server.cli("llen", "celery") or 0)
    assert queued == expected, f"{queued} delivery messages queued, {expected} expected"
    redis_server.cli("flushall")
    assert int(redis_server.cli("llen", "celery") or 0) == 0
    jobs.start("worker")
    jobs.start("beat")
    _, waited = wait_for(
        all_delivered(smtp_sink, expected),
        DELIVERY_TIMEOUT,
        0.5,
        f"{smtp_sink.count()}/{expected} delivered after FLUSHALL\n{jobs.logs()}",
    )
    assert_exactly_once(smtp_sink, expected, "JOB-03 (100 notifications, queue wiped)")
    print(
        f"JOB-03: queue of {queued} wiped; {expected} delivered once in {waited:.1f}s by the drain"
    )


def test_job04_worker_killed_mid_delivery_delivers_exactly_once(
    jobs, smtp_sink, client, alice, manager, tmp_path
):
    marker = tmp_path / "stalled"
    stall = {
        "JOBS_EMAIL_BACKEND": "tests.reliability.jobs_backends.StallFirstSendBackend",
        "JOBS_STALL_MARKER": str(marker),
        "JOBS_STALL_SECONDS": "300",
    }
    first = jobs.start("worker", name="jobs1", **stall)
    jobs.start("beat")
    client.force_login(alice)
    submit(client, 5)
    expected = 10
    wait_for(marker.exists, 30, 0.1, f"no delivery started\n{jobs.logs()}")
    stalled_id = wait_for(lambda: marker.read_text(), 5, 0.05, "marker empty")[0]
    stalled = Notification.objects.get(message_id=stalled_id)
    assert stalled.status == "sending", f"the stalled row is {stalled.status}"
    first.kill()
    killed_at = time.monotonic()
    jobs.start("worker", name="jobs2", **stall)
    _, waited = wait_for(
        all_delivered(smtp_sink, expected),
        10 + 8 + 30,  # visibility timeout + stale time + 30 s
        0.5,
        f"{smtp_sink.count()}/{expected} delivered after SIGKILL\n{jobs.logs()}",
    )
    assert_exactly_once(smtp_sink, expected, "JOB-04 (worker SIGKILLed mid-delivery)")
    stalled.refresh_from_db()
    assert stalled.attempts == 2, (
        f"stalled row claimed {stalled.attempts}× (killed once, then sent)"
    )
    print(
        f"JOB-04: worker killed while sending {stalled_id}; all {expected} delivered once, "
        f"{time.monotonic() - killed_at:.1f}s after the kill"
    )


def test_job05_mail_server_down_then_back_and_a_permanent_failure(
    jobs, smtp_sink, client, alice, manager, partner_a
):
    bounce = factories.partner_user(partner_a, email="bounce@acme-resellers.example")
    smtp_sink.always_refuse = {bounce.email}
    smtp_sink.refuse_all = True
    jobs.start("worker")
    jobs.start("beat")
    client.force_login(alice)
    submit(client, 20)
    client.force_login(bounce)
    submit(client, 1)
    expected_ok = 41  # 20 × (alice + manager) + the manager's copy of bounce's submission
    wait_for(
        lambda: smtp_sink.refusals >= 42, 30, 0.2, f"{smtp_sink.refusals} refusals\n{jobs.logs()}"
    )
    time.sleep(4)  # the mail server stays down for a while: several retries each
    refusals_while_down = smtp_sink.refusals
    smtp_sink.refuse_all = False
    failed_row = email_rows().get(recipient=bounce)

    def done():
        failed_row.refresh_from_db()
        return (
            smtp_sink.count() >= expected_ok
            and failed_row.status == "failed"
            and email_rows().exclude(recipient=bounce).exclude(status="sent").count() == 0
        )

    _, waited = wait_for(
        done, DELIVERY_TIMEOUT, 0.5, f"{smtp_sink.count()}/{expected_ok} delivered\n{jobs.logs()}"
    )
    time.sleep(3)
    assert smtp_sink.count() == expected_ok, (
        f"{smtp_sink.count()} delivered, {expected_ok} expected"
    )
    assert not smtp_sink.duplicates(), f"duplicates: {smtp_sink.duplicates()}"
    assert refusals_while_down > 42, f"only {refusals_while_down} attempts while down: no retries?"
    failed_row.refresh_from_db()
    assert failed_row.status == "failed" and failed_row.attempts == MAX_ATTEMPTS, (
        f"permanent failure ended {failed_row.status} after {failed_row.attempts} attempts"
    )
    assert "451" in failed_row.last_error, failed_row.last_error
    retried = email_rows().exclude(recipient=bounce).filter(attempts__gt=1).count()
    assert retried == expected_ok, f"{retried}/{expected_ok} needed a retry"
    print(
        f"JOB-05: {refusals_while_down} refusals while down; {expected_ok} delivered once "
        f"{waited:.1f}s after recovery; 1 failed after {failed_row.attempts} attempts"
    )
