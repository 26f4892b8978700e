"""Issue 21, item 4: the read-replica router (prm.dbrouting) is inert without
DATABASE_REPLICA_URL, and with a replica it routes only report reads, never for a pinned client.
The end-to-end proof on two PostgreSQL databases is tests/reliability/test_read_replica.py."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory

from deals.models import DealRegistration
from prm import dbrouting
from prm.dbrouting import ReplicaRouter, read_alias, replica_reads


@pytest.fixture
def with_replica(monkeypatch):
    """As if DATABASE_REPLICA_URL were set (the router's one question), without a server."""
    monkeypatch.setattr(dbrouting, "replica_configured", lambda: True)


def test_no_replica_configured_by_default():
    assert "replica" not in settings.DATABASES
    assert "prm.dbrouting.ReplicaRouter" in settings.DATABASE_ROUTERS


def test_router_is_inert_without_a_replica():
    router = ReplicaRouter()
    with replica_reads():
        assert router.db_for_read(DealRegistration) is None
        assert read_alias() == "default"
    assert router.db_for_write(DealRegistration) is None
    assert router.allow_migrate("default", "deals") is None


@pytest.mark.django_db
def test_report_api_reads_the_suite_database_and_sets_no_cookie(client, manager):
    """On SQLite (and any suite without a replica) the reports work as before; no pin cookie."""
    client.force_login(manager)
    response = client.get("/api/v1/reports/summary/")
    assert response.status_code == 200, response.content
    assert settings.REPLICA_PIN_COOKIE_NAME not in response.cookies
    response = client.post("/api/v1/registrations/", data={}, content_type="application/json")
    assert settings.REPLICA_PIN_COOKIE_NAME not in response.cookies
    assert connection.alias == "default"


def test_with_a_replica_only_report_reads_go_there(with_replica):
    router = ReplicaRouter()
    assert router.db_for_read(DealRegistration) is None  # outside a report: the primary
    with replica_reads():
        assert router.db_for_read(DealRegistration) == "replica"
        assert router.db_for_write(DealRegistration) == "default"
    assert router.allow_migrate("replica", "deals") is False


def test_a_client_that_just_wrote_reads_the_primary(with_replica):
    request = RequestFactory().get("/api/v1/reports/summary/")
    request.COOKIES[settings.REPLICA_PIN_COOKIE_NAME] = "1"
    with replica_reads(request):
        assert read_alias() == "default"
    with replica_reads(RequestFactory().get("/")):
        assert read_alias() == "replica"


def test_an_unsafe_request_pins_the_client_to_the_primary(with_replica):
    middleware = dbrouting.PrimaryPinMiddleware(lambda request: dbrouting.HttpResponse("ok"))
    posted = middleware(RequestFactory().post("/api/v1/registrations/"))
    cookie = posted.cookies[settings.REPLICA_PIN_COOKIE_NAME]
    assert cookie.value == "1"
    assert cookie["max-age"] == settings.REPLICA_PIN_SECONDS
    assert cookie["httponly"]
    read = middleware(RequestFactory().get("/api/v1/reports/summary/"))
    assert settings.REPLICA_PIN_COOKIE_NAME not in read.cookies


def test_a_streaming_export_reads_the_replica_while_it_streams(with_replica):
    """The CSV export reads after the view returned: every chunk is produced in the context."""
    seen = []

    def chunks():
        for _ in range(3):
            seen.append(read_alias())
            yield b"row\n"

    @dbrouting.reads_from_replica
    def view(request):
        return dbrouting.StreamingHttpResponse(chunks())

    response = view(RequestFactory().get("/x"))
    assert read_alias() == "default"
    assert b"".join(response.streaming_content) == b"row\nrow\nrow\n"
    assert seen == ["replica"] * 3
