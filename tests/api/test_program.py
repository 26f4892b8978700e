"""GET /api/v1/program/ (API.md "v1.1 additions": program rules): the rules that apply to the
caller's partner, the same figures the services enforce."""

from __future__ import annotations

import pytest

from deals.policy import policy_current, policy_publish
from partners.models import IntegrationAccount
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

KEYS = {
    "policy_version",
    "tier",
    "protection_days",
    "extension_days",
    "max_extensions",
    "review_sla_business_days",
    "min_deal_values",
    "required_fields",
    "conflict_scope",
}


def test_program_rules_are_the_partners_tier_and_the_policy_in_force(alice, partner_a, manager):
    tier = partner_a.tier
    tier.protection_days, tier.max_extensions = 120, 3
    tier.save()
    policy_publish(
        actor=manager,
        change_note="Longer SLA",
        sla_business_days=4,
        extension_days=45,
        min_deal_values={"USD": "7500", "JPY": 800000},
        required_fields=["customer_name", "contact_email"],
        conflict_scope="any_product",
    )
    body = client_for(alice).get("/api/v1/program/").json()
    assert set(body) == KEYS
    assert body["policy_version"] == policy_current().version
    assert body["tier"] == {"code": tier.code, "name": tier.name}
    assert body["protection_days"] == 120 and body["max_extensions"] == 3
    assert body["extension_days"] == 45 and body["review_sla_business_days"] == 4
    assert body["min_deal_values"] == {"JPY": "800000.00", "USD": "7500.00"}
    assert body["required_fields"] == ["customer_name", "contact_email"]
    assert body["conflict_scope"] == "any_product"


def test_program_rules_fall_back_to_the_policy_where_the_tier_is_silent(alice, partner_a):
    tier = partner_a.tier
    tier.protection_days, tier.max_extensions = None, None
    tier.save()
    policy = policy_current()
    body = client_for(alice).get("/api/v1/program/").json()
    assert body["protection_days"] == policy.protection_days
    assert body["max_extensions"] == policy.max_extensions


def test_program_rules_of_another_partner_answer_404_to_a_partner(alice, bob, partner_a, partner_b):
    assert client_for(alice).get(f"/api/v1/program/?partner={partner_b.pk}").status_code == 404
    own = client_for(alice).get(f"/api/v1/program/?partner={partner_a.pk}")
    assert own.status_code == 200


def test_program_rules_for_a_manager_need_a_partner(manager, partner_b):
    client = client_for(manager)
    missing = client.get("/api/v1/program/")
    assert missing.status_code == 400 and "partner" in missing.json()["fields"]
    assert client.get("/api/v1/program/?partner=99999999999999999999").status_code == 400
    assert client.get("/api/v1/program/?partner=987654").status_code == 404
    body = client.get(f"/api/v1/program/?partner={partner_b.pk}").json()
    assert body["tier"]["code"] == partner_b.tier.code


def test_program_rules_are_read_only(alice):
    assert client_for(alice).post("/api/v1/program/", {}, format="json").status_code == 405


def test_program_rules_need_authentication(anon):
    assert anon.get("/api/v1/program/").status_code in (401, 403)


def test_integration_reads_program_rules_with_registrations_read(manager, partner_a):
    response = client_for(manager).post(
        "/api/v1/integrations/",
        {"name": "BI", "scopes": ["registrations:read"]},
        format="json",
    )
    token = response.json()["token"]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"/api/v1/program/?partner={partner_a.pk}").status_code == 200
    assert IntegrationAccount.objects.count() == 1
