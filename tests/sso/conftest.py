"""The single sign-on tests sign in through a real OpenID Provider (tests/sso/idp: Django +
django-oauth-toolkit) running in its own process on 127.0.0.1, one per test process."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sso.server import LocalOpenIdProvider

CALLBACK = "/accounts/oidc/{slug}/login/callback/"


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory):
    provider = LocalOpenIdProvider(tmp_path_factory.mktemp("idp")).start()
    yield provider
    provider.stop()


def connect_provider(openid_provider, *, slug, partner=None, base="http://testserver", **fields):
    """An IdentityProvider row for `openid_provider` and its client at the provider."""
    from partners.models import IdentityProvider

    client_id, secret = f"client-{slug}", f"secret-{slug}-0123456789"
    openid_provider.add(
        clients=[
            {
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": [base + CALLBACK.format(slug=slug)],
            }
        ]
    )
    return IdentityProvider.objects.create(
        name=fields.pop("name", f"{slug.title()} SSO"),
        slug=slug,
        partner=partner,
        server_url=openid_provider.issuer,
        client_id=client_id,
        client_secret=secret,
        **fields,
    )


def person(openid_provider, email, *, amr=("pwd",), verified=True, name="Test Person"):
    username = email.replace("@", "_at_")
    openid_provider.add(
        people=[
            {
                "username": username,
                "password": "idp-password-1",
                "email": email,
                "email_verified": verified,
                "name": name,
                "amr": list(amr),
            }
        ]
    )
    return username


def sign_in_at_provider(authorize_url: str, username: str, password: str = "idp-password-1"):
    """What the person does at the provider: sign in; returns the redirect back to the app."""
    browser = requests.Session()
    response = browser.get(authorize_url, allow_redirects=True, timeout=10)
    assert "/login/" in response.url, response.url
    token = browser.cookies.get("idp_csrftoken")
    nxt = parse_qs(urlsplit(response.url).query).get("next", [""])[0]
    response = browser.post(
        response.url,
        data={
            "username": username,
            "password": password,
            "next": nxt,
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": response.url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    # Follow the provider's own redirects until it sends the browser back to the app.
    location = response.headers["Location"]
    for _ in range(5):
        if location.startswith("http://testserver"):
            return location
        if location.startswith("/"):
            location = (
                f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}{location}"
            )
        response = browser.get(location, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:500]
        location = response.headers["Location"]
    raise AssertionError(f"the provider never sent the browser back: {location}")


def sso_sign_in(client, email: str, username: str, *, slug: str | None = None):
    """The whole journey with Django's test client as the browser: the SSO form (or, with
    `slug`, that provider's own sign-in button), the provider's sign-in, the callback.
    Returns the app's answer to the callback."""
    if slug:
        response = client.post(f"/accounts/oidc/{slug}/login/", {"process": "login"})
    else:
        response = client.post("/accounts/sso/", {"email": email})
    assert response.status_code == 302, response.content[:500]
    back = sign_in_at_provider(response["Location"], username)
    assert re.match(r"http://testserver/accounts/oidc/[\w-]+/login/callback/\?", back), back
    return client.get(back.removeprefix("http://testserver"))
