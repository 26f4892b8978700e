"""The admin as a real tool for administrators (ARCHITECTURE.md).

- Registrations are read-only here: status only changes through deals.services, which the
  "Approve selected" / "Reject selected" actions call. Nothing can be deleted (AUD-03).
- Events are read-only, never added, changed or deleted.
- The rules of engagement are versioned: "add" publishes a new version through
  policy_publish, existing versions are shown read-only with "Create a new version
  from this", and "Preview impact" shows how many recent submissions the new thresholds or
  conflict scope would change (deals.whatif) before anything is saved.
- Direct opportunities are written through the opportunity services (index + conflicts), and
  can be imported from a CSV file.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from deals.models import (
    ActivityEntry,
    Comment,
    ConflictCheckLog,
    DealRegistration,
    DirectOpportunity,
    ExtensionRequest,
    ExtensionStatus,
    Notification,
    NotificationPreference,
    Product,
    ProductLine,
    RegistrationEvent,
    RejectionReason,
    RulesOfEngagement,
)
from deals.opportunities.services import (
    OPPORTUNITY_FIELDS,
    opportunity_clean,
    opportunity_delete,
    opportunity_update,
    opportunity_upsert,
)
from deals.policy import POLICY_FIELDS, policy_current, policy_history, policy_publish
from deals.registrations import services
from deals.registrations.extensions import extension_request_decide
from deals.registrations.validation import (
    REGISTRATION_CONTACT_FIELDS,
    REGISTRATION_CUSTOMER_FIELDS,
    REGISTRATION_DEAL_FIELDS,
    REGISTRATION_DETAIL_FIELDS,
)
from partners.roles import is_manager
from prm.exceptions import DomainError


class ReadOnlyAdminMixin:
    """Listed and viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


def _report(modeladmin, request, done: int, failures: list[str], verb: str) -> None:
    if done:
        modeladmin.message_user(request, f"{done} registration(s) {verb}.", messages.SUCCESS)
    for failure in failures[:20]:
        modeladmin.message_user(request, failure, messages.ERROR)
    if len(failures) > 20:
        modeladmin.message_user(
            request, f"… and {len(failures) - 20} more failure(s).", messages.ERROR
        )


# --- Catalog ------------------------------------------------------------------------------------


class ProductInline(admin.TabularInline):
    model = Product
    extra = 0
    fields = ("code", "name", "active")


@admin.register(ProductLine)
class ProductLineAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "product_count")
    search_fields = ("name", "code")
    inlines = [ProductInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_products=Count("products"))

    @admin.display(description="Products", ordering="_products")
    def product_count(self, obj):
        return obj._products

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "product_line", "active")
    list_filter = ("active", "product_line")
    search_fields = ("name", "code", "product_line__name")
    list_select_related = ("product_line",)

    def has_delete_permission(self, request, obj=None):
        # Registrations and opportunities refer to products: deactivate instead.
        return False


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
        if request.GET.get("from", "").isdigit():
            source = RulesOfEngagement.objects.filter(pk=int(request.GET["from"])).first()
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


# --- Registrations ------------------------------------------------------------------------------


class EventInline(ReadOnlyInline):
    model = RegistrationEvent
    fields = (
        "seq",
        "at",
        "actor_label",
        "action",
        "from_status",
        "to_status",
        "internal",
        "policy_version",
    )
    ordering = ("seq",)
    show_change_link = True


class CommentInline(ReadOnlyInline):
    model = Comment
    fields = ("created_at", "author", "internal", "body")


class ActivityInline(ReadOnlyInline):
    model = ActivityEntry
    fields = ("occurred_on", "kind", "author", "summary")


class ExtensionRequestInline(ReadOnlyInline):
    model = ExtensionRequest
    fields = ("created_at", "requested_by", "status", "reason", "decided_by", "new_expires_at")


class OverdueFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", "Overdue"), ("no", "On time"))

    def queryset(self, request, queryset):
        from django.utils import timezone

        overdue = {"status__in": ["submitted", "info_requested"], "sla_due_at__lt": timezone.now()}
        if self.value() == "yes":
            return queryset.filter(**overdue)
        if self.value() == "no":
            return queryset.exclude(**overdue)
        return queryset


