"""Custom registration fields (issue 17 §1): definitions, form versions, the rules on values
(unknown key, wrong type, outside the choices, missing required, product-line scope), edits and
resubmissions that keep them, deletion that keeps stored values, and auto-approve conditions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from deals import customfields
from deals.models import RegistrationField, RegistrationFormVersion
from deals.registrations import services
from prm.exceptions import NotFound, PermissionDeniedError, ValidationFailed
from tests import factories

pytestmark = pytest.mark.django_db


def _field(manager, **data):
    data.setdefault("label", data["key"].replace("_", " ").capitalize())
    return customfields.field_create(actor=manager, data=data)


def _fields_of(exc: ValidationFailed) -> dict:
    return exc.fields or {}


# --- Definitions and versions -------------------------------------------------------------------


def test_each_change_to_the_field_set_publishes_a_new_form_version(manager):
    field = _field(manager, key="budget_confirmed", type="boolean", required=True)
    assert customfields.form_current().version == 1
    customfields.field_update(actor=manager, field=field, data={"label": "Budget confirmed?"})
    assert customfields.form_current().version == 2
    customfields.field_deactivate(actor=manager, field=field)
    current = customfields.form_current()
    assert current.version == 3 and current.fields == ()
    first = RegistrationFormVersion.objects.get(version=1)
    assert [f["label"] for f in first.fields] == ["Budget confirmed"]


def test_definitions_are_checked_like_every_input(manager):
    cases = [
        ({"key": "Bad Key", "label": "x", "type": "text"}, "key"),
        ({"key": "ok", "label": "", "type": "text"}, "label"),
        ({"key": "ok", "label": "x", "type": "colour"}, "type"),
        ({"key": "ok", "label": "x", "type": "choice"}, "choices"),
        ({"key": "ok", "label": "x", "type": "text", "choices": ["a"]}, "choices"),
        ({"key": "ok", "label": "x", "type": "choice", "choices": ["a", "a"]}, "choices"),
        ({"key": "ok", "label": "x", "type": "text", "tiers": ["nope"]}, "tiers"),
        ({"key": "ok", "label": "x", "type": "text", "auto_approve_values": ["y"]}, "auto_approve_values"),
        (
            {"key": "ok", "label": "x", "type": "choice", "choices": ["a"], "auto_approve_values": ["b"]},
            "auto_approve_values",
        ),
    ]  # fmt: skip
    for data, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            customfields.field_create(actor=manager, data=data)
        assert field in _fields_of(caught.value), data
    assert not RegistrationField.objects.exists()
    assert not RegistrationFormVersion.objects.exists()


def test_a_key_is_never_reused_even_after_its_field_was_deleted(manager):
    field = _field(manager, key="segment", type="text")
    with pytest.raises(ValidationFailed) as caught:
        _field(manager, key="segment", type="text")
    assert "key" in _fields_of(caught.value)
    customfields.field_deactivate(actor=manager, field=field)
    with pytest.raises(ValidationFailed) as caught:
        _field(manager, key="segment", type="number")
    assert "deleted field" in _fields_of(caught.value)["key"][0]


def test_the_type_of_a_field_never_changes(manager):
    field = _field(manager, key="seats", type="number")
    with pytest.raises(ValidationFailed) as caught:
        customfields.field_update(actor=manager, field=field, data={"type": "text"})
    assert "type" in _fields_of(caught.value)


def test_only_managers_define_fields(alice, manager):
    with pytest.raises(PermissionDeniedError):
        customfields.field_create(actor=alice, data={"key": "x", "label": "X", "type": "text"})
    field = _field(manager, key="x", type="text")
    with pytest.raises(PermissionDeniedError):
        customfields.field_deactivate(actor=alice, field=field)
    assert RegistrationField.objects.get(key="x").active


def test_a_deleted_field_is_gone_for_writes(manager):
    field = _field(manager, key="x", type="text")
    customfields.field_deactivate(actor=manager, field=field)
    with pytest.raises(NotFound):
        customfields.field_get("x")
    with pytest.raises(NotFound):
        customfields.field_deactivate(actor=manager, field=field)


# --- Values on registrations --------------------------------------------------------------------


def test_values_are_stored_typed_with_the_form_version(alice, manager, product):
    _field(manager, key="segment", type="choice", choices=["SMB", "Enterprise"])
    _field(manager, key="seats", type="number")
    _field(manager, key="kickoff", type="date")
    _field(manager, key="modules", type="multi_choice", choices=["a", "b", "c"])
    _field(manager, key="budget", type="boolean")
    _field(manager, key="notes", type="text")
    registration = factories.make_registration(
        alice,
        custom={
            "segment": "Enterprise",
            "seats": 250,
            "kickoff": "2027-01-15",
            "modules": ["c", "a"],
            "budget": False,
            "notes": "  via the reseller summit ",
        },
    )
    registration.refresh_from_db()
    assert registration.custom == {
        "segment": "Enterprise",
        "seats": 250,
        "kickoff": "2027-01-15",
        "modules": ["a", "c"],
        "budget": False,
        "notes": "via the reseller summit",
    }
    assert registration.form_version == customfields.form_current().version == 6


@pytest.mark.parametrize(
    "value,expected",
    [
        ("ten", "Enter a number."),
        (True, "Enter a number."),
        ("2027-13-01", None),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_under_its_key(alice, manager, value, expected):
    _field(manager, key="seats", type="number")
    _field(manager, key="kickoff", type="date")
    key = "kickoff" if value == "2027-13-01" else "seats"
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(alice, custom={key: value})
    messages = _fields_of(caught.value)[f"custom.{key}"]
    assert messages == [expected] if expected else messages
    assert not alice.registrations.exists()


def test_unknown_keys_values_outside_choices_and_missing_required_fields_are_400s(alice, manager):
    _field(manager, key="segment", type="choice", choices=["SMB", "Enterprise"], required=True)
    _field(manager, key="modules", type="multi_choice", choices=["a", "b"])
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(alice, custom={"colour": "red", "modules": ["a", "z"]})
    fields = _fields_of(caught.value)
    assert fields["custom.colour"] == ["Unknown field."]
    assert fields["custom.modules"] == ["Choose any of: a, b."]
    assert fields["custom.segment"] == ["This field is required."]
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(alice, custom={"segment": "Mid-market"})
    assert _fields_of(caught.value) == {"custom.segment": ["Choose one of: SMB, Enterprise."]}
    assert not alice.registrations.exists()


def test_a_draft_may_lack_a_required_field_until_it_is_submitted(alice, manager):
    _field(manager, key="segment", type="choice", choices=["SMB"], required=True)
    draft = factories.make_registration(alice, status="draft")
    with pytest.raises(ValidationFailed) as caught:
        services.registration_submit(registration=draft, actor=alice)
    assert _fields_of(caught.value) == {"custom.segment": ["This field is required."]}
    services.registration_update(
        registration=draft, actor=alice, data={"custom": {"segment": "SMB"}}
    )
    submitted = services.registration_submit(registration=draft, actor=alice)
    assert submitted.status == "submitted" and submitted.custom == {"segment": "SMB"}


def test_a_field_for_other_tiers_is_unknown_to_a_partner(alice, bob, partner_b, manager):
    partner_b.tier = factories.default_tier("silver")
    partner_b.save(update_fields=["tier"])
    _field(manager, key="silver_only", type="text", required=True, tiers=["silver"])
    # Gold (alice's tier): not required, and unknown if sent.
    factories.make_registration(alice)
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(alice, custom={"silver_only": "x"})
    assert _fields_of(caught.value) == {"custom.silver_only": ["Unknown field."]}
    # Silver: required.
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(bob)
    assert _fields_of(caught.value) == {"custom.silver_only": ["This field is required."]}
    assert factories.make_registration(bob, custom={"silver_only": "x"}).custom == {
        "silver_only": "x"
    }


def test_a_field_of_some_product_lines_is_required_only_for_deals_with_them(
    alice, manager, product, other_line_product
):
    _field(manager, key="erp_modules", type="text", required=True, product_lines=["erp"])
    assert factories.make_registration(alice, products=["crm-pro"]).status == "submitted"
    with pytest.raises(ValidationFailed) as caught:
        factories.make_registration(alice, products=["crm-pro", "erp-core"])
    assert _fields_of(caught.value) == {"custom.erp_modules": ["This field is required."]}
    done = factories.make_registration(
        alice, products=["erp-core"], custom={"erp_modules": "Finance"}
    )
    assert done.status == "submitted"


def test_edit_and_resubmit_keep_the_values_and_record_the_change(alice, manager):
    _field(manager, key="segment", type="choice", choices=["SMB", "Enterprise"])
    _field(manager, key="seats", type="number")
    registration = factories.make_registration(
        alice, status="info_requested", manager=manager, custom={"segment": "SMB", "seats": 10}
    )
    services.registration_update(
        registration=registration,
        actor=alice,
        data={"customer_name": "Renamed Holdings", "custom": {"seats": Decimal("12.5")}},
    )
    resubmitted = services.registration_submit(registration=registration, actor=alice)
    resubmitted.refresh_from_db()
    assert resubmitted.status == "submitted"
    assert resubmitted.custom == {"segment": "SMB", "seats": 12.5}
    edited = resubmitted.events.filter(action="edited").get()
    assert edited.details["fields"] == ["custom.seats", "customer_name"]
    services_clear = {"custom": {"seats": None}}
    draft = factories.make_registration(alice, status="draft", custom={"seats": 3})
    services.registration_update(registration=draft, actor=alice, data=services_clear)
    draft.refresh_from_db()
    assert draft.custom == {}


def test_deleting_a_field_keeps_stored_values_readable_with_their_old_label(alice, manager):
    field = _field(manager, key="segment", label="Customer segment", type="choice", choices=["SMB"])
    registration = factories.make_registration(alice, custom={"segment": "SMB"})
    customfields.field_update(actor=manager, field=field, data={"label": "Segment (new)"})
    customfields.field_deactivate(actor=manager, field=field)
    registration.refresh_from_db()
    assert registration.custom == {"segment": "SMB"}
    assert customfields.display_values(registration) == [("Customer segment", "SMB")]
    # A new registration no longer has it (unknown), and nothing requires it.
    with pytest.raises(ValidationFailed):
        factories.make_registration(alice, custom={"segment": "SMB"})


def test_auto_approve_may_require_a_yes_no_field(alice, manager, partner_a):
    tier = partner_a.tier
    tier.auto_approve_ceiling = Decimal("1000000.00")
    tier.save()
    _field(manager, key="budget_confirmed", type="boolean", auto_approve_values=[True])
    unconfirmed = factories.make_registration(alice, custom={"budget_confirmed": False})
    assert unconfirmed.status == "submitted"
    missing = factories.make_registration(alice)
    assert missing.status == "submitted"
    confirmed = factories.make_registration(alice, custom={"budget_confirmed": True})
    assert confirmed.status == "approved"


def test_auto_approve_may_require_a_choice(alice, manager, partner_a):
    tier = partner_a.tier
    tier.auto_approve_ceiling = Decimal("1000000.00")
    tier.save()
    _field(
        manager,
        key="stage_gate",
        type="choice",
        choices=["budget", "no budget"],
        auto_approve_values=["budget"],
    )
    assert factories.make_registration(alice, custom={"stage_gate": "no budget"}).status == (
        "submitted"
    )
    assert factories.make_registration(alice, custom={"stage_gate": "budget"}).status == "approved"


def test_program_rules_name_the_required_custom_fields_of_the_tier(partner_a, manager):
    from deals.policy import program_rules

    _field(manager, key="budget", type="boolean", required=True)
    _field(manager, key="erp", type="text", required=True, product_lines=[])
    _field(manager, key="optional_note", type="text")
    _field(manager, key="silver_only", type="text", required=True, tiers=["silver"])
    rules = program_rules(partner_a)
    assert rules.required_fields[-2:] == ["custom.budget", "custom.erp"]
    assert "custom.silver_only" not in rules.required_fields
