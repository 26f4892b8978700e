"""The admin as a real tool for administrators (docs/architecture.md).

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

from django.contrib import admin, messages

from deals.models import (
    ActivityEntry,
    Comment,
    ConflictCheckLog,
    DealRegistration,
    ExtensionRequest,
    ExtensionStatus,
    RegistrationEvent,
    RegistrationWatcher,
    RejectionReason,
)
from deals.registrations import services
from deals.registrations.extensions import extension_request_decide
from deals.registrations.validation import (
    REGISTRATION_CONTACT_FIELDS,
    REGISTRATION_CUSTOM_FIELDS,
    REGISTRATION_CUSTOMER_FIELDS,
    REGISTRATION_DEAL_FIELDS,
    REGISTRATION_DETAIL_FIELDS,
)
from partners.roles import is_manager
from prm.exceptions import DomainError
from prm.lib.admin import ReadOnlyAdminMixin, ReadOnlyInline
from prm.lib.time import timezone_now


def _report(modeladmin, request, done: int, failures: list[str], verb: str) -> None:
    if done:
        modeladmin.message_user(request, f"{done} registration(s) {verb}.", messages.SUCCESS)
    for failure in failures[:20]:
        modeladmin.message_user(request, failure, messages.ERROR)
    if len(failures) > 20:
        modeladmin.message_user(
            request, f"… and {len(failures) - 20} more failure(s).", messages.ERROR
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


class WatcherInline(ReadOnlyInline):
    """Colleagues following the registration (they hear what its owner hears)."""

    model = RegistrationWatcher
    fields = ("user", "created_at")


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
        # Awaiting the partner (info requested) pauses the SLA: never overdue.
        overdue = {"status": "submitted", "sla_due_at__lt": timezone_now()}
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
        "owner",
        "status",
        "conflict_status",
        "value",
        "submitted_at",
        "expires_at",
        "overdue",
    )
    list_display_links = ("reference", "customer_name")
    list_filter = ("status", "conflict_status", "partner__tier", OverdueFilter, "partner")
    search_fields = (
        "reference",
        "customer_name",
        "customer_domain",
        "partner__name",
        "owner__email",
    )
    date_hierarchy = "submitted_at"
    list_select_related = ("partner", "partner__tier", "submitted_by", "owner")
    ordering = ("-submitted_at", "-id")
    inlines = [
        EventInline,
        CommentInline,
        ActivityInline,
        ExtensionRequestInline,
        WatcherInline,
    ]
    actions = ["approve_selected", "reject_selected_not_qualified"]
    fieldsets = (
        (
            "Registration",
            {
                "fields": (
                    "reference",
                    "partner",
                    "submitted_by",
                    "owner",
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
            "Custom fields",
            {"fields": REGISTRATION_CUSTOM_FIELDS + ("form_version",)},
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


@admin.register(ConflictCheckLog)
class ConflictCheckLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "user", "partner_id", "verdict", "source", "customer_key_hash")
    list_filter = ("verdict", "source")
    search_fields = ("user__email", "customer_key_hash")
    date_hierarchy = "at"
    list_select_related = ("user",)
