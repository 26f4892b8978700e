"""Forms for the partner admin pages. Parsing only: partners.services validates."""

from __future__ import annotations

from django import forms

from partners.models import Membership


class InviteForm(forms.Form):
    email = forms.CharField(
        label="E-mail address",
        required=False,
        widget=forms.EmailInput(attrs={"required": True, "autocomplete": "off", "maxlength": 254}),
    )
    name = forms.CharField(
        label="Name",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 150}),
    )
    role = forms.CharField(
        label="Role",
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
        label="Token name",
        required=False,
        max_length=100,
        help_text="Where the token is used, e.g. “CRM sync”.",
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
            raise forms.ValidationError("Enter a name, so you can tell your tokens apart.")
        return value.strip()


class SalesRepForm(InviteForm):
    """A manager adds a direct sales rep (partners.services.sales_rep_create)."""

    password = forms.CharField(
        label="Password (optional)",
        required=False,
        strip=False,
        help_text="Leave empty: the rep sets one through “Forgot your password?” on the "
        "sign-in page.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["role"]


class SsoStartForm(forms.Form):
    email = forms.EmailField(
        label="Work e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
