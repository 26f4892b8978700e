"""Webhooks (docs/api.md "Webhooks"): managers register endpoints; each announced fact becomes a
delivery written with the event, sent after commit, signed per Standard Webhooks, retried with
the same webhook-id, and never sent to a private address unless the deployment allows it."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import time

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from deals.models import Notification
from deals.registrations import services as registration_services
from integrations import delivery as webhook_delivery
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.urlsafety import UnsafeUrl, check_url
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP endpoint on 127.0.0.1: records every request; answers from a script of
    status codes (the last one repeats); `delay` seconds before answering."""

    def __init__(self, statuses=(200,), delay=0.0):
        self.statuses, self.delay, self.requests = list(statuses), delay, []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                time.sleep(receiver.delay)
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                try:
                    self.send_response(receiver.statuses[index])
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_urls():
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True, WEBHOOK_TIMEOUT_SECONDS=1.0):
        yield


def _endpoint(manager, url, events=("registration.submitted",)):
    response = client_for(manager).post(
        "/api/v1/webhooks/", {"url": url, "events": list(events)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def _submit(alice, capture, **overrides):
    with capture(execute=True):
        return factories.make_registration(alice, **overrides)


# --- The API ------------------------------------------------------------------------------------


def test_webhook_create_shows_the_secret_once_and_lists_without_it(manager, local_urls):
    created = _endpoint(manager, "http://127.0.0.1:9/hook")
    assert created["secret"].startswith("whsec_")
    assert set(created) >= {"id", "url", "events", "active", "secret"}
    listed = client_for(manager).get("/api/v1/webhooks/").json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    detail = client_for(manager).get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in detail and detail["active"] is True


def test_webhooks_are_for_managers_only(alice, manager, local_urls):
    created = _endpoint(manager, "http://127.0.0.1:9/hook")
    partner = client_for(alice)
    assert partner.get("/api/v1/webhooks/").status_code == 403
    body = {"url": "http://127.0.0.1:9/x", "events": ["registration.submitted"]}
    assert partner.post("/api/v1/webhooks/", body, format="json").status_code == 403
    assert partner.delete(f"/api/v1/webhooks/{created['id']}/").status_code == 404  # invisible
    assert WebhookEndpoint.objects.count() == 1


def test_webhook_update_delete_and_unknown_ids(manager, local_urls):
    created = _endpoint(manager, "http://127.0.0.1:9/hook")
    client = client_for(manager)
    url = f"/api/v1/webhooks/{created['id']}/"
    changed = client.patch(url, {"events": ["conflict.opened"], "active": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["events"] == ["conflict.opened"] and changed.json()["active"] is False
    assert client.get("/api/v1/webhooks/999999/").status_code == 404
    assert client.get("/api/v1/webhooks/999999/deliveries/").status_code == 404
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://example.com/h", "events": []},
        {"url": "https://example.com/h", "events": ["registration.sneezed"]},
        {"url": "https://example.com/h"},
        {"events": ["registration.submitted"]},
        {"url": "https://example.com/h", "events": ["registration.submitted"], "secret": "x"},
    ],
)
def test_webhook_create_refuses_bad_input(manager, body):
    response = client_for(manager).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
        "https://user:pw@example.com/hook",
    ],
)
def test_webhook_urls_must_be_public_https(manager, url):
    response = client_for(manager).post(
        "/api/v1/webhooks/", {"url": url, "events": ["registration.submitted"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_url", "validation_error"}
    assert WebhookEndpoint.objects.count() == 0


def test_a_public_name_passes_and_a_rebound_name_is_refused():
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
    private = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.5", 443))]
    assert check_url("https://hooks.example.com/x", resolve=lambda *a, **k: public)
    with pytest.raises(UnsafeUrl):
        check_url("https://hooks.example.com/x", resolve=lambda *a, **k: private)


# --- Delivery -----------------------------------------------------------------------------------


def test_submission_is_delivered_signed_after_commit(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        created = _endpoint(manager, receiver.url)
        registration = _submit(alice, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    payload = Webhook(created["secret"]).verify(body, {k.lower(): v for k, v in headers.items()})
    assert payload["type"] == "registration.submitted"
    assert payload["data"]["registration"]["id"] == registration.pk
    assert "conflicts" in payload["data"]["registration"]  # the manager representation
    row = WebhookDelivery.objects.get()
    assert row.status == "delivered" and row.attempts == 1 and row.response_status == 200
    assert headers["webhook-id"] == row.message_id


def test_a_rolled_back_event_announces_nothing(alice, manager, product, local_urls):
    _endpoint(manager, "http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.make_registration(alice)
        assert WebhookDelivery.objects.count() == 1  # written with the event
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 0


def test_retries_keep_the_webhook_id_until_delivered(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with Receiver(statuses=(500, 503, 200)) as receiver:
        _endpoint(manager, receiver.url)
        _submit(alice, django_capture_on_commit_callbacks)
        row = WebhookDelivery.objects.get()
        assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
        assert row.next_attempt_at > row.created_at
        assert webhook_delivery.webhooks_drain() == {"released": 0}  # not due yet
        for _ in range(2):
            with time_machine.travel(
                WebhookDelivery.objects.get().next_attempt_at + dt.timedelta(seconds=1)
            ):
                webhook_delivery.webhooks_drain()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 3)
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert ids == {row.message_id} and len(receiver.requests) == 3


def test_a_timeout_is_retried(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with (
        override_settings(WEBHOOK_TIMEOUT_SECONDS=0.2),
        Receiver(statuses=(200,), delay=1.0) as receiver,
    ):
        _endpoint(manager, receiver.url)
        _submit(alice, django_capture_on_commit_callbacks)
    row = WebhookDelivery.objects.get()
    assert row.status == "pending" and row.attempts == 1
    assert "Timeout" in row.last_error


def test_failing_for_a_day_marks_failed_and_disables_the_endpoint(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with (
        override_settings(WEBHOOK_DISABLE_AFTER_FAILURES=1),
        Receiver(statuses=(500,)) as receiver,
    ):
        created = _endpoint(manager, receiver.url)
        _submit(alice, django_capture_on_commit_callbacks)
        for _ in range(len(webhook_delivery.RETRY_SCHEDULE)):
            due = WebhookDelivery.objects.get().next_attempt_at
            with time_machine.travel(due + dt.timedelta(seconds=1)):
                webhook_delivery.webhooks_drain()
    row = WebhookDelivery.objects.get()
    assert row.status == "failed"
    assert row.attempts == len(webhook_delivery.RETRY_SCHEDULE) + 1
    assert row.next_attempt_at - row.created_at > dt.timedelta(hours=20)  # about a day
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.active is False and "failed" in endpoint.disabled_reason
    # A disabled endpoint receives nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        factories.make_registration(alice, customer_name="Another Customer Ltd")
    assert WebhookDelivery.objects.count() == 1
    # Every manager is told once, on the bell and by e-mail, with a link to the Webhooks page.
    told = Notification.objects.filter(kind="webhook_disabled")
    assert {(n.recipient_id, n.channel) for n in told} == {
        (manager.pk, "in_app"),
        (manager.pk, "email"),
    }
    assert all(n.url == "/manage/webhooks/" and receiver.url in n.body for n in told)


def test_redeliver_sends_the_same_message_again(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        created = _endpoint(manager, receiver.url)
        _submit(alice, django_capture_on_commit_callbacks)
        row = WebhookDelivery.objects.get()
        client = client_for(manager)
        log = client.get(f"/api/v1/webhooks/{created['id']}/deliveries/").json()
        assert [d["id"] for d in log] == [row.pk] and log[0]["status"] == "delivered"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/api/v1/webhooks/{created['id']}/deliveries/{row.pk}/redeliver/"
            )
        assert response.status_code == 202
    assert [h["webhook-id"] for h, _ in receiver.requests] == [row.message_id] * 2
    other = client_for(manager).post(
        f"/api/v1/webhooks/{created['id']}/deliveries/999999/redeliver/"
    )
    assert other.status_code == 404


def test_only_subscribed_events_are_sent(
    alice, bob, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(manager, receiver.url, events=("conflict.opened", "registration.approved"))
        first = _submit(alice, django_capture_on_commit_callbacks, customer_name="Orbit Labs Inc")
        with django_capture_on_commit_callbacks(execute=True):
            factories.make_registration(bob, customer_name="Orbit Labs Inc")
        with django_capture_on_commit_callbacks(execute=True):
            registration_services.registration_approve(registration=first, actor=manager)
    types = [json.loads(body)["type"] for _, body in receiver.requests]
    assert sorted(types) == ["conflict.opened", "registration.approved"]
    conflict = next(json.loads(b) for _, b in receiver.requests if b'"conflict.opened"' in b)
    assert conflict["data"]["conflict"]["status"] == "open"


def test_the_broker_being_down_leaves_deliveries_for_the_drain(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks, monkeypatch
):
    with Receiver() as receiver:
        _endpoint(manager, receiver.url)
        monkeypatch.setattr(webhook_delivery, "webhooks_publish", lambda ids: 0)
        monkeypatch.setattr("integrations.services.webhooks_publish", lambda ids: 0)
        _submit(alice, django_capture_on_commit_callbacks)
        assert WebhookDelivery.objects.get().status == "pending"
        assert webhook_delivery.webhooks_drain()["delivered"] == 1
    assert len(receiver.requests) == 1


def test_rotation_signs_with_both_secrets_for_a_day(
    alice, manager, product, local_urls, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        created = _endpoint(manager, receiver.url)
        rotated = client_for(manager).post(f"/api/v1/webhooks/{created['id']}/rotate-secret/")
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != created["secret"]
        _submit(alice, django_capture_on_commit_callbacks)
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
            with django_capture_on_commit_callbacks(execute=True):
                factories.make_registration(alice, customer_name="Later Customer GmbH")
    (first_headers, first_body), (later_headers, later_body) = receiver.requests
    first = {k.lower(): v for k, v in first_headers.items()}
    later = {k.lower(): v for k, v in later_headers.items()}
    assert len(first["webhook-signature"].split(" ")) == 2
    Webhook(created["secret"]).verify(first_body, first)  # the old secret still verifies
    Webhook(new).verify(first_body, first)
    assert len(later["webhook-signature"].split(" ")) == 1  # a day later: the new one only
    with pytest.raises(Exception):  # noqa: B017 - the library's verification error
        Webhook(created["secret"]).verify(later_body, later)


def test_webhooks_page_shows_health_and_enables_a_disabled_endpoint(client, manager, alice):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in",
        events=["registration.approved"],
        secret="whsec_x",
        active=False,
        consecutive_failures=20,
        disabled_reason="Disabled after 20 deliveries failed in a row.",
    )
    client.force_login(manager)
    page = client.get("/manage/webhooks/").content.decode()
    assert "https://hooks.example.com/in" in page and "Disabled after 20 deliveries" in page
    response = client.post(f"/manage/webhooks/{endpoint.pk}/enable/")
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0 and not endpoint.disabled_reason
    assert client.post("/manage/webhooks/987654/enable/").status_code == 404
    assert client.get(f"/manage/webhooks/{endpoint.pk}/enable/").status_code == 405
    client.force_login(alice)
    assert client.get("/manage/webhooks/").status_code == 403
    assert client.post(f"/manage/webhooks/{endpoint.pk}/enable/").status_code == 403


def test_webhooks_page_redelivers_the_failed_deliveries_of_an_active_endpoint(
    client, manager, django_capture_on_commit_callbacks, monkeypatch
):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", events=["registration.approved"], secret="whsec_x"
    )
    rows = [
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="registration.approved",
            message_id=f"msg_{i}",
            dedupe_key=f"k{i}",
            payload={},
            status="failed",
            attempts=9,
        )
        for i in range(3)
    ]
    published = []
    monkeypatch.setattr("integrations.services.webhooks_publish", lambda ids: published.extend(ids))
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/manage/webhooks/{endpoint.pk}/redeliver-failed/")
    assert response.status_code == 302
    assert sorted(published) == sorted(r.pk for r in rows)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
