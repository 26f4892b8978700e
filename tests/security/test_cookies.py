"""SEC-03: with the production cookie settings every Set-Cookie is Secure, __Host- named
(Path=/, no Domain), SameSite=Lax; the session cookie is HttpOnly."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.security.conftest import password_login

PRODUCTION_COOKIES = {
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SESSION_COOKIE_NAME": "__Host-sessionid",
    "CSRF_COOKIE_NAME": "__Host-csrftoken",
}


def _collect(response, seen: list):
    for morsel in response.cookies.values():
        seen.append(morsel)


@pytest.mark.django_db
@override_settings(**PRODUCTION_COOKIES)
def test_sec03_every_cookie_is_secure_host_prefixed_and_samesite(alice, mfa_user):
    from tests.security.conftest import totp_now

    client = Client()
    seen = []
    _collect(client.get("/accounts/login/", secure=True), seen)  # CSRF cookie
    _collect(password_login(client, alice.email, secure=True), seen)  # session cookie
    _collect(client.get("/", secure=True), seen)
    _collect(client.post("/accounts/logout/", secure=True), seen)  # session cleared
    # The MFA stage writes the session before the second factor, then cycles it.
    other = Client()
    _collect(password_login(other, mfa_user.email, secure=True), seen)
    _collect(
        other.post(
            "/accounts/2fa/authenticate/", {"code": totp_now(mfa_user.totp_secret)}, secure=True
        ),
        seen,
    )
    names = {m.key for m in seen}
    assert {"__Host-sessionid", "__Host-csrftoken"} <= names, names
    for morsel in seen:
        assert morsel["secure"], morsel.key
        assert morsel.key.startswith("__Host-"), morsel.key
        assert morsel["path"] == "/", morsel.key
        assert not morsel["domain"], morsel.key
        assert morsel["samesite"] in ("Lax", "Strict"), morsel.key
        if morsel.key == "__Host-sessionid":
            assert morsel["httponly"], morsel.key
