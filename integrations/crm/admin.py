"""The CRM connectors in the admin: connect (credentials write-only), the field map, status
(connected / reconnect needed, last success, next run), "Sync now", the run log with counts,
failed records with "Retry", and the registrations' CRM links."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from integrations.crm import oauth
from integrations.crm.models import (
    AuthMethod,
    ConnectionStatus,
    CrmConnection,
    CrmFieldMap,
    CrmLink,
    CrmPush,
    RecordError,
    SyncRun,
)
from integrations.crm.services import (
    VENDOR_OF,
    connection_next_run,
    connection_prepare,
    connection_schedule,
    connection_set_secrets,
    crm_link_url,
    secrets_present,
)
from prm.lib.admin import ReadOnlyAdminMixin, ReadOnlyInline

SECRET_FIELDS = ("client_secret", "refresh_token", "private_key", "token")


class CrmConnectionForm(forms.ModelForm):
    # Write-only: never rendered back; a blank field keeps what is stored.
    client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="OAuth client secret / consumer secret (Salesforce web-server flow, HubSpot OAuth).",
    )
    refresh_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Optional: paste a refresh token, or use “Connect (OAuth)” after saving.",
    )
    private_key = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Salesforce JWT bearer: the connected app certificate's private key (PEM). "
        "Shown never again.",
    )
    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="HubSpot private-app access token (pat-…).",
    )

    class Meta:
        model = CrmConnection
        fields = (
            "name",
            "auth_method",
            "auth_url",
            "client_id",
            "username",
            "push_object",
            "id_prefix",
            "active",
            "pull_enabled",
            "push_enabled",
            "pull_every_minutes",
            "api_version",
        )

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("auth_method")
        push_object = cleaned.get("push_object")
        if method and push_object:
            vendor = VENDOR_OF[AuthMethod(method)]
            if (vendor == "hubspot") != (push_object == "deal"):
                self.add_error("push_object", "Choose a record type of this CRM.")
        if method == AuthMethod.SF_JWT and not cleaned.get("username"):
            self.add_error("username", "The JWT bearer flow needs the integration user's username.")
        return cleaned

    def secrets(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in SECRET_FIELDS}


class FieldMapInline(admin.TabularInline):
    model = CrmFieldMap
    extra = 0
    fields = ("target", "source", "value_map", "default")


@admin.register(CrmConnection)
class CrmConnectionAdmin(admin.ModelAdmin):
    form = CrmConnectionForm
    inlines = [FieldMapInline]
    list_display = (
        "name",
        "vendor",
        "status_badge",
        "last_success_at",
        "next_run",
        "open_failed_records",
        "active",
    )
    list_filter = ("vendor", "status", "active")
    actions = ["sync_now", "push_now"]
    readonly_fields = (
        "vendor",
        "status_badge",
        "status_message",
        "stored_secrets",
        "oauth_connect",
        "instance_url",
        "last_success_at",
        "last_failure_at",
        "next_run",
        "watermark_at",
        "deleted_watermark_at",
        "service_user",
        "recent_runs",
    )
    fieldsets = (
        (None, {"fields": ("name", "auth_method", "auth_url", "client_id", "username")}),
        (
            "Credentials (write-only, encrypted)",
            {
                "fields": (
                    "stored_secrets",
                    "client_secret",
                    "refresh_token",
                    "private_key",
                    "token",
                    "oauth_connect",
                )
            },
        ),
        (
            "Sync",
            {
                "fields": (
                    "active",
                    "pull_enabled",
                    "pull_every_minutes",
                    "push_enabled",
                    "push_object",
                    "id_prefix",
                    "api_version",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "status_badge",
                    "status_message",
                    "last_success_at",
                    "last_failure_at",
                    "next_run",
                    "watermark_at",
                    "deleted_watermark_at",
                    "instance_url",
                    "service_user",
                    "recent_runs",
                )
            },
        ),
    )

    @admin.display(description="status")
    def status_badge(self, obj):
        colour = {"connected": "green", "reconnect": "#b00"}.get(obj.status, "#666")
        label = obj.get_status_display()
        if obj.status == ConnectionStatus.RECONNECT:
            label = "Reconnect needed"
        return format_html('<strong style="color:{}">{}</strong>', colour, label)

    @admin.display(description="next run")
    def next_run(self, obj):
        return connection_next_run(obj) if obj.pk else None

    @admin.display(description="open failed records")
    def open_failed_records(self, obj):
        count = obj.record_errors.filter(resolved_at__isnull=True).count()
        url = reverse("admin:integrations_recorderror_changelist")
        return format_html(
            '<a href="{}?connection__id__exact={}&resolved_at__isnull=True">{}</a>',
            url,
            obj.pk,
            count,
        )

    @admin.display(description="stored secrets")
    def stored_secrets(self, obj):
        names = secrets_present(obj) if obj.pk and obj.credentials else []
        return ", ".join(n for n in names if n != "access_token") or "none"

    @admin.display(description="OAuth")
    def oauth_connect(self, obj):
        if not obj.pk or obj.auth_method not in (AuthMethod.SF_WEB_SERVER, AuthMethod.HS_OAUTH):
            return "—"
        url = f"{reverse('admin:integrations_crm_oauth_start')}?connection={obj.pk}"
        return format_html('<a class="button" href="{}">Connect (OAuth consent)</a>', url)

    @admin.display(description="recent runs")
    def recent_runs(self, obj):
        url = reverse("admin:integrations_syncrun_changelist")
        return format_html('<a href="{}?connection__id__exact={}">Run log</a>', url, obj.pk)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("auth_method")  # the vendor and the way in are fixed once created
        return fields

    def save_model(self, request, obj, form, change):
        obj.vendor = VENDOR_OF[AuthMethod(obj.auth_method)]
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            connection_prepare(obj)
            connection_schedule(obj)
            if any(form.secrets().values()):
                connection_set_secrets(obj, form.secrets())

    @admin.action(description="Sync now (pull)")
    def sync_now(self, request, queryset):
        from integrations.crm.tasks import pull_publisher

        ids = list(queryset.values_list("id", flat=True))
        transaction.on_commit(lambda: pull_publisher.publish(ids))
        self.message_user(
            request, f"Pull queued for {queryset.count()} connection(s): see the run log."
        )

    @admin.action(description="Push pending registrations now")
    def push_now(self, request, queryset):
        from integrations.crm.push import crm_push_publish

        ids = list(queryset.values_list("id", flat=True))
        transaction.on_commit(lambda: crm_push_publish(ids))
        self.message_user(request, "Push queued: see the run log.")

    # --- OAuth consent (web-server flow) -----------------------------------------------------

    def get_urls(self):
        return [
            # The connection as a query parameter, not a path segment: an id the `id` converter
            # refuses would otherwise fall through to the admin's catch-all redirect (not 404).
            path(
                "oauth/start/",
                self.admin_site.admin_view(self.oauth_start),
                name="integrations_crm_oauth_start",
            ),
            path(
                "oauth/callback/",
                self.admin_site.admin_view(self.oauth_callback),
                name="integrations_crm_oauth_callback",
            ),
            *super().get_urls(),
        ]

    def _redirect_uri(self, request) -> str:
        return oauth.redirect_uri(
            request.build_absolute_uri(reverse("admin:integrations_crm_oauth_callback"))
        )

    def oauth_start(self, request):
        from django.http import Http404

        from prm.lib.ids import parse_id

        pk = parse_id(request.GET.get("connection", ""))
        if pk is None:
            raise Http404("No such connection.")
        connection = get_object_or_404(CrmConnection, pk=pk)
        if not self.has_change_permission(request, connection):
            return HttpResponseRedirect(reverse("admin:index"))
        state = signing.dumps(
            {"connection": connection.pk, "user": request.user.pk}, salt=oauth.SALT
        )
        return HttpResponseRedirect(
            oauth.consent_url(connection, self._redirect_uri(request), state)
        )

    def oauth_callback(self, request):
        try:
            state = signing.loads(request.GET.get("state", ""), salt=oauth.SALT, max_age=900)
        except signing.BadSignature:
            self.message_user(
                request, "The OAuth answer could not be verified: try again.", messages.ERROR
            )
            return HttpResponseRedirect(reverse("admin:integrations_crmconnection_changelist"))
        connection = get_object_or_404(CrmConnection, pk=state["connection"])
        change = reverse("admin:integrations_crmconnection_change", args=[connection.pk])
        if state.get("user") != request.user.pk or not self.has_change_permission(
            request, connection
        ):
            return HttpResponseRedirect(change)
        if request.GET.get("error"):
            self.message_user(
                request, f"The CRM refused: {request.GET['error'][:200]}", messages.ERROR
            )
            return HttpResponseRedirect(change)
        try:
            oauth.complete(connection, request.GET.get("code", ""), self._redirect_uri(request))
        except Exception as exc:  # CrmAuthError, CrmUnavailable: say so, store nothing
            self.message_user(request, f"Connecting failed: {exc}", messages.ERROR)
            return HttpResponseRedirect(change)
        self.message_user(request, f"{connection} is connected.")
        return HttpResponseRedirect(change)


class RecordErrorInline(ReadOnlyInline):
    model = RecordError
    fields = ("direction", "crm_id", "registration", "message", "resolved_at")


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "connection",
        "kind",
        "status",
        "started_at",
        "duration_ms",
        "fetched",
        "created",
        "updated",
        "deleted",
        "failed",
        "closed",
        "pushed",
    )
    list_filter = ("status", "kind", "connection")
    readonly_fields = [f.name for f in SyncRun._meta.fields]
    inlines = [RecordErrorInline]
    date_hierarchy = "started_at"


@admin.register(RecordError)
class RecordErrorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "connection",
        "direction",
        "crm_id",
        "registration",
        "short_message",
        "retries",
        "created_at",
        "resolved_at",
    )
    list_filter = ("direction", "connection", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("crm_id", "message")
    readonly_fields = [f.name for f in RecordError._meta.fields]
    actions = ["retry"]

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message[:120]

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Read-only rows, one action: retry (needs the change permission on connections).
        actions = super().get_actions(request)
        return actions if request.user.has_perm("integrations.change_crmconnection") else {}

    @admin.action(description="Retry")
    def retry(self, request, queryset):
        from integrations.crm.push import push_errors_retry
        from integrations.crm.tasks import crm_retry_records_task

        open_errors = queryset.filter(resolved_at__isnull=True)
        pull = open_errors.filter(direction=RecordError.Direction.PULL)
        by_connection: dict[int, list[int]] = {}
        for pk, connection_id in pull.values_list("id", "connection_id"):
            by_connection.setdefault(connection_id, []).append(pk)
        for ids in by_connection.values():
            transaction.on_commit(lambda ids=ids: crm_retry_records_task.delay(ids))
        pushes = push_errors_retry(
            list(
                open_errors.filter(direction=RecordError.Direction.PUSH).values_list(
                    "id", flat=True
                )
            )
        )
        self.message_user(
            request,
            f"Retrying {sum(map(len, by_connection.values()))} pulled record(s) and {pushes} "
            "push(es): see the run log.",
        )


@admin.register(CrmLink)
class CrmLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "registration",
        "connection",
        "object_type",
        "crm_record",
        "last_pushed_at",
        "last_pushed_status",
        "closed_by_crm_at",
    )
    list_filter = ("connection", "object_type")
    search_fields = ("crm_id", "registration__reference", "registration__customer_name")
    list_select_related = ("registration", "connection")

    @admin.display(description="CRM record")
    def crm_record(self, obj):
        url = crm_link_url(obj)
        return (
            format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj.crm_id)
            if url
            else obj.crm_id
        )


@admin.register(CrmPush)
class CrmPushAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "connection",
        "registration",
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "connection")
