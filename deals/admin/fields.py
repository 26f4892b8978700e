"""Admin for the custom registration fields: every save and delete goes through
deals.customfields (a new form version each time); deleting deactivates, values are kept."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from deals import customfields
from deals.models import CustomFieldType, RegistrationField, RegistrationFormVersion
from partners.roles import is_manager

YES = {"yes", "true", "1"}
NO = {"no", "false", "0"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class RegistrationFieldForm(forms.ModelForm):
    """Choices and auto-approve values one per line; checked by the service's own rules
    (customfields.clean_definition) so the admin and the API refuse the same things."""

    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Choice and multi-choice fields: one choice per line.",
    )
    auto_approve_values = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Yes/no fields: “yes” or “no”; choice fields: one of the choices per line. "
        "Clear registrations auto-approve only with one of these values. Empty: no condition.",
    )

    class Meta:
        model = RegistrationField
        fields = (
            "key",
            "label",
            "type",
            "required",
            "choices",
            "help",
            "order",
            "tiers",
            "product_lines",
            "auto_approve_values",
        )
        widgets = {
            "tiers": forms.CheckboxSelectMultiple,
            "product_lines": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk:
            self.initial["choices"] = "\n".join(instance.choices or [])
            self.initial["auto_approve_values"] = "\n".join(
                ("yes" if v else "no") if isinstance(v, bool) else str(v)
                for v in instance.auto_approve_values or []
            )
        self.service_data: dict = {}

    def _approve_values(self, kind: str) -> list:
        values: list = []
        for line in _lines(self.cleaned_data.get("auto_approve_values", "")):
            if kind == CustomFieldType.BOOLEAN and line.lower() in YES | NO:
                values.append(line.lower() in YES)
            else:
                values.append(line)
        return values

    def clean(self):
        cleaned = super().clean()
        instance = self.instance if self.instance.pk else None
        kind = instance.type if instance else cleaned.get("type")
        data = {
            "label": cleaned.get("label", ""),
            "required": bool(cleaned.get("required")),
            "choices": _lines(cleaned.get("choices", "")),
            "help": cleaned.get("help", ""),
            "order": cleaned.get("order") or 0,
            "tiers": [t.code for t in cleaned.get("tiers") or []],
            "product_lines": [line.code for line in cleaned.get("product_lines") or []],
            "auto_approve_values": self._approve_values(kind or ""),
        }
        if instance is None:
            data["key"] = cleaned.get("key", "")
            data["type"] = kind
        _, errors = customfields.clean_definition(data, field=instance)
        for name, messages in errors.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
        self.service_data = data
        return cleaned


@admin.register(RegistrationField)
class RegistrationFieldAdmin(admin.ModelAdmin):
    """Custom registration fields. Saving or deleting publishes a new form version;
    registrations keep the version they were submitted with."""

    form = RegistrationFieldForm
    list_display = ("label", "key", "type", "required", "order", "active")
    list_filter = ("active", "type", "required")
    search_fields = ("key", "label")
    ordering = ("-active", "order", "key")

    def get_readonly_fields(self, request, obj=None):
        return ("key", "type", "active") if obj is not None else ()

    def get_fields(self, request, obj=None):
        fields = list(RegistrationFieldForm.Meta.fields)
        return fields + ["active"] if obj is not None else fields

    def _may(self, request) -> bool:
        return is_manager(request.user)

    def has_add_permission(self, request):
        return self._may(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.active:
            return False
        return self._may(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.active:
            return False
        return self._may(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.service_data
        if change:
            field = customfields.field_update(actor=request.user, field=obj, data=data)
        else:
            field = customfields.field_create(actor=request.user, data=data)
        obj.pk = field.pk
        obj.key = field.key

    def save_related(self, request, form, formsets, change):
        return None  # the service saved the tiers and product lines

    def delete_model(self, request, obj):
        customfields.field_deactivate(actor=request.user, field=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.filter(active=True):
            customfields.field_deactivate(actor=request.user, field=obj)


@admin.register(RegistrationFormVersion)
class RegistrationFormVersionAdmin(admin.ModelAdmin):
    """The published form versions (read-only): what each registration was submitted with."""

    list_display = ("version", "created_at", "created_by", "change_note")
    list_select_related = ("created_by",)
    readonly_fields = ("version", "fields", "retired", "change_note", "created_by", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
