"""Registration input: the partner-editable fields (one list for the service, API, form, admin and CSV), their cleaning, and the policy's rules on them."""

from __future__ import annotations

from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from deals import customfields
from deals.catalog import _clean_products
from deals.models import (
    DealRegistration,
    RulesOfEngagement,
)
from prm.lib.validation import (
    Errors,
    check_country,
    check_currency,
    check_date,
    check_domain,
    check_email,
    check_money,
    check_text,
    today,
)

# The fields a partner enters and may edit (while a draft or when information is requested), in
# the order the API, the form and the admin show them. The one list: the service refuses any
# other key, and the API serializers, the portal form, the admin and the CSV export take their
# registration fields from here.
REGISTRATION_CUSTOMER_FIELDS = (
    "customer_name",
    "customer_domain",
    "customer_country",
    "customer_address",
)
REGISTRATION_CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")
REGISTRATION_DEAL_FIELDS = (
    "products",
    "estimated_value",
    "currency",
    "expected_close_date",
    "stage",
)
REGISTRATION_DETAIL_FIELDS = ("description", "competitors")
# The custom fields' values ({key: value}, deals.customfields): one entry of the list, one
# input per defined field on the form, one `custom.<key>` column per field in the CSV.
REGISTRATION_CUSTOM_FIELDS = ("custom",)
PARTNER_EDITABLE_FIELDS = (
    REGISTRATION_CUSTOMER_FIELDS
    + REGISTRATION_CONTACT_FIELDS
    + REGISTRATION_DEAL_FIELDS
    + REGISTRATION_DETAIL_FIELDS
    + REGISTRATION_CUSTOM_FIELDS
)


# --- Validation of registration input -------------------------------------------------------------


def _clean_registration_fields(
    data: dict, *, partial: bool, custom_fields: list | None = None
) -> tuple[dict, Errors]:
    """Types, formats and lengths. Policy rules (minimum value, required fields) are checked at
    submission by `_check_policy_rules`, because a draft may be incomplete. `custom_fields`:
    the custom fields that apply to the partner (deals.customfields.fields_for_partner); the
    cleaned `custom` holds the given keys only (None clears one), merged by `_apply`."""
    errors = Errors()
    cleaned: dict[str, Any] = {}
    unknown = set(data) - set(PARTNER_EDITABLE_FIELDS) - {"draft"}
    for name in sorted(unknown):
        errors.add(name, _("This field cannot be set."))

    def present(name):
        return name in data or not partial

    for name, limit in REGISTRATION_TEXT_LIMITS.items():
        if not present(name):
            continue
        if name == "contact_email":
            cleaned[name] = check_email(errors, name, data.get(name))
        elif name == "customer_domain":
            cleaned[name] = check_domain(errors, name, data.get(name))
        else:
            cleaned[name] = check_text(
                errors, name, data.get(name), limit, required=(name == "customer_name")
            )
    if present("customer_country"):
        cleaned["customer_country"] = check_country(
            errors, "customer_country", data.get("customer_country")
        )
    if present("currency"):
        cleaned["currency"] = check_currency(errors, "currency", data.get("currency"))
    if present("estimated_value"):
        cleaned["estimated_value"] = check_money(
            errors, "estimated_value", data.get("estimated_value")
        )
    if present("expected_close_date"):
        close = check_date(errors, "expected_close_date", data.get("expected_close_date"))
        if close is not None and close < today():
            errors.add("expected_close_date", _("The expected close date cannot be in the past."))
        cleaned["expected_close_date"] = close
    if present("stage"):
        stage = data.get("stage") or "qualification"
        if stage not in STAGES:
            errors.add("stage", _("Choose one of: %(choices)s.") % {"choices": ", ".join(STAGES)})
        cleaned["stage"] = stage
    if present("products"):
        cleaned["products"] = _clean_products(errors, data.get("products"))
    if "custom" in data:
        cleaned["custom"] = customfields.clean_values(
            errors, data.get("custom"), list(custom_fields or [])
        )
    return cleaned, errors


def _check_policy_rules(
    registration: DealRegistration,
    policy: RulesOfEngagement,
    form: customfields.Form | None = None,
) -> None:
    """Rules that make a registration submittable: required fields, minimum value, dates."""
    _policy_errors(registration, policy, list(registration.products.all()), form).raise_if_any()


def _policy_errors(
    registration: DealRegistration,
    policy: RulesOfEngagement,
    products: list,
    form: customfields.Form | None = None,
) -> Errors:
    """`form`: the custom-field form in force when the caller already read it."""
    errors = Errors()
    for name in policy.required_fields or []:
        if name == "products":
            continue
        value = getattr(registration, name, None)
        if hasattr(registration, name) and value in (None, ""):
            errors.add(name, _("This field is required."))
    if not products:
        errors.add("products", _("Choose at least one product."))
    minimum = policy.min_deal_value(registration.currency) if registration.currency else None
    value = registration.estimated_value
    if minimum is not None and value is not None and value < minimum:
        errors.add(
            "estimated_value",
            _("The minimum deal value is %(amount)s %(currency)s.")
            % {
                "amount": formats.number_format(minimum, 2, force_grouping=True),
                "currency": registration.currency,
            },
        )
    if registration.expected_close_date and registration.expected_close_date < today():
        errors.add("expected_close_date", _("The expected close date cannot be in the past."))
    # Required custom fields of the partner's tier (a field scoped to product lines only when
    # the deal includes one of them).
    fields = (form or customfields.form_current()).for_tier(registration.partner.tier_id)
    lines = {p.product_line_id for p in products}
    for name, messages in customfields.required_errors(registration.custom, fields, lines).items():
        errors[name] = messages
    return errors


def _apply(registration: DealRegistration, cleaned: dict) -> list[str]:
    changed = []
    for name, value in cleaned.items():
        if name == "products":
            continue
        if name == "custom":
            before = registration.custom or {}
            after = customfields.merge_values(before, value)
            if after != before:
                registration.custom = after
                changed += [
                    f"custom.{key}"
                    for key in sorted(set(before) | set(after))
                    if before.get(key) != after.get(key)
                ]
            continue
        if getattr(registration, name) != value:
            setattr(registration, name, value)
            changed.append(name)
    return changed


def _clean_note(value, field: str, *, required: bool = False, limit: int = 2000) -> str:
    errors = Errors()
    value = check_text(errors, field, value, limit, required=required)
    errors.raise_if_any()
    return value


REGISTRATION_TEXT_LIMITS = {
    "customer_name": 200,
    "customer_domain": 253,
    "customer_address": 500,
    "contact_name": 150,
    "contact_email": 254,
    "contact_phone": 40,
    "description": 5000,
    "competitors": 500,
}
STAGES = ("qualification", "proposal", "negotiation")
