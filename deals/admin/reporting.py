"""Admin for the reporting currency and the monthly exchange rates (issue 18 §5), with an
all-or-nothing CSV import of rates ("currency,month,rate")."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from deals.models import ExchangeRate, ReportingCurrency
from deals.reports.currency import exchange_rates_import, reporting_currency
from prm.exceptions import ValidationFailed


@admin.register(ReportingCurrency)
class ReportingCurrencyAdmin(admin.ModelAdmin):
    """Each save is a new choice (the latest is in force); past choices stay as a record."""

    list_display = ("code", "changed_at", "changed_by")
    fields = ("code",)
    list_select_related = ("changed_by",)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.changed_by = request.user
        super().save_model(request, obj, form, change)


class RatesImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV rows “currency,month,rate”, e.g. “EUR,2026-11,1.0843” (a header row "
        "is allowed). All rows are stored or none."
    )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("month", "currency", "rate", "reporting_currency")
    list_filter = ("reporting_currency", "currency")
    date_hierarchy = "month"
    fields = ("reporting_currency", "currency", "month", "rate")
    change_list_template = "admin/deals/exchangerate/change_list.html"

    def get_changeform_initial_data(self, request):
        return {"reporting_currency": reporting_currency() or ""}

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="deals_exchangerate_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        target = reporting_currency()
        form = RatesImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            raw = form.cleaned_data["file"].read(1_000_001)
            try:
                if len(raw) > 1_000_000:
                    raise ValidationFailed(
                        "The file was not imported.", fields={"file": ["Larger than 1 MB."]}
                    )
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise ValidationFailed(
                        "The file was not imported.", fields={"file": ["Not UTF-8 text."]}
                    ) from None
                count = exchange_rates_import(text=text, reporting=target or "")
            except ValidationFailed as exc:
                for name, problems in (exc.fields or {}).items():
                    for problem in problems:
                        form.add_error("file" if name == "file" else None, problem)
            else:
                messages.success(request, f"{count} rate{'s' if count != 1 else ''} imported.")
                return redirect(reverse("admin:deals_exchangerate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import exchange rates",
            "form": form,
            "reporting_currency": target,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/deals/exchangerate/import.html", context)
