"""Admin for approval routing (issue 17 §4): the ordered routing rules (first match wins),
approval teams, the second approval step, and delegations."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from deals.admin.forms import MoneyByCurrencyField
from deals.models import ApprovalTeam, Delegation, RoutingRule, SecondStepRule
from prm.lib.forms import LineListField


class CountryListField(LineListField):
    """Country codes typed "DE, AT, CH" (commas or lines) → ["DE", "AT", "CH"]."""

    widget = forms.TextInput(attrs={"size": 40})

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        import pycountry

        codes = []
        for item in super().to_python(value):
            code = item.upper()
            if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
                raise forms.ValidationError(
                    f"“{item[:10]}” is not a two-letter country code.", code="invalid"
                )
            if code not in codes:
                codes.append(code)
        return codes


class RoutingRuleForm(forms.ModelForm):
    countries = CountryListField(
        required=False,
        help_text="The customer's country, or a region as a list: “DE, AT, CH”. Empty: any.",
    )

    class Meta:
        model = RoutingRule
        fields = (
            "order",
            "name",
            "active",
            "channel_manager",
            "countries",
            "product_lines",
            "currency",
            "min_value",
            "max_value",
            "assign_manager",
            "assign_team",
        )


class SecondStepRuleForm(forms.ModelForm):
    thresholds = MoneyByCurrencyField(
        required=False,
        label="Value thresholds",
        help_text="One currency and amount per line, e.g. “USD 250000.00”: a deal at or above "
        "it needs the second step. A currency not listed never does by value.",
    )

    class Meta:
        model = SecondStepRule
        fields = (
            "order",
            "name",
            "active",
            "thresholds",
            "product_lines",
            "approver_manager",
            "approver_team",
            "sla_business_days",
        )


@admin.register(ApprovalTeam)
class ApprovalTeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_list")
    search_fields = ("name", "members__email")
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="Members")
    def member_list(self, obj):
        return ", ".join(m.email for m in obj.members.all())


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Ordered: the first active rule (lowest order) whose conditions all hold assigns a new
    registration; empty conditions match anything; no match leaves it unassigned."""

    form = RoutingRuleForm
    list_display = (
        "order",
        "name",
        "active",
        "channel_manager",
        "country_list",
        "value_range",
        "assign_manager",
        "assign_team",
    )
    list_display_links = ("name",)
    list_editable = ("order", "active")
    list_filter = ("active",)
    list_select_related = ("channel_manager", "assign_manager", "assign_team")
    search_fields = ("name",)
    ordering = ("order", "id")
    filter_horizontal = ("product_lines",)
    fieldsets = (
        (None, {"fields": ("order", "name", "active")}),
        (
            "Conditions (all that are set must hold)",
            {
                "fields": (
                    "channel_manager",
                    "countries",
                    "product_lines",
                    ("currency", "min_value", "max_value"),
                )
            },
        ),
        ("Assign to (one)", {"fields": ("assign_manager", "assign_team")}),
    )

    @admin.display(description="Countries")
    def country_list(self, obj):
        return ", ".join(obj.countries or []) or "any"

    @admin.display(description="Deal size")
    def value_range(self, obj):
        if obj.min_value is None and obj.max_value is None:
            return "any"
        low = f"{obj.min_value:,.2f}" if obj.min_value is not None else "0"
        high = f"{obj.max_value:,.2f}" if obj.max_value is not None else "∞"
        return f"{low} – {high} {obj.currency}"


@admin.register(SecondStepRule)
class SecondStepRuleAdmin(admin.ModelAdmin):
    form = SecondStepRuleForm
    list_display = (
        "order",
        "name",
        "active",
        "threshold_list",
        "approver_manager",
        "approver_team",
        "sla_business_days",
    )
    list_display_links = ("name",)
    list_editable = ("order", "active")
    list_select_related = ("approver_manager", "approver_team")
    filter_horizontal = ("product_lines",)
    ordering = ("order", "id")

    @admin.display(description="Thresholds")
    def threshold_list(self, obj):
        return ", ".join(f"{k} {v}" for k, v in (obj.thresholds or {}).items()) or "—"


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = ("manager", "delegate", "starts_at", "ends_at", "note")
    list_select_related = ("manager", "delegate")
    search_fields = ("manager__email", "delegate__email")
    date_hierarchy = "starts_at"
