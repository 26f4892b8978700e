"""Forms for the browser pages. They bind, render and parse input only: every business rule
(required fields, minimum value, dates, products) is checked by deals.registrations.services, whose
ValidationFailed.fields are mapped back onto these forms with `apply_errors`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pycountry
from django import forms
from django.utils.translation import gettext_lazy as _

from conflicts.models import Conflict
from deals.models import ActivityKind, RejectionReason, Stage
from deals.registrations.validation import (
    REGISTRATION_CONTACT_FIELDS,
    REGISTRATION_CUSTOMER_FIELDS,
    REGISTRATION_DEAL_FIELDS,
    REGISTRATION_DETAIL_FIELDS,
)
from prm.lib.forms import ServiceErrorsMixin

COMMON_CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "INR"]


def country_choices() -> list[tuple[str, str]]:
    countries = sorted(pycountry.countries, key=lambda c: getattr(c, "common_name", c.name))
    return [("", _("Choose a country"))] + [
        (c.alpha_2, f"{getattr(c, 'common_name', c.name)} ({c.alpha_2})") for c in countries
    ]


def currency_choices() -> list[tuple[str, str]]:
    others = sorted(
        (c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in COMMON_CURRENCIES),
    )
    return [(code, code) for code in COMMON_CURRENCIES] + [(code, code) for code in others]


def _text(label, *, required=False, max_length=None, help_text="", **attrs):
    widget_attrs = {"autocomplete": "off", **attrs}
    if required:
        widget_attrs["required"] = True
    if max_length:
        widget_attrs["maxlength"] = max_length
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs=widget_attrs),
    )


class RegistrationForm(ServiceErrorsMixin, forms.Form):
    """The fields of the API (docs/api.md), with the same names."""

    customer_name = _text(_("Customer name"), required=True, max_length=200)
    customer_domain = _text(
        _("Website domain"),
        max_length=253,
        help_text=_("e.g. globex.com"),
        placeholder="globex.com",
    )
    customer_country = forms.CharField(
        label=_("Country"),
        required=False,
        widget=forms.Select(attrs={"required": True}),
    )
    customer_address = _text(_("Address"), max_length=500)
    contact_name = _text(_("Contact name"), max_length=150)
    contact_email = forms.CharField(
        label=_("Contact e-mail"),
        required=False,
        widget=forms.EmailInput(attrs={"maxlength": 254, "autocomplete": "off"}),
    )
    contact_phone = _text(_("Contact phone"), max_length=40)
    products = forms.MultipleChoiceField(
        label=_("Products"), required=False, widget=forms.CheckboxSelectMultiple
    )
    estimated_value = forms.CharField(
        label=_("Estimated value"),
        required=False,
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "required": True}),
    )
    currency = forms.CharField(label=_("Currency"), required=False, widget=forms.Select())
    expected_close_date = forms.CharField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "required": True}),
    )
    stage = forms.CharField(
        label=_("Sales stage"), required=False, widget=forms.Select(choices=Stage.choices)
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 5000}),
        help_text=_("What the customer needs and how you found the opportunity."),
    )
    competitors = _text(_("Competitors"), max_length=500, help_text=_("Other vendors in the deal."))

    # Grouped as the page shows them; the fields themselves are PARTNER_EDITABLE_FIELDS.
    CUSTOMER_FIELDS = REGISTRATION_CUSTOMER_FIELDS
    CONTACT_FIELDS = REGISTRATION_CONTACT_FIELDS
    DEAL_FIELDS = tuple(f for f in REGISTRATION_DEAL_FIELDS if f != "products")
    DETAIL_FIELDS = REGISTRATION_DETAIL_FIELDS

    def __init__(self, *args, products=(), required_fields=(), custom_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.product_list = list(products)
        # One input per custom field of the partner's tier, named `custom.<key>` like the
        # service's errors, so they show inline exactly as the built-in fields' do.
        self.custom_fields = list(custom_fields)
        for definition in self.custom_fields:
            self.fields[definition.name] = custom_form_field(definition)
        self.describe_help()
        # Mark what the policy in force requires at submission (the service enforces it).
        for name in required_fields:
            if name in self.fields and name != "products":
                self.fields[name].widget.attrs["required"] = True
        self.fields["products"].choices = [(p.code, p.name) for p in self.product_list]
        self.fields["customer_country"].widget.choices = country_choices()
        self.fields["currency"].widget.choices = currency_choices()

    def custom_bound_fields(self) -> list[tuple]:
        """(bound field, definition) of each custom input, in the form's order."""
        return [(self[d.name], d) for d in self.custom_fields]

    def service_data(self) -> dict:
        """The raw values, named as the API names them, for deals.registrations.services."""
        data: dict = {}
        if self.custom_fields:
            data["custom"] = {d.key: self._custom_value(d) for d in self.custom_fields}
        for name in self.fields:
            if name.startswith(CUSTOM_PREFIX):
                continue
            if name == "products":
                data[name] = list(self.data.getlist(name)) if hasattr(self.data, "getlist") else []
            else:
                value = self.data.get(name, "")
                data[name] = value.strip() if isinstance(value, str) else value
        return data

    def product_groups(self) -> list[tuple[str, list]]:
        """Catalog products grouped by product line, with their checked state."""
        selected = (
            set(self.data.getlist("products"))
            if self.is_bound
            else set(self.initial.get("products", []))
        )
        groups: dict[str, list] = {}
        for product in self.product_list:
            groups.setdefault(product.product_line.name, []).append(
                {"code": product.code, "name": product.name, "checked": product.code in selected}
            )
        return list(groups.items())

    def _custom_value(self, definition):
        """The typed value of one custom input (the service checks it): numbers and yes/no
        parsed when they parse, else passed on as typed so the service names the error."""
        if definition.type == "multi_choice":
            return list(self.data.getlist(definition.name)) if hasattr(self.data, "getlist") else []
        raw = self.data.get(definition.name, "")
        raw = raw.strip() if isinstance(raw, str) else raw
        if raw in ("", None):
            return None
        if definition.type == "boolean":
            return {"true": True, "false": False}.get(raw, raw)
        if definition.type == "number":
            try:
                number = Decimal(raw)
            except (InvalidOperation, TypeError):
                return raw
            # A Decimal: the service checks the range and stores it as a JSON number.
            return number if number.is_finite() else raw
        return raw

    @classmethod
    def initial_for(cls, registration) -> dict:
        initial = {
            name: getattr(registration, name)
            for name in cls.CUSTOMER_FIELDS
            + cls.CONTACT_FIELDS
            + cls.DEAL_FIELDS
            + cls.DETAIL_FIELDS
        }
        initial["expected_close_date"] = (
            registration.expected_close_date.isoformat() if registration.expected_close_date else ""
        )
        initial["products"] = [p.code for p in registration.products.all()]
        for key, value in (registration.custom or {}).items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            initial[CUSTOM_PREFIX + key] = value if isinstance(value, list) else str(value)
        return initial


