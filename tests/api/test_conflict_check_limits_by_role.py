"""The availability check's limits by role (issue 15, second part): partner users keep the
enumeration limits (CONFLICT_CHECK_RATE_USER / _PARTNER), channel managers and integrations
have their own much higher one (CONFLICT_CHECK_RATE_MANAGER), and every refusal says when to
retry (429 + Retry-After on the API, the same on the portal's live check)."""

from __future__ import annotations

from django.test import override_settings

from deals.models import ConflictCheckLog
from tests.api.conftest import client_for

URL = "/api/v1/conflict-check/"
GLOBEX = {
    "customer_name": "Globex Corporation",
    "customer_domain": "globex.com",
    "customer_country": "US",
    "products": ["crm-pro"],
}
PARTNER_LIMITS = {"CONFLICT_CHECK_RATE_USER": "3/m", "CONFLICT_CHECK_RATE_PARTNER": "5/d"}


@override_settings(**PARTNER_LIMITS, CONFLICT_CHECK_RATE_MANAGER="6000/h")
def test_partner_limited_and_the_429_carries_retry_after(alice, product):
    client = client_for(alice)
    statuses = [client.post(URL, GLOBEX, format="json").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.post(URL, GLOBEX, format="json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60  # the per-minute window
    assert "try again in" in refused.json()["detail"]
    assert set(refused.json()) == {"code", "detail"}  # the error contract of API.md


@override_settings(CONFLICT_CHECK_RATE_USER="3/m", CONFLICT_CHECK_RATE_PARTNER="3/d")
def test_partner_daily_limit_retry_after_is_the_days_rest(alice, product):
    client = client_for(alice)
    for _ in range(3):
        assert client.post(URL, GLOBEX, format="json").status_code == 200
    with override_settings(CONFLICT_CHECK_RATE_USER="100/m"):
        refused = client.post(URL, GLOBEX, format="json")
    assert refused.status_code == 429
    assert 60 < int(refused["Retry-After"]) <= 86400


@override_settings(**PARTNER_LIMITS, CONFLICT_CHECK_RATE_MANAGER="6000/h")
def test_manager_is_not_held_to_the_partner_limits(manager, product):
    client = client_for(manager)
    statuses = {client.post(URL, GLOBEX, format="json").status_code for _ in range(12)}
    assert statuses == {200}
    assert ConflictCheckLog.objects.filter(user=manager).count() == 12


@override_settings(**PARTNER_LIMITS, CONFLICT_CHECK_RATE_MANAGER="4/h")
def test_manager_limit_is_its_own_and_says_when(manager, product):
    client = client_for(manager)
    statuses = [client.post(URL, GLOBEX, format="json").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    refused = client.post(URL, GLOBEX, format="json")
    assert 60 < int(refused["Retry-After"]) <= 3600
