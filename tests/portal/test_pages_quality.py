"""What every page must be: the product's layout (allauth pages included), assets served by the
app (htmx from django-htmx, no CDN), strict CSP (no inline script, style or handler), and
errors that never show a traceback."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests import factories

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+=", re.I)
EXTERNAL_ASSET = re.compile(r"(src|href)=\"(https?:)?//", re.I)


def assert_clean_page(response):
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html)
    assert not EXTERNAL_ASSET.search(html), EXTERNAL_ASSET.search(html)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "style-src 'self'" in response["Content-Security-Policy"]
    assert "Traceback" not in html


@pytest.fixture
def world(alice, bob, manager, product):
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    factories.make_registration(alice, status="approved", manager=manager)
    factories.make_opportunity()
    return first, second


def test_partner_pages_are_csp_clean(client, alice, alice_admin, world):
    first, _ = world
    client.force_login(alice)
    for url in (
        reverse("home"),
        reverse("registration_list"),
        reverse("registration_create"),
        reverse("registration_detail", args=[first.pk]),
        reverse("notification_list"),
        reverse("token_list"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_clean_page(response)
    availability = client.post(
        reverse("registration_availability"), {"customer_name": "Globex", "customer_country": "US"}
    )
    assert_clean_page(availability)
    client.force_login(alice_admin)
    assert_clean_page(client.get(reverse("company_users")))


def test_manager_pages_are_csp_clean(client, manager, partner_a, world):
    _, second = world
    client.force_login(manager)
    for url in (
        reverse("manage_queue"),
        reverse("manage_registration", args=[second.pk]),
        reverse("registration_list"),
        reverse("manage_partner_list"),
        reverse("manage_partner_detail", args=[partner_a.pk]),
        reverse("manage_opportunity_list"),
        reverse("manage_opportunity_import"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_clean_page(response)


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/1-set-password/",
    ],
)
def test_account_pages_use_the_product_layout(client, url, db):
    response = client.get(url, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "css/app.css" in html
    assert 'class="brand"' in html
    assert "auth-card" in html
    assert_clean_page(response)


def test_signed_in_account_pages(client, alice, manager):
    client.force_login(alice)
    # Activating TOTP first asks for the password again (allauth's reauthentication page).
    for url in ("/accounts/password/change/", "/accounts/2fa/", "/accounts/2fa/totp/activate/"):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert 'class="mainnav"' in response.content.decode()
        assert_clean_page(response)


def test_mfa_stage_page(client, manager):
    response = client.post(
        "/accounts/login/", {"login": manager.email, "password": factories.PASSWORD}, follow=True
    )
    html = response.content.decode()
    assert "Two-factor authentication" in html
    assert "auth-card" in html
    assert_clean_page(response)


def test_htmx_is_served_by_the_app(alice_client):
    html = alice_client.get(reverse("registration_create")).content.decode()
    match = re.search(r'<script src="(/static/django_htmx/htmx-2[^"]*\.js)" defer>', html)
    assert match, "htmx 2 script tag from django-htmx"
    assert finders.find(match.group(1).removeprefix("/static/"))
    assert finders.find("js/app.js") and finders.find("css/app.css")
    assert 'name="htmx-config"' in html and '"includeIndicatorStyles": false' in html


def test_errors_never_show_a_traceback(alice_client, alice_registration):
    for url in (
        reverse("registration_list") + "?page=abc",
        reverse("registration_list") + "?page=99999",
        "/registrations/0/",
        "/nope/",
    ):
        response = alice_client.get(url)
        assert response.status_code in (200, 404), url
        assert "Traceback" not in response.content.decode()
    forbidden = alice_client.get(reverse("manage_queue"))
    assert forbidden.status_code == 403
    assert "have access to this page" in forbidden.content.decode()


def test_navigation_by_role(client, alice, manager):
    client.force_login(alice)
    html = client.get(reverse("registration_list")).content.decode()
    assert reverse("registration_create") in html and reverse("manage_queue") not in html
    client.force_login(manager)
    html = client.get(reverse("registration_list")).content.decode()
    assert reverse("manage_queue") in html and reverse("manage_partner_list") in html
    assert 'aria-current="page"' in html