@admin.register(DealRegistration)
class DealRegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "customer_name",
        "partner",
        "status",
        "conflict_status",
        "value",
        "submitted_at",
        "expires_at",
        "overdue",
    )
    list_display_links = ("reference", "customer_name")
    list_filter = ("status", "conflict_status", "partner__tier", OverdueFilter, "partner")
    search_fields = ("reference", "customer_name", "customer_domain", "partner__name")
    date_hierarchy = "submitted_at"
    list_select_related = ("partner", "partner__tier", "submitted_by")
    ordering = ("-submitted_at", "-id")
    inlines = [EventInline, CommentInline, ActivityInline, ExtensionRequestInline]
    actions = ["approve_selected", "reject_selected_not_qualified"]
    fieldsets = (
        (
            "Registration",
            {
                "fields": (
                    "reference",
                    "partner",
                    "submitted_by",
                    "status",
                    "conflict_status",
                    "conflict_message",
                )
            },
        ),
        (
            "Customer",
            {"fields": REGISTRATION_CUSTOMER_FIELDS + REGISTRATION_CONTACT_FIELDS},
        ),
        (
            "Deal",
            {"fields": REGISTRATION_DEAL_FIELDS + REGISTRATION_DETAIL_FIELDS},
        ),
        (
            "Decision and protection",
            {
                "fields": (
                    "policy_version",
                    "decision_policy_version",
                    "submitted_at",
                    "first_submitted_at",
                    "sla_due_at",
                    "decided_at",
                    "decided_by",
                    "rejection_reason",
                    "decision_note",
                    "approved_at",
                    "expires_at",
                    "extensions_used",
                    "co_sell",
                )
            },
        ),
        (
            "Outcome",
            {"fields": ("outcome", "actual_value", "close_date", "lost_reason", "closed_at")},
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Value", ordering="estimated_value")
    def value(self, obj):
        return f"{obj.estimated_value:,.2f} {obj.currency}"

    @admin.display(boolean=True, description="Overdue")
    def overdue(self, obj):
        return obj.is_overdue

    def has_review_permission(self, request):
        return is_manager(request.user)

    @admin.action(description="Approve selected registrations", permissions=["review"])
    def approve_selected(self, request, queryset):
        done, failures = 0, []
        for registration in queryset.select_related("partner", "partner__tier"):
            try:
                services.registration_approve(registration=registration, actor=request.user)
                done += 1
            except DomainError as exc:
                failures.append(f"{registration.reference or registration.pk}: {exc.detail}")
        _report(self, request, done, failures, "approved")

    @admin.action(description="Reject selected (not qualified)", permissions=["review"])
    def reject_selected_not_qualified(self, request, queryset):
        done, failures = 0, []
        for registration in queryset:
            try:
                services.registration_reject(
                    registration=registration,
                    actor=request.user,
                    reason=RejectionReason.NOT_QUALIFIED,
                    note="Rejected from the admin.",
                )
                done += 1
            except DomainError as exc:
                failures.append(f"{registration.reference or registration.pk}: {exc.detail}")
        _report(self, request, done, failures, "rejected")


@admin.register(RegistrationEvent)
class RegistrationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "chain",
        "seq",
        "registration",
        "at",
        "actor_label",
        "action",
        "from_status",
        "to_status",
        "internal",
        "policy_version",
    )
    list_filter = ("action", "internal", "to_status")
    search_fields = ("chain", "registration__reference", "actor_label")
    date_hierarchy = "at"
    list_select_related = ("registration",)
    ordering = ("-at", "-id")

    def get_actions(self, request):
        return {}


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "registration", "author", "internal", "excerpt")
    list_filter = ("internal",)
    search_fields = ("body", "registration__reference", "author__email")
    date_hierarchy = "created_at"
    list_select_related = ("registration", "author")

    @admin.display(description="Comment")
    def excerpt(self, obj):
        return obj.body[:80]


@admin.register(ActivityEntry)
class ActivityEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_on", "kind", "registration", "author", "summary")
    list_filter = ("kind",)
    search_fields = ("summary", "registration__reference", "author__email")
    date_hierarchy = "occurred_on"
    list_select_related = ("registration", "author")


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "registration",
        "requested_by",
        "status",
        "decided_by",
        "decided_at",
        "previous_expires_at",
        "new_expires_at",
    )
    list_filter = ("status",)
    search_fields = (
        "registration__reference",
        "registration__customer_name",
        "requested_by__email",
    )
    date_hierarchy = "created_at"
    list_select_related = ("registration", "requested_by", "decided_by")
    actions = ["approve_selected", "reject_selected"]

    def has_review_permission(self, request):
        return is_manager(request.user)

    def _decide(self, request, queryset, approve: bool):
        done, failures = 0, []
        for request_obj in queryset.filter(status=ExtensionStatus.PENDING).select_related(
            "registration"
        ):
            try:
                extension_request_decide(request=request_obj, actor=request.user, approve=approve)
                done += 1
            except DomainError as exc:
                failures.append(f"{request_obj.registration.reference}: {exc.detail}")
        verb = "approved" if approve else "rejected"
        if done:
            self.message_user(request, f"{done} extension request(s) {verb}.", messages.SUCCESS)
        for failure in failures:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description="Approve selected extension requests", permissions=["review"])
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, True)

    @admin.action(description="Reject selected extension requests", permissions=["review"])
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, False)


