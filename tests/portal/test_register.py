"""Register a deal: one page, the API's field names, a live availability verdict, save as
draft or submit, inline validation messages and a clear duplicate message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from deals.models import ConflictCheckLog, DealRegistration
from tests import factories


def form_data(**overrides):
    data = {
        "customer_name": "Initech LLC",
        "customer_domain": "initech.com",
        "customer_country": "US",
        "customer_address": "1 Main St",
        "contact_name": "Bill Lumbergh",
        "contact_email": "bill@initech.com",
        "contact_phone": "+1 555 0100",
        "products": ["crm-pro"],
        "estimated_value": "80000",
        "currency": "USD",
        "expected_close_date": (dt.date.today() + dt.timedelta(days=45)).isoformat(),
        "stage": "proposal",
        "description": "Replacing spreadsheets",
        "competitors": "Salesforce",
        "intent": "submit",
    }
    data.update(overrides)
    return data


def test_form_has_the_api_field_names_and_the_catalog(alice_client, product, other_line_product):
    response = alice_client.get(reverse("registration_create"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "customer_name",
        "customer_domain",
        "customer_country",
        "customer_address",
        "contact_name",
        "contact_email",
        "contact_phone",
        "products",
        "estimated_value",
        "currency",
        "expected_close_date",
        "stage",
        "description",
        "competitors",
    ):
        assert f'name="{name}"' in html, name
    assert 'value="crm-pro"' in html and 'value="erp-core"' in html
    assert f'data-live-check="{reverse("registration_availability")}"' in html
    assert "data-live-check-load" not in html  # an empty form: nothing to check yet
    assert 'value="draft"' in html and 'value="submit"' in html


def test_submit_creates_a_submitted_registration(alice_client, alice, product):
    response = alice_client.post(reverse("registration_create"), form_data())
    registration = DealRegistration.objects.get(customer_name="Initech LLC")
    assert response.status_code == 302
    assert response["Location"] == reverse("registration_detail", args=[registration.pk])
    assert registration.status == "submitted"
    assert registration.submitted_by == alice
    assert registration.contact_phone == "+1 555 0100"
    assert [p.code for p in registration.products.all()] == ["crm-pro"]
    page = alice_client.get(response["Location"])
    assert "submitted. A channel manager will review it." in page.content.decode()


def test_save_as_draft(alice_client, product):
    response = alice_client.post(
        reverse("registration_create"), form_data(intent="draft", contact_name="", products=[])
    )
    assert response.status_code == 302
    registration = DealRegistration.objects.get(customer_name="Initech LLC")
    assert registration.status == "draft"
    assert registration.submitted_at is None


def test_validation_errors_are_shown_inline_and_nothing_is_saved(alice_client, product):
    response = alice_client.post(
        reverse("registration_create"),
        form_data(estimated_value="100", expected_close_date="2001-01-01", customer_country="XX"),
    )
    assert response.status_code == 400
    assert DealRegistration.objects.count() == 0
    form = response.context["form"]
    assert "ISO 3166-1" in form.errors["customer_country"][0]
    assert "past" in form.errors["expected_close_date"][0]
    html = response.content.decode()
    assert "Please correct the highlighted fields." in html
    assert 'id="id_customer_country_error"' in html
    assert 'aria-invalid="true"' in html
    # What the user typed is kept.
    assert 'value="Initech LLC"' in html


def test_policy_errors_on_submit_are_mapped_to_fields(alice_client, product):
    response = alice_client.post(
        reverse("registration_create"), form_data(estimated_value="100", products=[])
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "minimum deal value" in form.errors["estimated_value"][0]
    assert form.errors["products"] == ["Choose at least one product."]
    assert DealRegistration.objects.count() == 0


def test_duplicate_links_to_the_existing_registration(alice_client, alice, alice_registration):
    response = alice_client.post(
        reverse("registration_create"),
        form_data(customer_name="Globex Corp", customer_domain="globex.com"),
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "already has an active registration" in html
    assert reverse("registration_detail", args=[alice_registration.pk]) in html
    assert alice_registration.reference in html
    assert DealRegistration.objects.count() == 1


def test_manager_cannot_register(manager_client, product):
    assert manager_client.get(reverse("registration_create")).status_code == 403
    assert manager_client.post(reverse("registration_create"), form_data()).status_code == 403


# --- Availability -------------------------------------------------------------------------------


def test_availability_clear(alice_client, product):
    response = alice_client.post(
        reverse("registration_availability"),
        {
            "customer_name": "Umbrella Corp",
            "customer_domain": "umbrella.com",
            "customer_country": "US",
            "products": ["crm-pro"],
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="clear"' in html
    assert "<html" not in html  # a partial for htmx
    assert ConflictCheckLog.objects.filter(verdict="clear", source="portal").count() == 1


def test_availability_already_engaged_never_says_who(bob_client, alice_registration, product):
    response = bob_client.post(
        reverse("registration_availability"),
        {
            "customer_name": "GLOBEX Corp.",
            "customer_domain": "www.globex.com",
            "customer_country": "US",
            "products": ["crm-pro"],
        },
    )
    html = response.content.decode()
    assert 'data-status="conflict"' in html
    assert "Already engaged" in html
    for leak in ("Acme", alice_registration.reference, "alice@", "125"):
        assert leak not in html


def test_availability_needs_a_name_and_a_country(alice_client, product):
    idle = alice_client.post(reverse("registration_availability"), {"customer_name": "G"})
    assert 'data-status="idle"' in idle.content.decode()
    no_country = alice_client.post(
        reverse("registration_availability"), {"customer_name": "Globex"}
    )
    assert "country to check." in no_country.content.decode()


def test_availability_is_the_api_function(alice_client, product, monkeypatch):
    calls = []

    def fake(*, actor, data, source="api"):
        calls.append((actor.email, data, source))
        return {
            "status": "potential_conflict",
            "available": False,
            "message": "Maybe.",
            "matches": [{"label": "SECRET"}],
        }

    monkeypatch.setattr("deals.registrations.availability.availability_check", fake)
    response = alice_client.post(
        reverse("registration_availability"),
        {
            "customer_name": "Hooli",
            "customer_domain": "hooli.com",
            "customer_country": "US",
            "products": ["crm-pro"],
        },
    )
    html = response.content.decode()
    assert calls == [
        (
            "alice@acme-resellers.example",
            {
                "customer_name": "Hooli",
                "customer_domain": "hooli.com",
                "customer_country": "US",
                "products": ["crm-pro"],
            },
            "portal",
        )
    ]
    assert "Needs review" in html
    assert "SECRET" not in html


def test_availability_without_javascript(alice_client, product):
    """The "Check availability" button posts the whole form; nothing is saved."""
    response = alice_client.post(reverse("registration_create"), form_data(intent="check"))
    assert response.status_code == 200
    assert 'data-status="clear"' in response.content.decode()
    assert DealRegistration.objects.count() == 0


def test_availability_rate_limit_is_429_with_retry_after_and_the_panel_says_when(
    alice_client, product, settings
):
    """The live check's refusal: 429 + Retry-After (the script pauses until then) and a panel
    that says when to retry, not an error page."""
    settings.CONFLICT_CHECK_RATE_USER = "1/m"
    data = {"customer_name": "Vandelay", "customer_country": "US"}
    assert alice_client.post(reverse("registration_availability"), data).status_code == 200
    response = alice_client.post(reverse("registration_availability"), data)
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    html = response.content.decode()
    assert "Too many availability checks; try again in" in html
    assert f'data-retry-after="{wait}"' in html


def test_availability_requires_post_and_partner(client, alice, manager):
    client.force_login(alice)
    assert client.get(reverse("registration_availability")).status_code == 405
    client.force_login(manager)
    assert client.post(reverse("registration_availability"), {}).status_code == 403


@pytest.mark.parametrize("status", ["draft", "info_requested"])
def test_edit_and_resubmit(alice_client, alice, product, status):
    registration = factories.make_registration(alice, status=status, customer_name="Edit Me Inc")
    page = alice_client.get(reverse("registration_edit", args=[registration.pk]))
    assert page.status_code == 200
    assert 'value="Edit Me Inc"' in page.content.decode()
    assert 'value="crm-pro" checked' in page.content.decode()
    data = form_data(
        customer_name="Edit Me Incorporated", customer_domain=registration.customer_domain
    )
    response = alice_client.post(reverse("registration_edit", args=[registration.pk]), data)
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.customer_name == "Edit Me Incorporated"
    assert registration.status == "submitted"


def test_edit_refused_when_not_editable(alice_client, alice_registration):
    response = alice_client.get(reverse("registration_edit", args=[alice_registration.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("registration_detail", args=[alice_registration.pk])
    follow = alice_client.get(response["Location"])
    assert "can be edited" in follow.content.decode()
