"""Admin form fields for the policy's lists and mappings: plain text an administrator can type
(one date per line, "USD 5000.00" per line, "14, 3") and checkboxes for the required fields,
instead of raw JSON boxes that answer "Enter a valid JSON"."""

from __future__ import annotations

import datetime as dt
import re

from django import forms

from deals.models import REQUIRABLE_REGISTRATION_FIELDS, RulesOfEngagement
from deals.policy import POLICY_FIELDS
from prm.lib.forms import LineListField
from prm.lib.validation import CURRENCY_CODES, Errors, check_money

REQUIRED_FIELD_LABELS = {
    "customer_name": "Customer name",
    "customer_domain": "Customer website domain",
    "customer_country": "Customer country",
    "customer_address": "Customer address",
    "contact_name": "Contact name",
    "contact_email": "Contact e-mail",
    "contact_phone": "Contact phone",
    "products": "Products",
    "estimated_value": "Estimated value",
    "currency": "Currency",
    "expected_close_date": "Expected close date",
    "stage": "Stage",
    "description": "Description",
    "competitors": "Competitors",
}


def _lines(value: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\r\n]+", value or "") if line.strip()]


class DayListField(forms.CharField):
    """Whole numbers of days, separated by commas or spaces: "14, 3" → [14, 3]."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        parts = [p for p in re.split(r"[,\s;]+", text) if p]
        days = []
        for part in parts:
            if not part.isdigit() or not 1 <= int(part) <= 365:
                raise forms.ValidationError(
                    f"“{part[:20]}” is not a number of days from 1 to 365.", code="invalid"
                )
            days.append(int(part))
        if len(set(days)) != len(days):
            raise forms.ValidationError("Each reminder day only once.", code="invalid")
        return sorted(days, reverse=True)


class DateListField(LineListField):
    """One date per line as YYYY-MM-DD → a sorted list of ISO date strings."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 20})

    def to_python(self, value):
        days = set()
        for line in super().to_python(value):
            try:
                if len(line) != 10:
                    raise ValueError(line)
                days.add(dt.date.fromisoformat(line).isoformat())
            except ValueError:
                raise forms.ValidationError(
                    f"“{line[:30]}” is not a date as YYYY-MM-DD.", code="invalid"
                ) from None
        return sorted(days)


class MoneyByCurrencyField(forms.CharField):
    """One "CUR amount" per line ("USD 5000.00") → {"USD": "5000.00"}."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 24})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{currency} {amount}" for currency, amount in sorted(value.items()))
        return value

    def to_python(self, value):
        result: dict[str, str] = {}
        for line in _lines(super().to_python(value)):
            parts = line.replace(":", " ").split()
            if len(parts) != 2:
                raise forms.ValidationError(
                    f"“{line[:30]}”: write a currency and an amount, e.g. USD 5000.00.",
                    code="invalid",
                )
            currency, amount = parts[0].upper(), parts[1].replace(",", "")
            if currency not in CURRENCY_CODES:
                raise forms.ValidationError(
                    f"“{parts[0][:10]}” is not an ISO 4217 currency code.", code="invalid"
                )
            if currency in result:
                raise forms.ValidationError(f"{currency} is listed twice.", code="invalid")
            errors = Errors()
            money = check_money(errors, currency, amount)
            if errors or money is None:
                raise forms.ValidationError(
                    f"{currency}: enter an amount such as 5000.00.", code="invalid"
                )
            result[currency] = f"{money:.2f}"
        return result


class RulesOfEngagementForm(forms.ModelForm):
    reminder_days = DayListField(
        help_text="Days before expiry on which the partner is reminded, e.g. “14, 3”."
    )
    holidays = DateListField(
        required=False, help_text="Days the review SLA skips: one date per line, YYYY-MM-DD."
    )
    min_deal_values = MoneyByCurrencyField(
        required=False,
        label="Minimum deal values",
        help_text="One currency and amount per line, e.g. “USD 5000.00”. A currency not "
        "listed has no minimum.",
    )
    required_fields = forms.MultipleChoiceField(
        choices=[(name, REQUIRED_FIELD_LABELS[name]) for name in REQUIRABLE_REGISTRATION_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Fields a partner must fill in before submitting.",
    )

    class Meta:
        model = RulesOfEngagement
        fields = (*POLICY_FIELDS, "change_note")
