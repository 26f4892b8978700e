"""FUZZ-01 (in-process): schemathesis against the live OpenAPI schema through the WSGI
application (no server), as a partner member, a partner admin, a manager (token; TOTP
enrolled) and anonymous.

Slow (minutes), so it is only collected with RUN_FUZZ=1 (.ci/run sets it):

    RUN_FUZZ=1 .venv/bin/pytest -q -n 2 -p no:logging tests/api/test_schemathesis.py

Checks: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance; FUZZ_MAX_EXAMPLES (default 50) examples per operation and role.
"""

from __future__ import annotations

import os

import pytest

# Collected only with RUN_FUZZ=1 (tests/api/conftest.py: collect_ignore).
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from partners.services import token_create
from tests import factories

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _nodeid_compat(request):
    # schemathesis' lazy loader renames the pytest node through `_nodeid`, an attribute
    # pytest 9 no longer has: provide it.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_schema(db):
    from prm.wsgi import application

    # The WSGI handler would close pytest-django's connection at every request end.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _seed_and_token(user, alice, bob) -> dict:
    cache.clear()
    # Some data to find: a registration of each partner, an opportunity.
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    factories.make_registration(bob, customer_name="Globex Corp", customer_domain="globex.com")
    factories.make_opportunity()
    _, raw = token_create(user=user)
    return {"Authorization": f"Token {raw}"}


@pytest.fixture
def partner_header(alice, bob, product):
    return _seed_and_token(alice, alice, bob)


@pytest.fixture
def partner_admin_header(alice, alice_admin, bob, product):
    return _seed_and_token(alice_admin, alice, bob)


@pytest.fixture
def manager_header(manager, alice, bob, product):
    return _seed_and_token(manager, alice, bob)


schema = schemathesis.pytest.from_fixture("api_schema")
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_partner_member(case, partner_header):
    case.call_and_validate(headers=partner_header, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_partner_admin(case, partner_admin_header):
    case.call_and_validate(headers=partner_admin_header, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_manager(case, manager_header):
    case.call_and_validate(headers=manager_header, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous(case):
    case.call_and_validate(checks=CHECKS)
