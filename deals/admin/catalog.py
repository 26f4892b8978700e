"""Admin for product lines and products."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from deals.models import (
    Product,
    ProductLine,
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
