"""Bad input gets a clear error and never a 500: NUL characters and lone surrogates, which no
database can store, in query strings and in JSON bodies."""

from __future__ import annotations

import json

from tests import factories
from tests.api.conftest import client_for


def test_nul_in_api_query_string_is_400(manager, alice):
    for user in (manager, alice):
        response = client_for(user).get("/api/v1/registrations/", {"status": "sub\x00mitted"})
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"


def test_nul_in_page_query_string_is_400(client, alice):
    client.force_login(alice)
    response = client.get("/registrations/", {"search": "a\x00b"})
    assert response.status_code == 400
    # A styled page that says what was wrong (issue 18: it was a plain-text line).
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<!doctype html>" in page.lower() and "cannot be searched for" in page


def test_lone_surrogate_in_json_body_is_a_field_error(alice, product):
    body = json.dumps(factories.registration_data(customer_name="Acme \ud83d"), ensure_ascii=True)
    response = client_for(alice).post(
        "/api/v1/registrations/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "customer_name" in response.json()["fields"]
