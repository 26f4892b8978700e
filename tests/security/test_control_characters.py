"""Issue 20 item 5: text fields refuse control characters and bidirectional overrides.

A customer name with U+202E (right-to-left override) reorders what a manager reads; an ESC or
BEL ends up in logs, e-mails and CSV. The shared field rule (check_text) refuses them with a
clear 400 (`fields: {name: [message]}`) or form error, everywhere; tab, line feed and carriage
return stay allowed in multi-line text (description, notes, comments, addresses).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from deals.models import Comment, DealRegistration, DirectOpportunity
from partners.models import Partner, User
from tests import factories
from tests.api.conftest import client_for

HOSTILE = [
    "\x07",  # BEL
    "\x1b[31m",  # ESC (terminal colours)
    "\x7f",  # DEL
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",  # POP DIRECTIONAL ISOLATE
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u061c",  # ARABIC LETTER MARK
    "\x0b",  # vertical tab (not a line break we keep)
]


def _assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    messages = body["fields"][field]
    assert any("control characters" in m for m in messages), messages


@pytest.mark.parametrize("bad", HOSTILE)
def test_registration_customer_name_refuses_control_and_bidi(alice, product, bad):
    data = factories.registration_data(customer_name=f"Acme{bad}Corp gpj.exe")
    response = client_for(alice).post("/api/v1/registrations/", data, format="json")
    _assert_refused(response, "customer_name")
    assert not DealRegistration.objects.exists()


@pytest.mark.parametrize("field", ["customer_name", "contact_name", "contact_phone"])
@pytest.mark.parametrize("bad", ["\n", "\r", "\t"])
def test_single_line_fields_refuse_line_breaks_and_tabs(alice, product, field, bad):
    data = factories.registration_data(**{field: f"Pat{bad}Buyer"})
    response = client_for(alice).post("/api/v1/registrations/", data, format="json")
    _assert_refused(response, field)


def test_multi_line_fields_keep_line_breaks_but_not_overrides(alice, product):
    text = "First line\r\nSecond line\n\tindented"
    data = factories.registration_data(description=text, customer_address="1 Main St\nSpringfield")
    created = client_for(alice).post("/api/v1/registrations/", data, format="json")
    assert created.status_code == 201, created.content
    registration = DealRegistration.objects.get()
    assert registration.description == text
    refused = client_for(alice).post(
        "/api/v1/registrations/",
        factories.registration_data(description="Fine\u202eenif"),
        format="json",
    )
    _assert_refused(refused, "description")


def test_every_text_endpoint_refuses_overrides(alice, alice_admin, manager, partner_a, product):
    bad = "Globex\u202eCorp"
    registration = factories.make_registration(alice)
    partner_client, admin_client, manager_client = (
        client_for(alice),
        client_for(alice_admin),
        client_for(manager),
    )
    cases = [
        (
            partner_client,
            "/api/v1/conflict-check/",
            {"customer_name": bad, "customer_country": "US"},
            "customer_name",
        ),
        (
            partner_client,
            f"/api/v1/registrations/{registration.pk}/comments/",
            {"body": "See \x1b[2J here"},
            "body",
        ),
        (
            manager_client,
            "/api/v1/opportunities/",
            {
                "external_id": "CRM-1",
                "account_name": bad,
                "country": "US",
                "products": ["crm-pro"],
                "amount": "1000.00",
                "currency": "USD",
                "stage": "open",
                "close_date": "2030-01-01",
            },
            "account_name",
        ),
        (
            admin_client,
            f"/api/v1/partners/{partner_a.pk}/users/",
            {"email": "nia@acme-resellers.example", "name": "Nia\u2066Admin"},
            "name",
        ),
        (
            manager_client,
            "/api/v1/partners/",
            {"name": bad, "country": "US", "tier": "gold", "domains": ["globex-partner.com"]},
            "name",
        ),
    ]
    for client, url, body, field in cases:
        _assert_refused(client.post(url, body, format="json"), field)
    assert not Comment.objects.exists()
    assert not DirectOpportunity.objects.exists()
    assert not User.objects.filter(email="nia@acme-resellers.example").exists()
    assert not Partner.objects.filter(name__contains="Globex").exists()


def test_portal_form_shows_the_error_on_the_field(client, alice, product):
    client.force_login(alice)
    data = factories.registration_data(customer_name="Initech\u202eLLC")
    response = client.post(reverse("registration_create"), {**data, "intent": "submit"})
    assert response.status_code == 400
    errors = response.context["form"].errors["customer_name"]
    assert any("control characters" in e for e in errors), errors
    assert not DealRegistration.objects.exists()


def test_ordinary_unicode_text_is_accepted(alice, product):
    data = factories.registration_data(
        customer_name="Société Générale – Zürich (株式会社) שלום", contact_name="José Ñúñez"
    )
    response = client_for(alice).post("/api/v1/registrations/", data, format="json")
    assert response.status_code == 201, response.content


def test_token_name_refuses_overrides(client, alice):
    client.force_login(alice)
    response = client.post(reverse("token_list"), {"name": "CRM\u202esync"})
    assert response.status_code == 400
    assert "control characters" in response.content.decode()
    assert not alice.api_tokens.exists()
