"""Admin for the notification outbox and users' preferences."""

from __future__ import annotations

from django.contrib import admin

from deals.models import (
    Notification,
    NotificationPreference,
)
from prm.lib.admin import ReadOnlyAdminMixin

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