# --- Direct opportunities -----------------------------------------------------------------------


class OpportunityForm(forms.ModelForm):
    class Meta:
        model = DirectOpportunity
        fields = OPPORTUNITY_FIELDS

    def clean(self):
        cleaned = super().clean()
        _, errors = opportunity_clean(_opportunity_data(cleaned))
        for field, problems in errors.items():
            self.add_error(field if field in self.fields else None, problems)
        return cleaned


def _opportunity_data(cleaned: dict) -> dict:
    data = {name: cleaned.get(name) for name in OPPORTUNITY_FIELDS if name in cleaned}
    if "products" in data:
        data["products"] = [p.code for p in (data["products"] or [])]
    for name in ("account_domain", "owner_email", "stage"):
        if name in data and data[name] is None:
            data[name] = ""
    return data


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header row (external_id, account_name, …).")


@admin.register(DirectOpportunity)
class DirectOpportunityAdmin(admin.ModelAdmin):
    form = OpportunityForm
    list_display = (
        "external_id",
        "account_name",
        "account_domain",
        "country",
        "owner_email",
        "amount_display",
        "stage",
        "status",
        "close_date",
        "updated_at",
    )
    list_filter = ("status", "country", "products__product_line")
    search_fields = ("external_id", "account_name", "account_domain", "owner_email")
    date_hierarchy = "updated_at"
    filter_horizontal = ("products",)
    readonly_fields = ("won_at", "created_at", "updated_at")
    change_list_template = "admin/deals/directopportunity/change_list.html"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return f"{obj.amount:,.2f} {obj.currency}"

    # The opportunity services own their (durable) transactions: no outer admin transaction.
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._delete_view(request, object_id, extra_context)

    def save_model(self, request, obj, form, change):
        data = _opportunity_data(form.cleaned_data)
        if change:
            original = DirectOpportunity.objects.get(pk=obj.pk)
            opportunity = opportunity_update(opportunity=original, data=data, actor=request.user)
        else:
            opportunity, _ = opportunity_upsert(data=data, actor=request.user)
        obj.pk = opportunity.pk
        obj.won_at = opportunity.won_at
        obj.created_at = opportunity.created_at
        obj.updated_at = opportunity.updated_at

    def save_related(self, request, form, formsets, change):
        # Products were set by the service (the index needs them in the same transaction).
        return None

    def delete_model(self, request, obj):
        opportunity_delete(opportunity=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for opportunity in queryset:
            opportunity_delete(opportunity=opportunity, actor=request.user)

    def get_urls(self):
        return [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="deals_directopportunity_import_csv",
            ),
            *super().get_urls(),
        ]

    def import_csv_view(self, request):
        """Upload a CSV of opportunities: all rows or none (deals.csv_import)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        row_errors = None
        if request.method == "POST":
            form = CsvImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    from deals.opportunities.csv_import import opportunities_import_csv
                except ImportError:
                    self.message_user(request, "CSV import is not available.", messages.ERROR)
                else:
                    try:
                        result = opportunities_import_csv(form.cleaned_data["file"])
                    except DomainError as exc:
                        row_errors = exc.extra.get("rows") or exc.fields or {}
                        self.message_user(request, exc.detail, messages.ERROR)
                    else:
                        summary = ", ".join(f"{k}: {v}" for k, v in (result or {}).items())
                        self.message_user(
                            request, f"Opportunities imported ({summary}).", messages.SUCCESS
                        )
                        return HttpResponseRedirect(
                            reverse("admin:deals_directopportunity_changelist")
                        )
        else:
            form = CsvImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import direct opportunities from CSV",
            "form": form,
            "row_errors": sorted((row_errors or {}).items(), key=lambda kv: str(kv[0])),
            "columns": OPPORTUNITY_FIELDS,
        }
        return TemplateResponse(request, "admin/deals/directopportunity/import_csv.html", context)


# --- Notifications and logs ---------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox: failed deliveries are visible here (filter by status)."""

    list_display = (
        "created_at",
        "recipient",
        "kind",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "read_at",
        "registration",
    )
    list_filter = ("status", "channel", "kind")
    search_fields = ("recipient__email", "title", "dedupe_key", "registration__reference")
    date_hierarchy = "created_at"
    list_select_related = ("recipient", "registration")
    exclude = ("context",)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "email_enabled")
    list_filter = ("kind", "email_enabled")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    autocomplete_fields = ("user",)


@admin.register(ConflictCheckLog)
class ConflictCheckLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "user", "partner_id", "verdict", "source", "customer_key_hash")
    list_filter = ("verdict", "source")
    search_fields = ("user__email", "customer_key_hash")
    date_hierarchy = "at"
    list_select_related = ("user",)
