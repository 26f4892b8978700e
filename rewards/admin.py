from django.contrib import admin, messages

from rewards.models import Accrual
from rewards.services import accruals_approve


@admin.register(Accrual)
class AccrualAdmin(admin.ModelAdmin):
    """Accruals are written by rewards.services only; the admin reads them and can approve in
    bulk (the same service as the managers' rewards page)."""

    list_display = (
        "id",
        "registration",
        "partner",
        "kind",
        "amount",
        "currency",
        "status",
        "late",
        "created_at",
        "reference",
    )
    list_filter = ("status", "currency", "kind", "late")
    search_fields = ("registration__reference", "partner__name", "reference")
    list_select_related = ("registration", "partner")
    date_hierarchy = "created_at"
    actions = ["approve_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Accrual._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve the selected pending accruals")
    def approve_selected(self, request, queryset):
        count = accruals_approve(
            accrual_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        messages.success(request, f"{count} accrual(s) approved.")
