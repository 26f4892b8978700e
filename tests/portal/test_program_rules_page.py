"""The program's rules in plain words (issue 18 §3): the "Program rules" page, the registration
form and the home page state the figures the services enforce, from the policy in force."""

from __future__ import annotations

import re

import pytest

from deals.policy import policy_publish

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_program_rules_page_states_the_partners_terms(client, alice, partner_a, manager):
    tier = partner_a.tier
    tier.protection_days, tier.max_extensions = 75, 2
    tier.save()
    policy_publish(actor=manager, sla_business_days=3, extension_days=20)
    client.force_login(alice)
    text = _text(client.get("/program/"))
    assert "protects your company for 75 days" in text
    assert "up to 2 extensions of 20 days each" in text
    assert "within 3 business days" in text
    assert "5,000 USD" in text or "5000 USD" in text


def test_home_page_states_the_real_review_sla(client, alice, manager):
    policy_publish(actor=manager, sla_business_days=5)
    client.force_login(alice)
    text = _text(client.get("/"))
    assert "within 5 business days" in text
    assert "two business days" not in text


def test_registration_form_states_minimum_value_and_required_fields(client, alice, manager):
    policy_publish(
        actor=manager,
        min_deal_values={"EUR": "12500"},
        required_fields=["customer_name", "contact_email"],
    )
    client.force_login(alice)
    text = _text(client.get("/registrations/new/"))
    assert "Minimum estimated value: 12,500 EUR" in text or "12500 EUR" in text
    assert "Required: Customer name, Contact e-mail." in text


def test_program_rules_page_is_for_partner_users(client, manager):
    client.force_login(manager)
    assert client.get("/program/").status_code in (302, 403, 404)
