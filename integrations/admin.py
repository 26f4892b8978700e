from django import forms
from django.contrib import admin

from integrations import urlsafety
from integrations.delivery import webhooks_forget
from integrations.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from integrations.services import new_secret


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in WEBHOOK_EVENTS], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "events", "description", "active")

    def clean_url(self):
        try:
            return urlsafety.check_url(self.cleaned_data["url"])
        except urlsafety.UnsafeUrl as exc:
            raise forms.ValidationError(str(exc))


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "active", "consecutive_failures", "disabled_reason", "created_at")
    list_filter = ("active",)
    form = WebhookEndpointForm
    readonly_fields = ("consecutive_failures", "disabled_reason", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = new_secret()  # the API shows it once; the admin never does
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        webhooks_forget()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "response_status", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The CRM connectors' admin (registered on import).
from integrations.crm import admin as crm_admin  # noqa: E402,F401
