"""Admin for the identity index and conflicts: read-only tools for administrators.

Conflicts are resolved by channel managers through deals.registrations.services.conflict_resolve (review
pages and API); this app never imports deals, so the admin only lists and links.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from conflicts.models import Conflict, IdentityEntry, IgnoredPair, KeyFrequency, RecordKind
from prm.lib.admin import ReadOnlyAdminMixin

if TYPE_CHECKING:  # ModelAdmin is generic only in the stubs (not subscriptable at run time)
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = admin.ModelAdmin


class ReadOnlyAdmin(ReadOnlyAdminMixin, _ModelAdmin):
    pass


def _record_link(kind: str, record_id: int) -> int | SafeString:
    name = (
        "admin:deals_dealregistration_change"
        if kind == RecordKind.REGISTRATION
        else "admin:deals_directopportunity_change"
    )
    try:
        url = reverse(name, args=[record_id])
    except NoReverseMatch:
        return record_id
    return format_html('<a href="{}">{}</a>', url, record_id)


@admin.register(IdentityEntry)
class IdentityEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "kind",
        "record",
        "label",
        "name_norm",
        "domain",
        "country",
        "product_lines",
        "active",
        "active_until",
        "since",
    )
    list_filter = ("kind", "active", "country")
    search_fields = ("label", "name_norm", "name_key", "domain", "email_domain")
    date_hierarchy = "since"

    @admin.display(description="Record", ordering="record_id")
    def record(self, obj: IdentityEntry) -> int | SafeString:
        return _record_link(obj.kind, obj.record_id)


@admin.register(Conflict)
class ConflictAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "registration",
        "kind",
        "other",
        "other_label",
        "score",
        "severity",
        "status",
        "resolution",
        "policy_version",
        "created_at",
    )
    list_filter = ("status", "severity", "kind", "resolution")
    search_fields = ("other_label", "=registration_id", "=other_id")
    date_hierarchy = "created_at"

    @admin.display(description="Registration", ordering="registration_id")
    def registration(self, obj: Conflict) -> int | SafeString:
        return _record_link(RecordKind.REGISTRATION, obj.registration_id)

    @admin.display(description="Other record", ordering="other_id")
    def other(self, obj: Conflict) -> int | SafeString:
        return _record_link(obj.kind, obj.other_id)


@admin.register(IgnoredPair)
class IgnoredPairAdmin(ReadOnlyAdmin):
    list_display = ("kind_a", "id_a", "kind_b", "id_b", "created_at")
    list_filter = ("kind_a", "kind_b")


@admin.register(KeyFrequency)
class KeyFrequencyAdmin(ReadOnlyAdmin):
    """Blocking-key document frequencies (diagnostics for the candidate budget)."""

    list_display = ("key", "df")
    search_fields = ("key",)
    ordering = ("-df",)