CUSTOM_PREFIX = "custom."


def custom_form_field(definition) -> forms.Field:
    """The portal input of one custom field (deals.customfields.FieldDef): required ones
    marked like the built-in fields (the service enforces it at submission)."""
    attrs: dict = {}
    if definition.always_required:
        attrs["required"] = True
    help_text = definition.help
    if definition.required and not definition.always_required:
        lines = ", ".join(definition.product_line_names)
        help_text = f"{help_text} Required for deals with {lines}.".strip()
    kind = definition.type
    if kind == "multi_choice":
        # A group of checkboxes: the page marks the group (legend) as required, not each box.
        return forms.MultipleChoiceField(
            label=definition.label,
            required=False,
            help_text=help_text,
            choices=[(c, c) for c in definition.choices],
            widget=forms.CheckboxSelectMultiple(),
        )
    if kind == "choice":
        widget: forms.Widget = forms.Select(
            attrs=attrs, choices=[("", _("Choose…"))] + [(c, c) for c in definition.choices]
        )
    elif kind == "boolean":
        widget = forms.Select(
            attrs=attrs, choices=[("", _("Choose…")), ("true", _("Yes")), ("false", _("No"))]
        )
    elif kind == "number":
        widget = forms.NumberInput(attrs={**attrs, "step": "any"})
    elif kind == "date":
        widget = forms.DateInput(attrs={**attrs, "type": "date"})
    else:
        widget = forms.TextInput(attrs={**attrs, "maxlength": 1000, "autocomplete": "off"})
    return forms.CharField(
        label=definition.label, required=False, help_text=help_text, widget=widget
    )


# --- Small action forms (bound to request.POST only to render errors) ---------------------------


class CommentForm(ServiceErrorsMixin, forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 5000, "required": True}),
    )


