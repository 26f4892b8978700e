"""AUTH-03 (no path signs a TOTP user in without the second factor; managers must enrol) and
AUTH-04 (TOTP and recovery-code reuse, the MFA rate limit)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from partners.models import ApiToken
from tests import factories
from tests.security.conftest import is_signed_in, password_login, totp_now
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db

MFA_STAGE = "/accounts/2fa/authenticate/"


# --- AUTH-03: every sign-in path ------------------------------------------------------------------


def test_auth03_password_alone_does_not_sign_in_and_the_code_does(mfa_user):
    client = Client()
    response = password_login(client, mfa_user.email)
    assert response.status_code == 302 and response["Location"] == MFA_STAGE
    assert not is_signed_in(client)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    client.post(MFA_STAGE, {"code": totp_now(mfa_user.totp_secret)})
    assert is_signed_in(client)


def test_auth03_token_endpoint_refuses_totp_users(mfa_user):
    response = Client().post(
        "/api/v1/auth/token/",
        {"email": mfa_user.email, "password": factories.PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    assert not ApiToken.objects.filter(user=mfa_user).exists()


def test_auth03_admin_login_goes_through_allauth_and_mfa():
    root = factories.manager_user(email="root@vendor.example", superuser=True)
    client = Client()
    response = client.post(
        "/admin/login/", {"username": root.email, "password": factories.PASSWORD}
    )
    assert not is_signed_in(client)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302
    # Through the allauth form the password alone stops at the MFA stage.
    response = password_login(client, root.email)
    assert response["Location"] == MFA_STAGE and not is_signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_auth03_password_reset_does_not_sign_in(mfa_user):
    client = Client()
    client.post("/accounts/password/reset/", {"email": mfa_user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.get(link.group(1), follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    new_password = "a-brand-new-passphrase-77"
    response = client.post(form_path, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    mfa_user.refresh_from_db()
    assert mfa_user.check_password(new_password)
    assert not is_signed_in(client)
    # ... and the new password alone still stops at the second factor.
    response = password_login(client, mfa_user.email, new_password)
    assert response["Location"] == MFA_STAGE and not is_signed_in(client)


def test_auth03_login_by_code_is_not_enabled(mfa_user, settings):
    assert settings.ACCOUNT_LOGIN_BY_CODE_ENABLED is False
    client = Client()
    assert client.get("/accounts/login/code/").status_code == 404
    client.post("/accounts/login/code/", {"email": mfa_user.email})
    assert not is_signed_in(client)
    assert len(mail.outbox) == 0


def _manager_without_mfa():
    return factories.manager_user(email="newmanager@vendor.example", mfa=False)


def test_auth03_manager_without_mfa_gets_mfa_required_on_every_api_route():
    from partners.services import token_create

    manager = _manager_without_mfa()
    session = Client()
    session.force_login(manager)
    _, raw = token_create(user=manager)
    token = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    exempt = ("/api/v1/auth/", "/api/v1/me/")
    checked = 0
    for route in all_routes():
        if not route.path.startswith("/api/v1/") or route.path.startswith(exempt):
            continue
        for client in (session, token):
            for method in ("get", "post"):
                response = getattr(client, method)(
                    route.path,
                    data="{}" if method == "post" else None,
                    content_type="application/json",
                )
                assert response.status_code == 403, f"{method} {route.path}"
                assert response.json()["code"] == "mfa_required", f"{method} {route.path}"
                checked += 1
    assert checked > 40


def test_auth03_manager_without_mfa_is_sent_to_enrolment_on_pages():
    manager = _manager_without_mfa()
    client = Client()
    client.force_login(manager)
    for path in ("/", "/manage/", "/manage/partners/", "/admin/", "/manage/reports/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/accounts/2fa/totp/activate/", path
    # The enrolment page itself is reachable (allauth may first ask to re-authenticate).
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200 or response["Location"].startswith("/accounts/")
    assert "2fa/totp/activate" not in response.get("Location", "").split("?")[0]
    factories.enrol_totp(manager)
    assert client.get("/manage/").status_code == 200


# --- AUTH-04: codes ---------------------------------------------------------------------------------


def _second_factor(user, code) -> Client:
    client = Client()
    assert password_login(client, user.email)["Location"] == MFA_STAGE
    client.post(MFA_STAGE, {"code": code})
    return client


def test_auth04_totp_code_reuse_is_rejected(mfa_user):
    code = totp_now(mfa_user.totp_secret)
    assert is_signed_in(_second_factor(mfa_user, code))
    assert not is_signed_in(_second_factor(mfa_user, code))


def test_auth04_recovery_code_reuse_is_rejected(mfa_user, settings):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    assert "recovery_codes" in settings.MFA_SUPPORTED_TYPES

    codes = RecoveryCodes.activate(mfa_user).get_unused_codes()
    assert len(codes) >= 5
    assert is_signed_in(_second_factor(mfa_user, codes[0]))
    assert not is_signed_in(_second_factor(mfa_user, codes[0]))
    assert is_signed_in(_second_factor(mfa_user, codes[1]))


def test_auth04_sixth_wrong_totp_blocks_even_the_right_code(mfa_user, security_records):
    client = Client()
    password_login(client, mfa_user.email)
    for _ in range(5):
        client.post(MFA_STAGE, {"code": "000000"})
    assert not is_signed_in(client)
    response = client.post(MFA_STAGE, {"code": totp_now(mfa_user.totp_secret)})
    assert not is_signed_in(client)
    assert b"Too many" in response.content
    assert len(security_records.of("mfa_failed")) == 5
    assert len(security_records.of("rate_limited")) == 1
