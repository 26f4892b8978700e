"""SEC-04: every route that accepts POST/PUT/PATCH/DELETE refuses a session request without a
CSRF token (403, nothing written); the same requests with token auth are not refused for CSRF;
GET/HEAD on every route changes no row. Routes are walked from the URLconf at test time."""

from __future__ import annotations

import pytest
from django.test import Client

from partners.services import token_create
from tests import factories
from tests.security.routes import all_routes, row_snapshot

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")
# Routes that take no session: a CSRF token protects cookies, and these never read one.
NO_SESSION_ROUTES = {
    "/api/v1/auth/token/": "exchanges e-mail + password for a token in the body; no cookie is "
    "read or set (authentication_classes = [])",
}
# Bookkeeping rows that reading a page legitimately touches.
VOLATILE_MODELS = {"sessions.Session", "partners.UserSession"}
VOLATILE_FIELDS = {"partners.ApiToken.last_used_at"}


@pytest.fixture
def world(alice, alice_admin, bob, manager, product):
    registration = factories.make_registration(alice, status="approved")
    factories.make_registration(bob)
    factories.make_opportunity()
    root = factories.manager_user(email="root@vendor.example", superuser=True)
    from allauth.account.models import EmailAddress

    from partners.models import User

    # allauth mirrors User.email into EmailAddress when its e-mail page is first shown; the
    # mirror rows exist up front so the GET sweep measures our routes, not that bookkeeping.
    for user in User.objects.all():
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"primary": True, "verified": True}
        )
    return {"registration": registration, "root": root}


def _is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content.upper()


def _send(client, method: str, path: str):
    """JSON first; a view that parses only forms/uploads (415) gets a multipart body, so the
    request reaches the CSRF check (DRF reads the body while looking for the token)."""
    response = getattr(client, method)(path, data="{}", content_type="application/json")
    if response.status_code == 415:
        body = client._encode_data({"x": "1"}, "multipart/form-data; boundary=BoUnDaRy")
        response = getattr(client, method)(
            path, data=body, content_type="multipart/form-data; boundary=BoUnDaRy"
        )
    return response


def test_sec04_session_requests_without_csrf_token_are_refused(world):
    routes = all_routes(str(world["registration"].pk))
    users = (world["root"], factories.partner_user(world["registration"].partner, role="admin"))
    clients = []
    for user in users:
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        client.force_login(user)  # (updates last_login: before the snapshot)
        clients.append((user, client))
    before = row_snapshot(VOLATILE_MODELS, VOLATILE_FIELDS)
    failures = []
    for user, client in clients:
        for route in routes:
            if route.path in NO_SESSION_ROUTES:
                continue
            for method in UNSAFE:
                response = _send(client, method, route.path)
                # The superuser may do anything and the partner admin has a company, so a 403
                # here is the CSRF check (it runs before any role check, in Django's middleware
                # and in DRF's SessionAuthentication); HTML-rendered DRF views (Swagger) do not
                # repeat the reason in the body.
                if response.status_code != 403:
                    failures.append(
                        f"{user.email} {method.upper()} {route.path}: {response.status_code} "
                        f"{response.content[:80]!r}"
                    )
    assert failures == [], "\n".join(failures)
    assert row_snapshot(VOLATILE_MODELS, VOLATILE_FIELDS) == before


def test_sec04_the_csrf_exemptions_are_only_the_listed_routes(world):
    """Every exempt route is real, and is exempt because it reads no session."""
    paths = {route.path for route in all_routes()}
    for path in NO_SESSION_ROUTES:
        assert path in paths
        from django.urls import resolve

        view = resolve(path).func.cls
        assert view.authentication_classes == []


def test_sec04_token_requests_are_not_refused_for_csrf(world, alice):
    _, raw = token_create(user=alice)
    client = Client(
        enforce_csrf_checks=True, raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {raw}"
    )
    refused = []
    for route in all_routes(str(world["registration"].pk)):
        if not route.is_api:
            continue
        for method in UNSAFE:
            response = getattr(client, method)(
                route.path, data="{}", content_type="application/json"
            )
            assert response.status_code < 500, f"{method} {route.path}"
            if _is_csrf_refusal(response):
                refused.append(f"{method.upper()} {route.path}")
    assert refused == []


def test_sec04_get_and_head_change_nothing(world, alice_admin):
    from django.core import mail

    routes = all_routes(str(world["registration"].pk))
    clients = []
    for user in (world["root"], alice_admin):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients.append(client)
    clients.append(Client(raise_request_exception=False))
    before = row_snapshot(VOLATILE_MODELS, VOLATILE_FIELDS)
    outbox = len(mail.outbox)
    errors = []
    for client in clients:
        for route in routes:
            for method in ("get", "head"):
                response = getattr(client, method)(route.path)
                if response.status_code >= 500:
                    errors.append(f"{method.upper()} {route.path}: {response.status_code}")
    after = row_snapshot(VOLATILE_MODELS, VOLATILE_FIELDS)
    changed = sorted(label for label in before if before[label] != after.get(label))
    assert changed == []
    assert len(mail.outbox) == outbox
    assert errors == []