class ActivityForm(ServiceErrorsMixin, forms.Form):
    kind = forms.CharField(
        label=_("Type"), required=False, widget=forms.Select(choices=ActivityKind.choices)
    )
    occurred_on = forms.CharField(
        label=_("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "required": True}),
    )
    summary = forms.CharField(
        label=_("What happened"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 1000, "required": True}),
    )
    # Choices are the registration's files, set by the page (deals/web/attachments.py).
    attachment = forms.CharField(
        label=_("Evidence (optional)"), required=False, widget=forms.Select(choices=[])
    )


class AttachmentForm(ServiceErrorsMixin, forms.Form):
    """Only the file input: its type and size are judged by the service, from the bytes."""

    file = forms.FileField(
        label=_("File"),
        required=False,
        help_text=_(
            "A proposal, quote, purchase order or e-mail: PDF, PNG, JPEG, plain text, "
            "CSV, DOCX, XLSX or PPTX, at most 10 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"required": True}),
    )


class ExtensionForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why do you need more time?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000, "required": True}),
    )


class CloseForm(ServiceErrorsMixin, forms.Form):
    outcome = forms.CharField(
        label=_("Outcome"),
        required=False,
        widget=forms.Select(choices=[("won", _("Won")), ("lost", _("Lost"))]),
    )
    close_date = forms.CharField(
        label=_("Close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "required": True}),
    )
    actual_value = forms.CharField(
        label=_("Actual value"),
        required=False,
        help_text=_("What the customer signed for (prefilled with the estimated value)."),
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01"}),
    )
    lost_reason = forms.CharField(
        label=_("Why was it lost?"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 500}),
    )


class ApproveForm(ServiceErrorsMixin, forms.Form):
    protection_days = forms.CharField(
        label=_("Protection days"),
        required=False,
        help_text=_("Leave empty for the tier's default."),
        widget=forms.NumberInput(attrs={"min": "1", "max": "3650"}),
    )
    note = forms.CharField(
        label=_("Note to the partner"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 2000}),
    )
    override_reason = forms.CharField(
        label=_("Override reason (internal)"),
        required=False,
        help_text=_(
            "Only to approve over an open conflict with a protected registration or a "
            "direct opportunity; recorded in the history and the reports."
        ),
        widget=forms.TextInput(attrs={"maxlength": 2000}),
    )


class RevokeForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Select(
            choices=[("", "Choose a reason")] + list(RejectionReason.choices),
            attrs={"required": True},
        ),
    )
    note = forms.CharField(
        label=_("Note to the partner"),
        required=False,
        help_text=_("Required when the reason is Other."),
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class RejectForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Select(
            choices=[("", "Choose a reason")] + list(RejectionReason.choices),
            attrs={"required": True},
        ),
    )
    note = forms.CharField(
        label=_("Note to the partner"),
        required=False,
        help_text=_("Required when the reason is Other."),
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class RequestInfoForm(ServiceErrorsMixin, forms.Form):
    message = forms.CharField(
        label=_("What do you need from the partner?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000, "required": True}),
    )


class ResolveForm(ServiceErrorsMixin, forms.Form):
    resolution = forms.CharField(
        label=_("Resolution"),
        required=False,
        widget=forms.Select(choices=Conflict.Resolution.choices),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.TextInput(attrs={"maxlength": 2000})
    )


class InternalNoteForm(ServiceErrorsMixin, forms.Form):
    body = forms.CharField(
        label=_("Note or reply"),
        help_text=_(
            "An internal note is only seen by channel managers; a reply is sent to the partner."
        ),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 5000, "required": True}),
    )


class OpportunityImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=(
            "Columns: external_id, account_name, account_domain, country, owner_email, products "
            "(codes separated by ;), amount, currency, stage, close_date, status. "
            "UTF-8 with one header row."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class ApplicationApproveForm(ServiceErrorsMixin, forms.Form):
    """Approve a partner application (partners.applications.application_approve validates)."""

    tier = forms.CharField(label="Tier", required=False, widget=forms.Select())
    channel_manager = forms.CharField(
        label="Channel manager", required=False, widget=forms.Select()
    )

    def __init__(self, *args, tiers=(), managers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].widget.choices = [("", "Choose a tier")] + [
            (t.code, t.name) for t in tiers
        ]
        self.fields["channel_manager"].widget.choices = [("", "Choose a channel manager")] + [
            (str(m.pk), m.get_full_name()) for m in managers
        ]


class ApplicationDeclineForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label="Reason (sent to the applicant)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
    )
