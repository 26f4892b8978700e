"""FUZZ-03: the OpenAPI schema validates, declares every status code each operation can
return, and shares one error component."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from tests.api import matrix


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _operations(schema):
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/") or "/reports/" in path:
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method.upper(), operation


def test_spectacular_validate_fail_on_warn_passes(schema):
    assert schema["openapi"].startswith("3.")


def test_error_shape_is_one_shared_component(schema):
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"code", "detail"}
    assert {"code", "detail", "fields", "rows", "existing_id"} <= set(error["properties"])
    for path, method, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorResponse", (path, method, code)


def test_every_operation_declares_its_status_codes(schema):
    rules = {(name, method): rule for (name, method), rule in matrix.ROLE_MATRIX.items()}
    by_route = {}
    for route, name, _, methods in matrix.api_routes():
        path = "/" + __import__("re").sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: "{" + ("id" if m.group(1) == "pk" else m.group(1)) + "}",
            route,
        )
        for method in methods:
            by_route[(path, method)] = name
    seen = 0
    for path, method, operation in _operations(schema):
        name = by_route[(path, method)]
        codes = set(operation["responses"])
        rule = rules[(name, method)]
        if rule != "public":
            assert {"401", "403"} <= codes, (path, method)
        if name in matrix.OBJECT_ROUTES:
            assert "404" in codes, (path, method)
        if method in ("POST", "PATCH") and name not in (
            "api-notification-read",
            "api-notifications-read-all",
        ):
            assert "400" in codes, (path, method)
        if name.startswith("api-registration-") and name.split("api-registration-")[1] in (
            "submit",
            "approve",
            "reject",
            "request-info",
            "withdraw",
            "close",
        ):
            assert "409" in codes, (path, method)
        seen += 1
    assert seen >= 40
    assert "429" in schema["paths"]["/api/v1/conflict-check/"]["post"]["responses"]
    assert "429" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/v1/registrations/"]["post"]["responses"]


def test_docs_page_uses_local_assets(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert client.get("/api/schema/", {"format": "json"}).status_code == 200
