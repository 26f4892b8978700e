"""Issue 20, item 3: no 500 for any input. Three classes the outside probe found, each
generated (Hypothesis strategies below) rather than listed by hand, and swept over every route
of the URLconf (tests/security/routes.py walks it, so new routes are covered automatically):

- ids beyond a 64-bit integer (2**63 .. 10**30, and Unicode digits such as "²") in paths → 404,
  in id filters (`?partner=`, `?registration=`) → 400, in portal forms → 404/400;
- dates at the far ends of the calendar (year 1..1899, 3000..9999) in report periods → 400;
- JSON nested deeper than prm.parsers.MAX_JSON_DEPTH (up to 100,000 levels) → 400, before any
  recursive parsing, signed in or not.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings

from prm.lib.ids import MAX_ID, parse_id
from prm.parsers import MAX_JSON_DEPTH, json_depth
from tests import factories
from tests.api.conftest import client_for
from tests.hostile import deep_depths, deep_json, far_dates, huge_ids
from tests.security.routes import all_routes, iter_routes

# Not swept for query values: Django's admin and allauth read none of ours, and the schema
# views regenerate the whole OpenAPI document (seconds) on every call.
SWEEP_SKIP = ("/admin/", "/accounts/", "/api/schema/", "/api/docs/")

# Path sweeps make one request per route per example: a few examples cover the class.
SWEEP = settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_ids_parse_as_64_bit():
    assert parse_id("1") == 1
    assert parse_id(str(MAX_ID)) == MAX_ID
    for bad in (str(MAX_ID + 1), "0", "-1", "²", "١٢٣", " ", "", "1e3", None, True, 2**64):
        assert parse_id(bad) is None, bad


def test_json_depth_is_counted_without_recursion():
    assert json_depth(b'{"a": [1, {"b": "[[[[\\"{{"}]}') == 3
    assert json_depth(deep_json(100_000)) == 100_000
    assert json.loads(deep_json(7)) is not None


# --- Ids beyond 64 bits --------------------------------------------------------------------------


def test_every_object_route_uses_the_64_bit_converter():
    """Meta-test: no route of the URLconf takes Django's unbounded `<int:...>`."""
    unbounded = [r.pattern for r in iter_routes() if "<int:" in r.pattern]
    assert unbounded == []
    assert any("<id:" in r.pattern for r in iter_routes())


@SWEEP
@given(raw=huge_ids)
def test_huge_ids_in_paths_are_404_on_every_route(people, raw):
    routes = [r for r in all_routes() if "<id:" in r.pattern]
    assert routes
    for route in routes:
        path = route.path.replace("/1/", f"/{raw}/")
        with pytest.raises(Resolver404):
            resolve(path)
        for client in people:
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                assert response.status_code == 404, (method, path, response.status_code)


@SWEEP
@given(raw=huge_ids, date=far_dates)
def test_hostile_query_values_never_500_on_any_page_or_api_list(people, raw, date):
    """Every GET route of the URLconf (but SWEEP_SKIP), as a manager and as a partner admin,
    with id filters beyond 64 bits and report periods at the far ends of the calendar: 4xx,
    or the filter ignored (200), never 5xx."""
    query = {
        "partner": raw,
        "registration": raw,
        "user": raw,
        "from": date,
        "to": date,
        "page": raw,
        "page_size": raw,
    }
    for route in all_routes():
        if route.path.startswith(SWEEP_SKIP):
            continue
        for client in people[:2]:  # manager, partner admin
            response = client.get(route.path, query)
            assert response.status_code < 500, (route.path, query, response.status_code)


@pytest.fixture
def people(db):
    """A manager, a partner admin and a partner member, each signed in (sessions work on the
    API too); one set for all of a test's generated examples."""
    partner = factories.PartnerFactory(name="Hostile Input Resellers", domains=["hostile.com"])
    admin = factories.partner_user(partner, role="admin", email="admin@hostile.com")
    member = factories.partner_user(partner, email="member@hostile.com")
    manager = factories.manager_user(email="hostile-judge@vendor.example")
    clients = []
    for user in (manager, admin, member):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


@pytest.mark.parametrize("raw", ["9" * 20, str(2**63), str(2**64), "²"])
def test_id_filters_beyond_64_bits_are_400(manager, alice_admin, raw):
    api = client_for(manager)
    for url in ("/api/v1/registrations/", "/api/v1/reports/summary/", "/api/v1/conflicts/"):
        name = "registration" if "conflicts" in url else "partner"
        response = api.get(url, {name: raw})
        assert response.status_code == 400, (url, response.content)
        assert name in response.json()["fields"]
    page = Client()
    page.force_login(manager)
    assert page.get("/manage/", {"partner": raw}).status_code == 400
    assert page.get("/registrations/", {"partner": raw}).status_code == 400
    assert page.get("/manage/reports/", {"partner": raw}).status_code == 400
    portal = Client()
    portal.force_login(alice_admin)
    response = portal.post(f"/company/users/{raw}/role/", {"role": "admin"})
    assert response.status_code == 404


def test_company_user_role_with_an_id_of_nineteen_digits_is_404(alice_admin):
    portal = Client()
    portal.force_login(alice_admin)
    response = portal.post(f"/company/users/{MAX_ID}/role/", {"role": "admin"})
    assert response.status_code == 404


# --- Far dates -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_far_report_dates_are_400_everywhere(manager, alice, field, value):
    api = client_for(manager)
    for url in ("/api/v1/reports/summary/", "/api/v1/reports/registrations.csv"):
        response = api.get(url, {field: value})
        assert response.status_code == 400, (url, response.status_code)
        assert field in response.json()["fields"]
    for user, url in ((manager, "/manage/reports/"), (alice, "/scorecard/")):
        page = Client()
        page.force_login(user)
        response = page.get(url, {field: value})
        assert response.status_code == 400, (url, response.status_code)
        assert b"Use a date between" in response.content


# --- Deep JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deep_json_is_400_before_parsing_even_anonymous(db, depth):
    response = client_for().post(
        "/api/v1/auth/token/", deep_json(depth), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_json_at_the_depth_limit_is_parsed(db):
    response = client_for().post(
        "/api/v1/auth/token/", deep_json(MAX_JSON_DEPTH), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"  # parsed, then refused as a body


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(depth=deep_depths)
def test_generated_deep_json_is_400_on_every_json_endpoint(alice, depth):
    """Every API route takes the same parser: a route that reads the body refuses the generated
    depth with parse_error; none answers 5xx (a route that never reads a body may say 200)."""
    client = client_for(alice)
    body = deep_json(depth)
    for route in all_routes():
        if route.is_api and "auth/token" not in route.path:
            response = client.post(route.path, body, content_type="application/json")
            assert response.status_code < 500, (route.path, response.status_code)
            if response.status_code == 400:
                assert response.json()["code"] == "parse_error", route.path
