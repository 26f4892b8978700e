"""POST /api/v1/auth/token/, token authentication and revocation (AUTH-02, AUTH-03, AUTH-06)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from partners.models import ApiToken, User, hash_token
from partners.services import partner_user_deactivate, token_create
from tests import factories
from tests.api.conftest import client_for

URL = "/api/v1/auth/token/"


def _post(client, email, password, ip="10.0.0.1"):
    return client.post(URL, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def test_token_for_correct_credentials_authenticates_and_is_stored_hashed(alice, anon):
    response = _post(anon, alice.email, factories.PASSWORD)
    assert response.status_code == 200, response.content
    raw = response.json()["token"]
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hash_token(raw)
    assert raw not in (token.key_hash, token.prefix)
    me = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert me.status_code == 200
    assert me.json()["email"] == alice.email


def test_email_is_case_insensitive(alice, anon):
    assert _post(anon, alice.email.upper(), factories.PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "email,password",
    [("alice@acme-resellers.example", "wrong-password"), ("nobody@example.com", "whatever")],
)
def test_wrong_credentials_are_400_without_token(alice, anon, email, password):
    response = _post(anon, email, password)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_missing_fields_are_400_validation(anon, db):
    response = anon.post(URL, {"email": "x@example.com"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["fields"]


def test_inactive_user_and_suspended_partner_get_no_token(alice, bob, anon):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert _post(anon, alice.email, factories.PASSWORD).status_code == 400
    partner = bob.membership.partner
    partner.status = "suspended"
    partner.save()
    assert _post(anon, bob.email, factories.PASSWORD, ip="10.0.0.2").status_code == 400
    assert not ApiToken.objects.exists()


def test_mfa_user_gets_no_token_from_password_alone(manager, anon):
    response = _post(anon, manager.email, factories.PASSWORD)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "mfa_required"
    assert "portal" in body["detail"] and "second factor" in body["detail"]
    assert not ApiToken.objects.filter(user=manager).exists()


def test_partner_user_with_mfa_is_refused_too(alice, anon):
    factories.enrol_totp(alice)
    assert _post(anon, alice.email, factories.PASSWORD).json()["code"] == "mfa_required"


def test_lockout_after_five_failures_even_with_the_right_password(alice, anon):
    for _ in range(5):
        assert _post(anon, alice.email, "bad-password").status_code == 400
    locked = _post(anon, alice.email, factories.PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"
    # Another account is not affected by alice's lock-out.
    other = factories.partner_user(alice.membership.partner, email="zed@acme-resellers.example")
    assert _post(anon, other.email, factories.PASSWORD, ip="10.0.0.9").status_code == 200


@override_settings(TOKEN_LOGIN_RATE="5/1s")
def test_lockout_ends_with_the_window(alice, anon):
    for _ in range(6):
        _post(anon, alice.email, "bad-password")
    assert _post(anon, alice.email, factories.PASSWORD).status_code == 429
    time.sleep(1.2)  # a real wait: works for every cache backend (LocMem, Redis, database)
    assert _post(anon, alice.email, factories.PASSWORD).status_code == 200


def test_successes_do_not_count_towards_the_lockout(alice, anon):
    for _ in range(8):
        assert _post(anon, alice.email, factories.PASSWORD).status_code == 200


def test_failures_are_counted_before_the_password_is_verified(alice, anon):
    with mock.patch.object(User, "check_password", autospec=True, return_value=False) as check:
        statuses = [_post(anon, alice.email, "bad").status_code for _ in range(12)]
    assert statuses.count(400) == 5
    assert statuses.count(429) == 7
    assert check.call_count == 5


def test_ip_limit_blocks_spraying_over_many_emails(db, anon):
    statuses = [
        _post(anon, f"user{i}@example.com", "whatever", ip="10.9.9.9").status_code
        for i in range(21)
    ]
    assert statuses[:20] == [400] * 20
    assert statuses[20] == 429
    # Rotating X-Forwarded-For does not reset the IP limit (no trusted proxy configured).
    response = anon.post(
        URL,
        {"email": "new@example.com", "password": "x"},
        format="json",
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
    )
    assert response.status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_verify_at_most_five(alice):
    """AUTH-02: 50 concurrent wrong-password requests → ≤ 5 password verifications."""
    calls = []
    lock = threading.Lock()
    original = User.check_password

    def counting(self, raw):
        with lock:
            calls.append(1)
        return original(self, raw)

    barrier = threading.Barrier(25)

    def attempt(i):
        try:
            barrier.wait(timeout=10)
            client = Client()
            return client.post(
                URL,
                {"email": alice.email, "password": f"bad-{i}"},
                content_type="application/json",
                REMOTE_ADDR=f"10.1.{i}.1",
            ).status_code
        finally:
            connection.close()

    with mock.patch.object(User, "check_password", counting):
        with ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(attempt, range(50)))
    assert len(calls) <= 5
    assert statuses.count(400) == len(calls)
    assert statuses.count(429) == 50 - len(calls)


# --- Token authentication and revocation (AUTH-06) -----------------------------------------------


def test_anonymous_and_bad_tokens_are_401(alice, anon):
    assert anon.get("/api/v1/me/").status_code == 401
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION="Token db_not-a-real-token")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_expired_token_is_401(alice):
    token, raw = token_create(user=alice, ttl=dt.timedelta(seconds=-1))
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 401


def test_password_change_revokes_tokens(alice):
    client = client_for(alice)
    assert client.get("/api/v1/me/").status_code == 200
    alice.set_password("a-brand-new-password-77")
    alice.save()
    assert client.get("/api/v1/me/").status_code == 401
    assert ApiToken.objects.filter(user=alice, revoked_at__isnull=True).count() == 0


def test_allauth_password_signals_revoke_tokens(alice, rf):
    from allauth.account.signals import password_changed, password_reset

    for signal in (password_changed, password_reset):
        client = client_for(alice)
        request = rf.post("/accounts/password/change/")
        request.session = mock.Mock(session_key="keep-me")
        signal.send(sender=User, request=request, user=alice)
        assert client.get("/api/v1/me/").status_code == 401


def test_password_hash_upgrade_on_login_does_not_revoke(alice):
    client = client_for(alice)
    with mock.patch("django.contrib.auth.hashers.MD5PasswordHasher.must_update", return_value=True):
        assert alice.check_password(factories.PASSWORD)
    assert client.get("/api/v1/me/").status_code == 200


def test_deactivation_revokes_tokens(alice, alice_admin):
    client = client_for(alice)
    partner_user_deactivate(actor=alice_admin, partner=alice.membership.partner, user=alice)
    assert client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()


def test_deactivation_through_a_save_revokes_tokens(alice):
    client = client_for(alice)
    alice.is_active = False
    alice.save()
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert client.get("/api/v1/me/").status_code == 401
