"""One list of the partner-editable registration fields (deals.registrations.validation) feeds
the service, the API, the portal form, the admin and the CSV export."""

from __future__ import annotations

import pytest
from django.contrib import admin

from deals.api.serializers import PARTNER_REGISTRATION_FIELDS, RegistrationInputSerializer
from deals.models import DealRegistration
from deals.registrations.validation import PARTNER_EDITABLE_FIELDS, _clean_registration_fields
from deals.reports.csv import CSV_COLUMNS
from deals.web.forms import RegistrationForm


def test_the_list_has_no_duplicates_and_names_model_fields():
    assert len(set(PARTNER_EDITABLE_FIELDS)) == len(PARTNER_EDITABLE_FIELDS)
    model_fields = {f.name for f in DealRegistration._meta.get_fields()}
    assert set(PARTNER_EDITABLE_FIELDS) <= model_fields


def test_api_input_and_representation_take_the_list():
    assert set(RegistrationInputSerializer().fields) - {"draft"} == set(PARTNER_EDITABLE_FIELDS)
    start = PARTNER_REGISTRATION_FIELDS.index(PARTNER_EDITABLE_FIELDS[0])
    assert (
        PARTNER_REGISTRATION_FIELDS[start : start + len(PARTNER_EDITABLE_FIELDS)]
        == PARTNER_EDITABLE_FIELDS
    )


def test_portal_form_shows_exactly_the_list():
    # `custom` is one input per custom field of the partner's tier (`custom.<key>`), none here.
    form = RegistrationForm()
    assert set(form.fields) | {"custom"} == set(PARTNER_EDITABLE_FIELDS)
    grouped = form.CUSTOMER_FIELDS + form.CONTACT_FIELDS + form.DEAL_FIELDS + form.DETAIL_FIELDS
    assert set(grouped) | {"products", "custom"} == set(PARTNER_EDITABLE_FIELDS)


@pytest.mark.django_db
def test_admin_fieldsets_show_the_list(rf, django_user_model):
    model_admin = admin.site._registry[DealRegistration]
    shown = [f for _, options in model_admin.fieldsets for f in options["fields"]]
    assert [f for f in shown if f in PARTNER_EDITABLE_FIELDS] == list(PARTNER_EDITABLE_FIELDS)


def test_csv_partner_columns_come_from_the_list():
    partner_columns = {name for name, _ in CSV_COLUMNS} & {
        f.name for f in DealRegistration._meta.get_fields()
    }
    entered = partner_columns - {
        "reference",
        "status",
        "conflict_status",
        "first_submitted_at",
        "submitted_at",
        "sla_due_at",
        "decided_at",
        "approved_at",
        "expires_at",
        "extensions_used",
        "rejection_reason",
        "decision_note",
        "co_sell",
        "outcome",
        "actual_value",
        "close_date",
        "lost_reason",
        "created_at",
        "partner",
    }
    assert entered | {"products"} <= set(PARTNER_EDITABLE_FIELDS)


def test_service_refuses_a_key_outside_the_list():
    _, errors = _clean_registration_fields(
        {"customer_name": "Acme", "status": "approved"}, partial=True
    )
    assert "status" in errors
