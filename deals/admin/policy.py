"""Admin for the rules of engagement: every save publishes a new version (deals.policy), with a what-if preview."""

from __future__ import annotations

from django.contrib import admin

from deals.admin.forms import RulesOfEngagementForm
from deals.models import (
    IncentiveRule,
    RulesOfEngagement,
)
from deals.policy import POLICY_FIELDS, policy_current, policy_history, policy_publish
from prm.lib.ids import parse_id

# --- Rules of engagement (versioned, with a what-if preview) --------------------------------------

POLICY_FIELDSETS = (
    (
        "Protection",
        {"fields": ("protection_days", "extension_days", "max_extensions", "reminder_days")},
    ),
    ("Review", {"fields": ("sla_business_days", "holidays", "auto_approve_enabled")}),
    ("Submission rules", {"fields": ("min_deal_values", "required_fields")}),
    (
        "Conflict matching",
        {
            "fields": (
                "conflict_scope",
                "review_threshold",
                "certain_threshold",
                "direct_won_lookback_days",
                "reveal_conflict_kind",
            ),
            "description": "Use “Preview impact” to see how many recent submissions would "
            "come out differently before saving.",
        },
    ),
    ("Change", {"fields": ("change_note",)}),
)
WHAT_IF_LAST_N = 200


@admin.register(RulesOfEngagement)
class RulesOfEngagementAdmin(admin.ModelAdmin):
    """Every save publishes a new version; versions are never edited or deleted."""

    form = RulesOfEngagementForm
    list_display = (
        "version",
        "current",
        "created_at",
        "created_by",
        "protection_days",
        "max_extensions",
        "sla_business_days",
        "conflict_scope",
        "review_threshold",
        "certain_threshold",
        "auto_approve_enabled",
        "change_note",
    )
    list_display_links = ("version",)
    list_filter = ("conflict_scope", "auto_approve_enabled")
    search_fields = ("change_note",)
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    ordering = ("-version",)
    readonly_fields = ("version", "created_by", "created_at")

    @admin.display(boolean=True, description="In force")
    def current(self, obj):
        return obj.version == self._current_version

    def get_queryset(self, request):
        self._current_version = policy_current().version
        return super().get_queryset(request)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return POLICY_FIELDSETS
        return (("Version", {"fields": ("version", "created_by", "created_at")}), *POLICY_FIELDSETS)

    def has_change_permission(self, request, obj=None):
        # A version is never edited: its change page is read-only, with a link to create a new
        # version from it.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        source = None
        source_id = parse_id(request.GET.get("from", ""))
        if source_id:
            source = RulesOfEngagement.objects.filter(pk=source_id).first()
        source = source or policy_current()
        initial = {name: getattr(source, name) for name in POLICY_FIELDS}
        initial["change_note"] = ""
        return initial

    def get_form(self, request, obj=None, change=False, **kwargs):
        Form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None or request.method != "POST" or "_preview" not in request.POST:
            return Form

        class PreviewForm(Form):
            """Validates, computes the impact, and never lets the admin save."""

            def is_valid(self):
                if not super().is_valid():
                    return False
                request._policy_what_if = _what_if(self.cleaned_data)
                return False

        return PreviewForm

    def save_model(self, request, obj, form, change):
        changes = {
            name: form.cleaned_data[name] for name in POLICY_FIELDS if name in form.cleaned_data
        }
        policy = policy_publish(
            actor=request.user, change_note=form.cleaned_data.get("change_note", ""), **changes
        )
        obj.pk = policy.pk
        obj.version = policy.version
        obj.created_by = policy.created_by
        obj.created_at = policy.created_at

    def save_related(self, request, form, formsets, change):
        return None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["what_if"] = getattr(request, "_policy_what_if", None)
        context["what_if_last_n"] = WHAT_IF_LAST_N
        context["policy_versions"] = policy_history()[:50]
        context["current_version"] = policy_current().version
        return super().render_change_form(request, context, add, change, form_url, obj)


def _what_if(cleaned: dict) -> dict:
    from deals.policy import policy_what_if

    return policy_what_if(
        {
            "review_threshold": cleaned.get("review_threshold"),
            "certain_threshold": cleaned.get("certain_threshold"),
            "conflict_scope": cleaned.get("conflict_scope"),
        },
        last_n=WHAT_IF_LAST_N,
    )


# --- Registered-deal incentives (versioned with the rules of engagement) ------------------------


def _rule_values(rule: IncentiveRule) -> dict:
    return {
        "tier_id": rule.tier_id,
        "product_line_id": rule.product_line_id,
        "kind": rule.kind,
        "value": rule.value,
        "currency": (rule.currency or "").upper() if rule.kind == "fixed" else "",
    }


@admin.register(IncentiveRule)
class IncentiveRuleAdmin(admin.ModelAdmin):
    """Incentives per tier and product line. Rules belong to a policy version: adding, changing
    or deleting one publishes a new version of the rules of engagement with the changed set
    (approved registrations keep the benefit frozen at their approval); rules of past versions
    are read-only."""

    list_display = ("policy_version", "tier", "product_line", "kind", "value", "currency")
    list_filter = ("policy_version", "tier", "kind")
    list_select_related = ("tier", "product_line")
    fields = ("tier", "product_line", "kind", "value", "currency")

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-policy_version", "tier__rank", "id")

    def _is_current(self, obj) -> bool:
        return obj is None or obj.policy_version == policy_current().version

    def has_change_permission(self, request, obj=None):
        return self._is_current(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._is_current(obj) and super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request):
        return {"kind": "percent_of_won"}

    def save_model(self, request, obj, form, change):
        current = policy_current()
        rules = [
            _rule_values(r)
            for r in IncentiveRule.objects.filter(policy_version=current.version)
            if r.pk != obj.pk
            and (r.tier_id, r.product_line_id) != (obj.tier_id, obj.product_line_id)
        ]
        rules.append(_rule_values(obj))
        policy = policy_publish(
            actor=request.user,
            change_note=f"Incentive rule {'changed' if change else 'added'}: {obj.tier} / "
            f"{obj.product_line or 'any line'}",
            incentive_rules=rules,
        )
        saved = IncentiveRule.objects.get(
            policy_version=policy.version, tier_id=obj.tier_id, product_line_id=obj.product_line_id
        )
        obj.pk, obj.policy_version = saved.pk, saved.policy_version

    def delete_model(self, request, obj):
        current = policy_current()
        rules = [
            _rule_values(r)
            for r in IncentiveRule.objects.filter(policy_version=current.version)
            if r.pk != obj.pk
        ]
        policy_publish(
            actor=request.user,
            change_note=f"Incentive rule removed: {obj.tier} / {obj.product_line or 'any line'}",
            incentive_rules=rules,
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
