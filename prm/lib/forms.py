"""Form helpers shared by the apps' pages."""

from __future__ import annotations

import re

from django import forms

from prm.exceptions import ValidationFailed


class ServiceErrorsMixin:
    """Show a service's ValidationFailed on the form: field errors inline, others on top.
    Help and error texts are tied to their input with aria-describedby."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.describe_help()

    def describe_help(self) -> None:
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}_help"

    def apply_errors(self, exc: ValidationFailed) -> None:
        if not self.is_bound:
            return
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
                attrs = self.fields[target].widget.attrs
                attrs["aria-invalid"] = "true"
                described = attrs.get("aria-describedby", "")
                if f"id_{target}_error" not in described:
                    attrs["aria-describedby"] = f"{described} id_{target}_error".strip()


class LineListField(forms.CharField):
    """A list typed one item per line (commas also separate): "a.com\\nb.com" → ["a.com",
    "b.com"]. Renders a stored list back the same way. For admin fields that store a JSON list,
    so administrators never type JSON."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [item.strip() for item in re.split(r"[\r\n,]+", text) if item.strip()]
