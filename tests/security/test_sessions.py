"""AUTH-05: session lifecycle. Key rotation on login and MFA step-up, logout, idle (30 min) and
absolute (12 h) expiry on a frozen clock, password change / deactivation / suspension ending
every other session and every token at once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from partners import services as partner_services
from partners.models import UserSession
from partners.services import token_create
from tests import factories
from tests.security.conftest import is_signed_in, password_login, totp_now

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _session_key(client):
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def _token_client(raw):
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def test_auth05_session_key_changes_on_login(alice):
    client = Client()
    session = client.session
    session["probe"] = 1
    session.save()
    before = _session_key(client)
    assert before
    password_login(client, alice.email)
    assert is_signed_in(client)
    assert _session_key(client) != before
    assert not Session.objects.filter(session_key=before).exists()


def test_auth05_session_key_changes_on_mfa_step_up(mfa_user):
    client = Client()
    password_login(client, mfa_user.email)
    pending = _session_key(client)
    assert pending and not is_signed_in(client)
    client.post("/accounts/2fa/authenticate/", {"code": totp_now(mfa_user.totp_secret)})
    assert is_signed_in(client)
    assert _session_key(client) != pending


def test_auth05_old_cookie_after_logout_is_unauthenticated(alice):
    client = Client()
    password_login(client, alice.email)
    old = _session_key(client)
    assert UserSession.objects.filter(session_key=old, user=alice).exists()
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old
    assert replay.get("/api/v1/me/").status_code in (401, 403)
    assert replay.get("/registrations/").status_code == 302
    assert not UserSession.objects.filter(session_key=old).exists()


def test_auth05_idle_timeout(alice):
    with time_machine.travel(START, tick=False) as clock:
        client = Client()
        client.force_login(alice)
        assert client.get("/registrations/").status_code == 200
        clock.shift(dt.timedelta(minutes=29))
        assert client.get("/registrations/").status_code == 200  # activity resets idle
        clock.shift(dt.timedelta(minutes=29))
        assert client.get("/registrations/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/registrations/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client.get("/api/v1/me/").status_code in (401, 403)


def test_auth05_absolute_lifetime(alice):
    with time_machine.travel(START, tick=False) as clock:
        client = Client()
        client.force_login(alice)
        elapsed = dt.timedelta()
        while elapsed < dt.timedelta(hours=11, minutes=55):
            assert client.get("/registrations/").status_code == 200, elapsed
            clock.shift(dt.timedelta(minutes=20))
            elapsed += dt.timedelta(minutes=20)
        clock.shift(dt.timedelta(minutes=10))  # 12 h 05 min after sign-in, never idle
        response = client.get("/registrations/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_auth05_password_change_ends_other_sessions_and_all_tokens(alice):
    this, other = Client(), Client()
    password_login(this, alice.email)
    password_login(other, alice.email)
    tokens = [token_create(user=alice)[1] for _ in range(3)]
    assert all(_token_client(raw).get("/api/v1/me/").status_code == 200 for raw in tokens)
    new_password = "another-long-passphrase-91"
    response = this.post(
        "/accounts/password/change/",
        {"oldpassword": factories.PASSWORD, "password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    assert this.get("/api/v1/me/").status_code == 200  # the session that changed it stays
    assert other.get("/api/v1/me/").status_code in (401, 403)
    assert not is_signed_in(other)
    for raw in tokens:
        assert _token_client(raw).get("/api/v1/me/").status_code == 401
    # The other session is gone from the store, not only rejected.
    assert UserSession.objects.filter(user=alice).count() == 1


def test_auth05_deactivation_is_immediate(alice, alice_admin):
    session = Client()
    session.force_login(alice)
    _, raw = token_create(user=alice)
    assert session.get("/api/v1/me/").status_code == 200
    partner_services.partner_user_deactivate(
        actor=alice_admin, partner=alice.membership.partner, user=alice
    )
    assert session.get("/api/v1/me/").status_code == 401
    assert _token_client(raw).get("/api/v1/me/").status_code == 401
    assert not UserSession.objects.filter(user=alice).exists()


def test_auth05_partner_suspension_is_immediate(alice, bob, manager):
    sessions = []
    for user in (alice, alice):
        client = Client()
        password_login(client, user.email)
        sessions.append(client)
    _, raw = token_create(user=alice)
    bob_client = Client()
    bob_client.force_login(bob)
    partner_services.partner_update(
        actor=manager, partner=alice.membership.partner, status="suspended"
    )
    for client in sessions:
        assert client.get("/api/v1/me/").status_code == 401
        assert client.get("/registrations/").status_code == 302
    assert _token_client(raw).get("/api/v1/me/").status_code == 401
    assert bob_client.get("/api/v1/me/").status_code == 200  # other partners unaffected


def test_suspension_signs_out_even_without_the_service(alice):
    """A status flipped behind the services' back (admin, shell) still signs out at once."""
    client = Client()
    client.force_login(alice)
    _, raw = token_create(user=alice)
    partner = alice.membership.partner
    type(partner).objects.filter(pk=partner.pk).update(status="suspended")
    assert client.get("/api/v1/me/").status_code == 401
    assert _token_client(raw).get("/api/v1/me/").status_code == 401
