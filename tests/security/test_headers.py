"""SEC-02: security headers on every response class; CSP on every HTML page; no-store on
authenticated responses. SEC-05: a forced exception gives the JSON error shape, no traceback."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from partners.services import token_create
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.security.urls_probe"),
]

PRODUCTION_HSTS = {
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
}


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_headers(response, *, authenticated: bool, label: str):
    h = response.headers
    assert "max-age=" in h.get("Strict-Transport-Security", ""), label
    max_age = int(re.search(r"max-age=(\d+)", h["Strict-Transport-Security"]).group(1))
    assert max_age >= 31536000, label
    assert "includeSubDomains" in h["Strict-Transport-Security"], label
    assert h.get("X-Content-Type-Options") == "nosniff", label
    assert h.get("Referrer-Policy"), label
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", label
    csp = _directives(h.get("Content-Security-Policy", ""))
    assert h.get("X-Frame-Options") == "DENY" or csp.get("frame-ancestors") == ["'none'"], label
    if "text/html" in h.get("Content-Type", ""):
        assert csp.get("default-src") == ["'self'"], label
        assert csp.get("object-src") == ["'none'"], label
        assert csp.get("base-uri") == ["'none'"], label
        script_src = csp.get("script-src", csp.get("default-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, label
    if authenticated:
        assert "no-store" in h.get("Cache-Control", ""), label


@pytest.fixture
def clients(alice, manager):
    anonymous = Client(raise_request_exception=False)
    partner = Client(raise_request_exception=False)
    partner.force_login(alice)
    staff = Client(raise_request_exception=False)
    staff.force_login(manager)
    _, raw = token_create(user=alice)
    token = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {raw}")
    admin = Client(raise_request_exception=False)
    admin.force_login(factories.manager_user(email="root@vendor.example", superuser=True))
    return {
        "anonymous": anonymous,
        "partner": partner,
        "manager": staff,
        "admin": admin,
        "token": token,
    }


def _hammer_token_endpoint(client):
    response = None
    for _ in range(30):
        response = client.post(
            "/api/v1/auth/token/",
            {"email": "nobody@example.com", "password": "wrong-password-1"},
            content_type="application/json",
            secure=True,
        )
        if response.status_code == 429:
            break
    return response


@override_settings(**PRODUCTION_HSTS)
def test_sec02_every_response_class_carries_the_headers(clients, alice, manager):
    registration = factories.make_registration(alice)
    cases = [
        # (client, method, path, expected status, authenticated?)
        ("partner", "get", "/", 200, True),  # HTML 200
        ("partner", "get", f"/registrations/{registration.pk}/", 200, True),
        ("token", "get", "/api/v1/me/", 200, True),  # API 200
        ("partner", "get", "/api/v1/me/", 200, True),
        ("partner", "get", "/registrations/999999/", 404, True),  # page 404
        ("token", "get", "/api/v1/registrations/999999/", 404, True),  # API 404
        ("anonymous", "get", "/no/such/page/", 404, False),
        ("partner", "get", "/manage/", 403, True),  # page 403
        ("token", "get", "/api/v1/opportunities/", 403, True),  # API 403
        ("partner", "get", "/probe/boom/", 500, True),  # page 500
        ("token", "get", "/api/v1/probe/boom/", 500, True),  # API 500
        ("anonymous", "get", "/accounts/login/", 200, False),  # allauth
        ("anonymous", "get", "/accounts/password/reset/", 200, False),
        ("manager", "get", "/accounts/2fa/", 200, True),
        ("manager", "get", "/admin/", 200, True),  # admin
        ("admin", "get", "/admin/partners/partner/", 200, True),
        ("manager", "get", "/admin/partners/partner/", 403, True),
        ("anonymous", "get", "/admin/", 302, False),
        ("anonymous", "get", "/api/v1/me/", 401, False),
        ("anonymous", "get", "/api/docs/", 200, False),
        ("anonymous", "get", "/api/schema/", 200, False),
        ("anonymous", "get", "/healthz", 200, False),
    ]
    for who, method, path, status, authenticated in cases:
        response = getattr(clients[who], method)(path, secure=True)
        label = f"{who} {method.upper()} {path} -> {response.status_code}"
        assert response.status_code == status, label
        assert_headers(response, authenticated=authenticated, label=label)
    throttled = _hammer_token_endpoint(clients["anonymous"])  # API 429
    assert throttled.status_code == 429
    assert_headers(throttled, authenticated=False, label="429 token endpoint")


@override_settings(**PRODUCTION_HSTS)
def test_sec02_allauth_429_page_carries_the_headers(alice):
    """allauth's own 429 page (its "reset_password" limit, 5/m per e-mail in settings): the
    first five resets for one address go through, the sixth is a 429 with every header."""
    from django.core.cache import cache

    cache.clear()  # allauth counts in the cache; start from an empty window
    client = Client()
    statuses = [
        client.post("/accounts/password/reset/", {"email": alice.email}, secure=True).status_code
        for _ in range(6)
    ]
    assert statuses == [302] * 5 + [429], statuses
    response = client.post("/accounts/password/reset/", {"email": alice.email}, secure=True)
    assert response.status_code == 429
    assert_headers(response, authenticated=False, label="allauth reset -> 429")


def test_swagger_ui_works_under_the_csp():
    """/api/docs/ has no inline script: the init script is a separate same-origin file."""
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    csp = _directives(page.headers["Content-Security-Policy"])
    assert "'unsafe-inline'" not in csp["script-src"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "Swagger UI page has no scripts at all"
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"inline script: {body[:80]!r}"
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    init = [s for s in sources if "script" in s and not s.endswith(".js")]
    assert init, sources
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert "SwaggerUIBundle" in script.content.decode()
    for source in sources:
        assert source.startswith("/"), f"not same-origin: {source}"


def test_sec05_forced_exception_gives_json_error_without_internals(alice):
    _, raw = token_create(user=alice)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.get("/api/v1/probe/boom/")
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "detail"} and body["code"] == "server_error"
    page = Client(raise_request_exception=False).get("/probe/boom/")
    assert page.status_code == 500
    # A reference to quote to support, the same in the page, the header and the log line.
    reference = page.headers["X-Error-Reference"]
    assert re.fullmatch(r"[0-9A-F]{12}", reference)
    assert reference in page.content.decode()
    assert response.headers["X-Error-Reference"] in body["detail"]
    assert response.headers["X-Error-Reference"] != reference
    for text in (response.content.decode(), page.content.decode()):
        for leak in ("Traceback", "SELECT", "SECRET_KEY", "/srv/app", ".py", "probe"):
            assert leak not in text, leak
