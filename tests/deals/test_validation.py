"""Validation: every rule rejects bad input with an error on the right field and writes nothing
(no registration, no event, no conflict, no index entry)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conflicts.models import Conflict, IdentityEntry
from deals.models import DealRegistration, DirectOpportunity, Notification, RegistrationEvent
from deals.policy import policy_publish
from deals.registrations import services
from prm.exceptions import ValidationFailed
from tests import factories


def _counts():
    return (
        DealRegistration.objects.count(),
        RegistrationEvent.objects.count(),
        Conflict.objects.count(),
        IdentityEntry.objects.count(),
        Notification.objects.count(),
    )


def _refused(actor, field: str, *, submit=True, **overrides) -> ValidationFailed:
    before = _counts()
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_create(
            actor=actor, data=factories.registration_data(**overrides), submit=submit
        )
    assert field in (excinfo.value.fields or {}), excinfo.value.fields
    assert all(isinstance(m, str) and m for m in excinfo.value.fields[field])
    assert _counts() == before
    return excinfo.value


def _past(days=1):
    return (timezone.now().date() - dt.timedelta(days=days)).isoformat()


# --- Required fields --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", None])
def test_customer_name_required(value, alice, product):
    _refused(alice, "customer_name", customer_name=value)


@pytest.mark.parametrize(
    "field", ["customer_country", "estimated_value", "currency", "expected_close_date"]
)
def test_core_fields_required(field, alice, product):
    _refused(alice, field, **{field: ""})


@pytest.mark.parametrize("field", ["contact_name", "contact_email"])
def test_policy_required_fields_at_submission(field, alice, product):
    _refused(alice, field, **{field: ""})


def test_products_required_at_submission(alice, product):
    _refused(alice, "products", products=[])


def test_policy_required_fields_follow_the_policy(alice, manager, product):
    policy_publish(
        actor=manager,
        required_fields=["customer_name", "customer_country", "products", "customer_address"],
    )
    _refused(alice, "customer_address", customer_address="")
    registration = services.registration_create(
        actor=alice, data=factories.registration_data(contact_name="", customer_address="1 Main St")
    )
    assert registration.status == "submitted"


def test_a_draft_may_be_incomplete(alice, product):
    registration = services.registration_create(
        actor=alice,
        data=factories.registration_data(contact_name="", estimated_value="10.00", products=[]),
        submit=False,
    )
    assert registration.status == "draft"


# --- Minimum deal value per currency ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "value", "ok"),
    [
        ("USD", "4999.99", False),
        ("USD", "5000.00", True),
        ("EUR", "4999.00", False),
        ("GBP", "3999.99", False),
        ("GBP", "4000.00", True),
        ("JPY", "10.00", True),  # no minimum configured for this currency
    ],
)
def test_minimum_deal_value_per_currency(currency, value, ok, alice, product):
    if ok:
        registration = services.registration_create(
            actor=alice, data=factories.registration_data(currency=currency, estimated_value=value)
        )
        assert registration.status == "submitted"
    else:
        error = _refused(alice, "estimated_value", currency=currency, estimated_value=value)
        assert currency in error.fields["estimated_value"][0]


def test_minimum_follows_the_policy(alice, manager, product):
    policy_publish(actor=manager, min_deal_values={"USD": "100000.00"})
    _refused(alice, "estimated_value", estimated_value="99999.99")


@pytest.mark.parametrize(
    "value", ["-1", "abc", "1.234", "1e400", "NaN", "Infinity", True, [], "1000000000000"]
)
def test_estimated_value_must_be_an_amount(value, alice, product):
    _refused(alice, "estimated_value", estimated_value=value)


# --- Dates --------------------------------------------------------------------------------------------


def test_close_date_not_in_past(alice, product):
    _refused(alice, "expected_close_date", expected_close_date=_past())
    _refused(alice, "expected_close_date", submit=False, expected_close_date=_past(30))


def test_close_date_today_is_accepted(alice, product):
    registration = services.registration_create(
        actor=alice,
        data=factories.registration_data(expected_close_date=timezone.now().date().isoformat()),
    )
    assert registration.status == "submitted"


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "01/02/2030", 12])
def test_close_date_format(value, alice, product):
    _refused(alice, "expected_close_date", expected_close_date=value)


# --- ISO codes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["XX", "USA", "u", "12", "Germany", 5])
def test_iso_country(value, alice, product):
    _refused(alice, "customer_country", customer_country=value)


def test_iso_country_is_normalised(alice, product):
    registration = services.registration_create(
        actor=alice, data=factories.registration_data(customer_country="de")
    )
    assert registration.customer_country == "DE"


@pytest.mark.parametrize("value", ["ABC", "US", "dollars", "€", 840])
def test_iso_currency(value, alice, product):
    _refused(alice, "currency", currency=value)


# --- Products -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [["no-such-product"], "crm-pro", [None], [{"code": "crm-pro"}], ["crm\x00pro"]]
)
def test_unknown_product(value, alice, product):
    _refused(alice, "products", products=value)


def test_inactive_product_is_unknown(alice, product):
    retired = factories.ProductFactory(code="retired-suite", active=False)
    _refused(alice, "products", products=[retired.code])


# --- Lengths, NUL characters, formats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("customer_name", 200),
        ("customer_address", 500),
        ("contact_name", 150),
        ("contact_phone", 40),
        ("description", 5000),
        ("competitors", 500),
    ],
)
def test_max_lengths(field, limit, alice, product):
    _refused(alice, field, **{field: "x" * (limit + 1)})
    registration = services.registration_create(
        actor=alice, data=factories.registration_data(**{field: "y" * limit}), submit=False
    )
    assert len(getattr(registration, field)) == limit


@pytest.mark.parametrize(
    "field",
    [
        "customer_name",
        "customer_address",
        "contact_name",
        "contact_phone",
        "description",
        "competitors",
    ],
)
def test_nul_characters_refused(field, alice, product):
    _refused(alice, field, **{field: "Acme\x00Corp"})


@pytest.mark.parametrize("value", ["not-an-email", "a@", "pat@@x.com", "x" * 250 + "@example.com"])
def test_contact_email_format(value, alice, product):
    _refused(alice, "contact_email", contact_email=value)


@pytest.mark.parametrize("value", ["not a domain", "localhost", "http://", "192.168.0.1"])
def test_customer_domain_format(value, alice, product):
    _refused(alice, "customer_domain", customer_domain=value)


def test_stage_from_the_list(alice, product):
    _refused(alice, "stage", stage="closed-won")


def test_server_fields_cannot_be_set(alice, product):
    for field in ("status", "partner", "reference", "conflict_status", "expires_at"):
        _refused(alice, field, **{field: "approved"})


def test_update_validates_and_writes_nothing(alice, product):
    registration = factories.make_registration(alice, status="draft")
    events = RegistrationEvent.objects.filter(registration=registration).count()
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_update(
            registration=registration,
            actor=alice,
            data={"customer_name": "Renamed", "customer_country": "ZZ"},
        )
    assert "customer_country" in excinfo.value.fields
    registration.refresh_from_db()
    assert registration.customer_name != "Renamed"
    assert RegistrationEvent.objects.filter(registration=registration).count() == events


# --- Opportunities share the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("external_id", ""),
        ("account_name", "x" * 201),
        ("account_name", "Nul\x00Corp"),
        ("country", "XX"),
        ("currency", "ABC"),
        ("amount", "-5"),
        ("products", ["no-such-product"]),
        ("status", "pending"),
        ("owner_email", "rep-at-vendor"),
    ],
)
def test_opportunity_validation(field, value, product):
    before = DirectOpportunity.objects.count(), IdentityEntry.objects.count()
    with pytest.raises(ValidationFailed) as excinfo:
        factories.make_opportunity(**{field: value})
    assert field in excinfo.value.fields
    assert (DirectOpportunity.objects.count(), IdentityEntry.objects.count()) == before
