"""Issue 21, item 4 end to end: a gunicorn process with DATABASE_REPLICA_URL pointing at a
second PostgreSQL database standing in for the replica (a copy of the test database taken
with CREATE DATABASE … TEMPLATE, then left behind by the writes that follow, as a lagging
replica would be). Report and export reads come from the replica; a client that has just
written reads the primary; writes never reach the replica."""

from __future__ import annotations

import csv
import io
import os

import httpx
import psycopg
import pytest
from django.db import connection, connections

from partners.services import token_create
from tests import factories
from tests.reliability.scaleout import Gunicorn

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        os.environ.get("RUN_RELIABILITY") != "1",
        reason="reliability suite: RUN_RELIABILITY=1 (.ci/run's reliability step)",
    ),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the replica stand-in is a second PostgreSQL database (DATABASE_URL=postgres://…)",
    ),
]


def _url(settings_dict, name: str) -> str:
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    user = settings_dict["USER"] or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def _submitted(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text[:300]
    return response.json()["registrations"]["total"]


def test_reports_read_the_replica_unless_the_client_just_wrote(transactional_db, product):
    partner = factories.PartnerFactory(name="Replica Resellers")
    seller = factories.partner_user(partner, email="seller@replica-resellers.example")
    manager = factories.manager_user(email="judge@vendor.example")
    manager_token = token_create(user=manager)[1]
    factories.make_registration(seller, customer_name="Before Copy One", customer_domain="bc1.com")

    settings_dict = connection.settings_dict
    primary, replica = settings_dict["NAME"], f"{settings_dict['NAME']}_replica"
    admin_url = _url(settings_dict, "postgres")
    connections.close_all()  # TEMPLATE needs the test database without sessions
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{replica}"')
        admin.execute(f'CREATE DATABASE "{replica}" TEMPLATE "{primary}"')
    server = Gunicorn(
        {
            "DATABASE_URL": _url(settings_dict, primary),
            "DATABASE_REPLICA_URL": _url(settings_dict, replica),
            "CACHE_URL": "locmemcache://",
        },
        workers=1,
        threads=2,
    )
    try:
        # The replica lags: these exist on the primary only.
        late = [
            factories.make_registration(
                seller, customer_name=f"After Copy {i}", customer_domain=f"ac{i}.com"
            )
            for i in range(3)
        ]
        server.start()
        server.wait_ready()
        headers = {"Authorization": f"Token {manager_token}"}
        summary = f"{server.url}/api/v1/reports/summary/"
        export = f"{server.url}/api/v1/reports/registrations.csv"
        with httpx.Client(headers=headers, timeout=60) as reader:
            assert _submitted(reader.get(summary)) == 1  # the replica's figure
            rows = list(csv.reader(io.StringIO(reader.get(export).text)))
            assert len(rows) == 1 + 1, rows  # header + the one row the replica has
        with httpx.Client(headers=headers, timeout=60) as writer:
            approved = writer.post(f"{server.url}/api/v1/registrations/{late[0].pk}/approve/")
            assert approved.status_code == 200, approved.text[:300]
            assert _submitted(writer.get(summary)) == 4  # pinned: the primary
            rows = list(csv.reader(io.StringIO(writer.get(export).text)))
            assert len(rows) == 1 + 4
            # Everything else reads the primary: the registration just approved.
            detail = writer.get(f"{server.url}/api/v1/registrations/{late[0].pk}/")
            assert detail.json()["status"] == "approved"
        with psycopg.connect(_url(settings_dict, replica)) as direct:
            count = direct.execute("SELECT count(*) FROM deals_dealregistration").fetchone()[0]
            assert count == 1, "a write reached the replica"
    finally:
        log = server.stderr()
        server.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{replica}" WITH (FORCE)')
        print(log)
