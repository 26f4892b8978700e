"""Forms for the partner admin pages. Parsing only: partners.services validates."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import Membership


class InviteForm(forms.Form):
    email = forms.CharField(
        label=_("E-mail address"),
        required=False,
        widget=forms.EmailInput(attrs={"required": True, "autocomplete": "off", "maxlength": 254}),
    )
    name = forms.CharField(
        label=_("Name"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 150}),
    )
    role = forms.CharField(
        label=_("Role"),
        required=False,
        widget=forms.Select(choices=Membership.Role.choices),
        initial=Membership.Role.MEMBER,
    )

    def apply_errors(self, exc) -> None:
        if not hasattr(self, "cleaned_data"):
            self.full_clean()
        fields = exc.fields or {}
        if not fields:
            self.add_error(None, exc.detail)
        for name, messages in fields.items():
            target = name if name in self.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(target, str(message))
            if target:
                self.fields[target].widget.attrs["aria-invalid"] = "true"


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        required=False,
        max_length=100,
        help_text=_("Where the token is used, e.g. “CRM sync”."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 100, "required": True}),
    )

    def clean_name(self):
        # The shared text rule (no control characters or direction marks), as in the services.
        from prm.lib.validation import Errors, check_text

        errors = Errors()
        value = check_text(errors, "name", self.cleaned_data.get("name"), 100)
        if errors:
            raise forms.ValidationError(errors["name"])
        if not (value or "").strip():
            raise forms.ValidationError(_("Enter a name, so you can tell your tokens apart."))
        return value.strip()


class SalesRepForm(InviteForm):
    """A manager adds a direct sales rep (partners.services.sales_rep_create)."""

    password = forms.CharField(
        label=_("Password (optional)"),
        required=False,
        strip=False,
        help_text=_(
            "Leave empty: the rep sets one through “Forgot your password?” on the sign-in page."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["role"]


class SsoStartForm(forms.Form):
    email = forms.EmailField(
        label=_("Work e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


def _country_choices() -> list[tuple[str, str]]:
    import pycountry

    countries = sorted(pycountry.countries, key=lambda c: getattr(c, "common_name", c.name))
    return [("", str(_("Choose a country")))] + [
        (c.alpha_2, getattr(c, "common_name", c.name)) for c in countries
    ]


def _text(label, limit, *, help_text="", required=True, autocomplete="off", **attrs):
    widget_attrs = {"maxlength": limit, "autocomplete": autocomplete, **attrs}
    if required:
        widget_attrs["required"] = True
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs=widget_attrs),
    )


class ApplicationForm(InviteForm):
    """The public application (partners.applications.application_submit validates).
    `homepage` is the honeypot: hidden from people (and from screen readers), filled by bots."""

    HONEYPOT = "homepage"

    company_name = _text(_("Company name"), 200, autocomplete="organization")
    legal_name = _text(
        _("Legal name"),
        200,
        help_text=_("As registered, e.g. “Acme Resellers GmbH”."),
        autocomplete="off",
    )
    domain = _text(
        _("Website domain"),
        253,
        help_text=_("Your company's website, e.g. acme-resellers.example."),
        autocomplete="url",
    )
    country = forms.CharField(label=_("Country"), required=False, widget=forms.Select())
    contact_name = _text(_("Your name"), 150, autocomplete="name")
    contact_email = forms.CharField(
        label=_("Your work e-mail address"),
        required=False,
        help_text=_("At your company's website domain; it becomes your sign-in address."),
        widget=forms.EmailInput(
            attrs={"required": True, "autocomplete": "email", "maxlength": 254}
        ),
    )
    expected_focus = forms.CharField(
        label=_("Expected focus"),
        required=False,
        help_text=_("What you expect to sell, to which customers, in which regions."),
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 2000, "required": True}),
    )
    homepage = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("email", "name", "role"):
            del self.fields[name]
        self.fields["country"].widget.choices = _country_choices()
        self.fields["country"].widget.attrs["required"] = True

    def is_bot(self) -> bool:
        return bool((self.data.get(self.HONEYPOT) or "").strip())


class TermsAcceptForm(forms.Form):
    version = forms.CharField(widget=forms.HiddenInput())
    accept = forms.BooleanField(
        label=_("I have read and accept these terms on behalf of my company"),
        required=False,
    )


class BulkInviteForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns email, name, role (member or admin); the first line names them. "
            "At most 500 rows."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
