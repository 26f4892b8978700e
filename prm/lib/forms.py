"""Form helpers shared by the apps' pages."""

from __future__ import annotations

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
