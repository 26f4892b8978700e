"""AUD-04: one structured record per security event (who, partner, route, object id, outcome,
UTC time), nothing secret in any record, CR/LF escaped."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.test import Client

from partners.services import token_create
from prm.security_log import log_event
from tests import factories
from tests.security.conftest import password_login

pytestmark = pytest.mark.django_db

REQUIRED = {"event", "outcome", "at", "user_id", "user", "partner_id", "route", "object_id"}


def _unmasked(html: bytes) -> bytes:
    """The page without its per-response masked CSRF token."""
    import re

    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def _assert_shape(record):
    assert REQUIRED <= set(record), record
    at = dt.datetime.fromisoformat(record["at"].replace("Z", "+00:00"))
    assert at.utcoffset() == dt.timedelta(0)


def test_failed_login_gives_one_record_without_the_password(alice, security_records):
    canary = "Canary-Password-7731"
    password_login(Client(), alice.email, canary)
    [record] = security_records.of("login_failed")
    _assert_shape(record)
    assert record["attempted_email"] == alice.email
    assert record["route"] == "/accounts/login/"
    assert record["outcome"] == "denied"
    assert canary not in "\n".join(security_records.lines)


def test_mfa_failure_gives_one_record_without_the_code(mfa_user, security_records):
    client = Client()
    password_login(client, mfa_user.email)
    client.post("/accounts/2fa/authenticate/", {"code": "424242"})
    [record] = security_records.of("mfa_failed")
    _assert_shape(record)
    assert record["user_id"] == mfa_user.pk
    assert record["partner_id"] == mfa_user.membership.partner_id
    assert "424242" not in "\n".join(security_records.lines)


def test_token_endpoint_rate_limit_gives_one_record_per_429(alice, security_records):
    client = Client()
    statuses = []
    for _ in range(8):
        response = client.post(
            "/api/v1/auth/token/",
            {"email": alice.email, "password": "Canary-Token-Pass"},
            content_type="application/json",
        )
        statuses.append(response.status_code)
    refused = statuses.count(429)
    assert refused >= 1
    records = security_records.of("rate_limited")
    assert len(records) == refused  # the middleware backstop does not double-log
    assert records[0]["route"] == "/api/v1/auth/token/"
    assert alice.email not in json.dumps(records)  # the limit's name, not the identifier
    assert len(security_records.of("login_failed")) == statuses.count(400)


def test_csrf_failure_is_logged_and_answered_as_json_on_the_api(alice, security_records):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    api = client.post("/api/v1/registrations/", "{}", content_type="application/json")
    page = client.post("/registrations/new/", {"customer_name": "x"})
    assert api.status_code == 403 and "CSRF" in api.json()["detail"]
    assert page.status_code == 403 and "text/html" in page["Content-Type"]
    records = security_records.of("csrf_failed") + security_records.of("permission_denied")
    assert len(records) == 2
    assert {r["route"] for r in records} == {"/api/v1/registrations/", "/registrations/new/"}
    for record in records:
        _assert_shape(record)
        assert record["user_id"] == alice.pk


def test_csrf_failure_view_answers_json_for_api_paths(security_records):
    from django.test import RequestFactory

    from prm.security_log import csrf_failure

    request = RequestFactory().post("/api/v1/conflict-check/")
    response = csrf_failure(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "csrf_failed"
    assert len(security_records.of("csrf_failed")) == 1


def test_cross_tenant_404_is_logged_and_the_answer_is_unchanged(alice, bob, security_records):
    foreign = factories.make_registration(bob)
    _, raw = token_create(user=alice)
    client = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    foreign_response = client.get(f"/api/v1/registrations/{foreign.pk}/")
    missing_response = client.get("/api/v1/registrations/987654/")
    assert foreign_response.status_code == missing_response.status_code == 404
    assert foreign_response.content == missing_response.content
    [record] = security_records.of("not_found_foreign")
    _assert_shape(record)
    assert record["object_id"] == foreign.pk
    assert record["user_id"] == alice.pk
    assert record["partner_id"] == alice.membership.partner_id
    assert record["route"] == "/api/v1/registrations/<id:pk>/"
    assert record["model"] == "deals.dealregistration"
    page = Client()
    page.force_login(alice)
    foreign_page = page.get(f"/registrations/{foreign.pk}/")
    missing_page = page.get("/registrations/987654/")
    assert foreign_page.status_code == missing_page.status_code == 404
    assert _unmasked(foreign_page.content) == _unmasked(missing_page.content)
    assert len(security_records.of("not_found_foreign")) == 2


def test_permission_denied_is_logged_once(alice, security_records):
    _, raw = token_create(user=alice)
    response = Client(HTTP_AUTHORIZATION=f"Token {raw}").get("/api/v1/opportunities/")
    assert response.status_code == 403
    [record] = security_records.of("permission_denied")
    _assert_shape(record)
    assert record["route"] == "/api/v1/opportunities/"
    page = Client()
    page.force_login(alice)
    assert page.get("/manage/").status_code == 403
    assert len(security_records.of("permission_denied")) == 2


def test_no_record_contains_secrets(alice, mfa_user, security_records):
    """Canary secrets sent through every logged path appear in no record."""
    password = "Canary-Pass-5519"
    token = "db_CanaryTokenValue0000000000000000000000000"
    password_login(Client(), alice.email, password)
    Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/opportunities/")
    _, raw = token_create(user=alice)
    session_client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {raw}")
    session_client.get("/api/v1/opportunities/")
    mfa_client = Client()
    password_login(mfa_client, mfa_user.email)
    mfa_client.post("/accounts/2fa/authenticate/", {"code": "135791"})
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.post("/registrations/new/", {"customer_name": password})
    session_id = browser.cookies[settings.SESSION_COOKIE_NAME].value
    text = "\n".join(security_records.lines)
    assert security_records.lines
    for secret in (password, token, raw, "135791", session_id, mfa_user.totp_secret):
        assert secret not in text, secret
    for record in security_records.records:
        assert not {k for k in record if "password" in k or "token" in k or "session" in k}


def test_cr_lf_in_user_input_is_escaped(alice, security_records):
    forged = 'evil@example.com\r\n{"event": "login_succeeded"}'
    password_login(Client(), forged, "whatever-password-1")
    record = log_event("probe", outcome="denied", customer_name="Globex\r\nFAKE RECORD\u2028x")
    for line in security_records.lines:
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert record["customer_name"].startswith("Globex\r\n")
    assert json.loads(security_records.lines[-1])["customer_name"] == record["customer_name"]
    assert security_records.lines


def test_secret_looking_extra_keys_are_dropped(security_records):
    log_event("probe", password="p", token="t", totp_code="1", session_key="s", note="kept")
    [record] = security_records.records
    assert record["note"] == "kept"
    assert not {"password", "token", "totp_code", "session_key"} & set(record)


def test_the_security_logger_writes_one_json_object_per_line():
    handlers = settings.LOGGING["loggers"]["prm.security"]["handlers"]
    formatter = settings.LOGGING["handlers"][handlers[0]]["formatter"]
    assert settings.LOGGING["formatters"][formatter]["format"] == "%(message)s"
