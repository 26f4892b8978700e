"""FUZZ-01 (in-process): schemathesis against the live OpenAPI schema through the WSGI
application (no server), as a partner member, a partner admin, a manager (token; TOTP
enrolled) and anonymous.

Slow (minutes), so it is only collected with RUN_FUZZ=1 (.ci/run sets it):

    RUN_FUZZ=1 .venv/bin/pytest -q -n 2 -p no:logging tests/api/test_schemathesis.py

Checks: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance; FUZZ_MAX_EXAMPLES (default 50) examples per operation and role.

Issue 20's classes of hostile input are generated on top of schemathesis' own cases
(tests/hostile.py): every path id and id filter beyond a 64-bit integer, report periods at the
far ends of the calendar, JSON bodies nested deeper than the parser's limit. Each must be a 4xx
(a path id: 404), never a 5xx.
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
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from partners.services import token_create
from prm.parsers import MAX_JSON_DEPTH
from tests import factories
from tests.hostile import DATE_FILTERS, ID_FILTERS, far_dates, huge_ids, nested

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


# --- Issue 20: hostile classes on every operation ----------------------------------------------

hostile_inputs = st.one_of(
    st.tuples(st.just("id"), huge_ids),
    st.tuples(st.just("date"), far_dates),
    # json.dumps recurses per level: hundreds deep is plenty past the parser's limit.
    st.tuples(st.just("depth"), st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=400)),
)
HOSTILE_SETTINGS = settings(
    max_examples=max(5, MAX_EXAMPLES // 5),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],
)


def _hostile_call(case, hostile, headers=None):
    kind, value = hostile
    replaced_path = False
    if kind == "id":
        if case.path_parameters:
            case.path_parameters = {name: value for name in case.path_parameters}
            replaced_path = True
        case.query = {**(case.query or {}), **dict.fromkeys(ID_FILTERS, value)}
    elif kind == "date":
        case.query = {**(case.query or {}), **dict.fromkeys(DATE_FILTERS, value)}
    elif kind == "depth" and isinstance(case.body, dict | list):
        case.body = nested(value)
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, kind, response.text[:300])
    if replaced_path and headers:
        assert response.status_code == 404, (case.method, case.formatted_path, response.status_code)
    json_body = (case.media_type or "application/json") == "application/json"
    if kind == "depth" and isinstance(case.body, list | dict) and response.status_code == 400:
        # A JSON body past the depth limit is refused by the parser; a multipart form (the CSV
        # import) is not JSON at all, and is refused for its missing file instead.
        assert response.json()["code"] == ("parse_error" if json_body else "validation_error")


@schema.parametrize()
@schema.given(hostile=hostile_inputs)
@HOSTILE_SETTINGS
def test_hostile_classes_manager(case, hostile, manager_header):
    _hostile_call(case, hostile, manager_header)


@schema.parametrize()
@schema.given(hostile=hostile_inputs)
@HOSTILE_SETTINGS
def test_hostile_classes_partner_admin(case, hostile, partner_admin_header):
    _hostile_call(case, hostile, partner_admin_header)


@schema.parametrize()
@schema.given(hostile=hostile_inputs)
@HOSTILE_SETTINGS
def test_hostile_classes_anonymous(case, hostile):
    _hostile_call(case, hostile)
