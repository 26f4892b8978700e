"""Custom registration fields on the pages: the portal form renders the fields of the
partner's tier (labelled, required marked, errors inline like the built-in fields), edit keeps
them, the detail pages show them with their form version's labels, the manager queue filters by
them, the program page names them, and administrators define them in the Django admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from deals import customfields
from deals.models import DealRegistration, RegistrationField, RegistrationFormVersion
from tests import factories

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "customer_name": "Initech LLC",
        "customer_domain": "initech.com",
        "customer_country": "US",
        "contact_name": "Bill Lumbergh",
        "contact_email": "bill@initech.com",
        "products": ["crm-pro"],
        "estimated_value": "80000",
        "currency": "USD",
        "expected_close_date": (dt.date.today() + dt.timedelta(days=45)).isoformat(),
        "stage": "proposal",
        "intent": "submit",
    }
    data.update(overrides)
    return data


@pytest.fixture
def fields(manager, product):
    customfields.field_create(
        actor=manager,
        data={
            "key": "segment",
            "label": "Customer segment",
            "type": "choice",
            "choices": ["SMB", "Enterprise"],
            "required": True,
            "tiers": ["gold"],
            "help": "The customer's size.",
        },
    )
    customfields.field_create(
        actor=manager,
        data={"key": "seats", "label": "Seats", "type": "number", "order": 1},
    )
    customfields.field_create(
        actor=manager,
        data={
            "key": "modules",
            "label": "Modules",
            "type": "multi_choice",
            "choices": ["billing", "crm"],
            "order": 2,
        },
    )
    customfields.field_create(
        actor=manager,
        data={
            "key": "platinum_only",
            "label": "Platinum note",
            "type": "text",
            "tiers": ["platinum"],
        },
    )


def test_the_form_renders_the_fields_of_the_partners_tier(alice_client, fields):
    html = alice_client.get(reverse("registration_create")).content.decode()
    assert 'name="custom.segment"' in html and 'name="custom.seats"' in html
    assert 'name="custom.modules"' in html
    assert '<label for="id_custom.segment">Customer segment' in html
    assert 'aria-describedby="id_custom.segment_help"' in html
    assert "The customer&#x27;s size." in html
    assert "Platinum note" not in html and "platinum_only" not in html


def test_a_submission_stores_the_typed_values(alice_client, alice, fields):
    response = alice_client.post(
        reverse("registration_create"),
        form_data(**{"custom.segment": "SMB", "custom.seats": "25", "custom.modules": ["crm"]}),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    registration = DealRegistration.objects.get(partner=alice.membership.partner)
    assert registration.custom == {"segment": "SMB", "seats": 25, "modules": ["crm"]}
    detail = alice_client.get(reverse("registration_detail", args=[registration.pk]))
    html = detail.content.decode()
    assert "<dt>Customer segment</dt><dd>SMB</dd>" in html
    assert "<dt>Seats</dt><dd>25</dd>" in html


def test_errors_show_inline_like_the_built_in_fields(alice_client, alice, fields):
    response = alice_client.post(
        reverse("registration_create"), form_data(**{"custom.seats": "lots"})
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_custom.segment_error"' in html and "This field is required." in html
    assert 'id="id_custom.seats_error"' in html and "Enter a number." in html
    assert 'aria-invalid="true"' in html
    assert 'value="lots"' in html  # what was typed is kept
    assert not DealRegistration.objects.exists()


def test_edit_keeps_the_values_and_resubmits(alice_client, alice, manager, fields):
    registration = factories.make_registration(
        alice,
        status="info_requested",
        manager=manager,
        custom={"segment": "Enterprise", "seats": 40, "modules": ["billing"]},
    )
    page = alice_client.get(reverse("registration_edit", args=[registration.pk])).content.decode()
    assert '<option value="Enterprise" selected>' in page
    assert 'value="40"' in page
    data = form_data(
        **{
            "custom.segment": "Enterprise",
            "custom.seats": "45",
            "custom.modules": ["billing"],
            "intent": "submit",
        }
    )
    response = alice_client.post(reverse("registration_edit", args=[registration.pk]), data)
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert registration.custom == {"segment": "Enterprise", "seats": 45, "modules": ["billing"]}


def test_the_manager_page_and_queue_show_and_filter_custom_values(manager_client, alice, fields):
    smb = factories.make_registration(alice, custom={"segment": "SMB"})
    big = factories.make_registration(alice, custom={"segment": "Enterprise"})
    page = manager_client.get(reverse("manage_registration", args=[smb.pk])).content.decode()
    assert "<dt>Customer segment</dt><dd>SMB</dd>" in page
    queue = manager_client.get(reverse("manage_queue") + "?custom.segment=Enterprise")
    assert queue.status_code == 200
    html = queue.content.decode()
    assert '<label for="f-custom-segment">Customer segment</label>' in html
    assert big.reference in html and smb.reference not in html
    bad = manager_client.get(reverse("manage_queue") + "?custom.nothing=1")
    assert bad.status_code == 400


def test_the_partner_list_filters_by_a_custom_field(alice_client, alice, fields):
    smb = factories.make_registration(alice, custom={"segment": "SMB"})
    big = factories.make_registration(alice, custom={"segment": "Enterprise"})
    html = alice_client.get(reverse("registration_list") + "?custom.segment=SMB").content.decode()
    assert smb.reference in html and big.reference not in html


def test_the_program_page_names_required_custom_fields(alice_client, manager, fields, product):
    customfields.field_create(
        actor=manager,
        data={
            "key": "crm_seats",
            "label": "CRM seats",
            "type": "number",
            "required": True,
            "product_lines": ["crm"],
        },
    )
    html = alice_client.get(reverse("program_rules")).content.decode()
    assert "Customer segment" in html
    assert "CRM seats: required for deals with" in html


# --- The admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(factories.manager_user(email="root@vendor.example", superuser=True))
    return client


def test_an_administrator_adds_a_required_choice_field_for_one_tier(admin_client, alice, product):
    gold = factories.default_tier("gold")
    response = admin_client.post(
        reverse("admin:deals_registrationfield_add"),
        {
            "key": "budget_status",
            "label": "Budget status",
            "type": "choice",
            "required": "on",
            "choices": "Approved\nPending\n",
            "help": "Has the customer approved the budget?",
            "order": "0",
            "tiers": [str(gold.pk)],
            "auto_approve_values": "Approved",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    field = RegistrationField.objects.get(key="budget_status")
    assert field.choices == ["Approved", "Pending"] and field.required
    assert list(field.tiers.all()) == [gold]
    assert field.auto_approve_values == ["Approved"]
    version = RegistrationFormVersion.objects.get()
    assert version.fields[0]["tier_codes"] == ["gold"]
    # The portal form of a gold partner asks for it at once.
    assert customfields.fields_for_partner(alice.membership.partner)[0].key == "budget_status"


def test_the_admin_refuses_what_the_api_refuses(admin_client):
    response = admin_client.post(
        reverse("admin:deals_registrationfield_add"),
        {"key": "Bad Key", "label": "X", "type": "choice", "choices": "", "order": "0"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "key" in errors and "choices" in errors
    assert not RegistrationField.objects.exists()


def test_deleting_in_the_admin_deactivates_the_field(admin_client, manager, alice, product):
    field = customfields.field_create(
        actor=manager, data={"key": "segment", "label": "Segment", "type": "text"}
    )
    registration = factories.make_registration(alice, custom={"segment": "SMB"})
    response = admin_client.post(
        reverse("admin:deals_registrationfield_delete", args=[field.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    field.refresh_from_db()
    assert not field.active
    registration.refresh_from_db()
    assert registration.custom == {"segment": "SMB"}
    assert customfields.form_current().fields == ()
