"""Admin for attachments: a read-only listing (files are attached and removed by partners
through deals.registrations.attachments; the bytes are downloaded through the access-checked
page, never from a storage URL)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from deals.models import Attachment
from prm.lib.admin import ReadOnlyAdminMixin


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "name",
        "registration",
        "content_type",
        "size",
        "uploaded_by",
        "deleted_at",
        "download",
    )
    list_filter = ("content_type", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "sha256", "registration__reference", "uploaded_by__email")
    date_hierarchy = "created_at"
    list_select_related = ("registration", "uploaded_by")
    fields = (
        "registration",
        "name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "created_at",
        "deleted_at",
        "deleted_by",
        "download",
    )
    readonly_fields = fields

    @admin.display(description="Download")
    def download(self, obj):
        if obj.deleted_at is not None:
            return "removed"
        return format_html(
            '<a href="{}">download</a>', reverse("attachment_download", kwargs={"pk": obj.pk})
        )
