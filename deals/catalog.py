"""Products and product lines: which products are active, validating product codes, creating products."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from deals.models import (
    Product,
)
from deals.permissions import _require_manager
from prm.exceptions import (
    ValidationFailed,
)
from prm.frozen import frozen_list_in
from prm.lib.validation import (
    Errors,
    check_text,
)


def _clean_products(errors: Errors, value) -> list[Product]:
    if value in (None, ""):
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        errors.add("products", "Send a list of product codes.")
        return []
    codes = []
    for item in value:
        code = item.code if isinstance(item, Product) else item
        if not isinstance(code, str) or "\x00" in code or len(code) > 40:
            errors.add("products", "Unknown product.")
            return []
        codes.append(code)
    products = _active_products(codes)
    missing = sorted(set(codes) - {p.code for p in products})
    if missing:
        errors.add("products", f"Unknown product: {', '.join(missing[:5])}.")
    return products


def _active_products(codes: list[str]) -> list[Product]:
    """Active products with these codes (their lines joined); compiled once per list length."""
    return frozen_list_in(
        ("active_products",),
        lambda codes: Product.objects.filter(code__in=codes, active=True).select_related(
            "product_line"
        ),
        codes,
        max_items=8,
    )


# --- Catalog ------------------------------------------------------------------------------------


def product_create(
    *, actor, code: str, name: str, product_line: str, product_line_name: str = ""
) -> Product:
    """A manager adds a product; its product line is created when the code is new."""
    from deals.models import ProductLine

    _require_manager(actor)
    errors = Errors()
    code = check_text(errors, "code", code, 40, required=True)
    name = check_text(errors, "name", name, 120, required=True)
    line_code = check_text(errors, "product_line", product_line, 40, required=True)
    line_name = check_text(errors, "product_line_name", product_line_name, 100)
    if code and Product.objects.filter(code=code).exists():
        errors.add("code", "A product with this code already exists.")
    errors.raise_if_any()
    try:
        with transaction.atomic(durable=True):
            line, _ = ProductLine.objects.get_or_create(
                code=line_code,
                defaults={"name": line_name or line_code.replace("-", " ").title()},
            )
            return Product.objects.create(code=code, name=name, product_line=line)
    except IntegrityError:
        raise ValidationFailed(
            "A product with this code already exists.",
            fields={"code": ["A product with this code already exists."]},
        ) from None


def products_active() -> QuerySet[Product]:
    return Product.objects.filter(active=True).select_related("product_line")
