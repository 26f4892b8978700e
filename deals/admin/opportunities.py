"""Admin for direct opportunities, through the opportunity services (and a CSV import)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from deals.models import (
    CoSellAgreement,
    DirectOpportunity,
)
from deals.opportunities.services import (
    OPPORTUNITY_FIELDS,
    opportunity_clean,
    opportunity_delete,
    opportunity_update,
    opportunity_upsert,
)
from prm.exceptions import DomainError
from prm.lib.admin import ReadOnlyAdminMixin

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


@admin.register(CoSellAgreement)
class CoSellAgreementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Co-sell agreements are written by the conflict resolution only (with its events)."""

    list_display = (
        "conflict_id",
        "registration",
        "rep_email",
        "lead",
        "partner_credit_percent",
        "rep_credit_percent",
        "created_at",
    )
    list_filter = ("lead",)
    search_fields = ("rep_email", "registration__reference")
