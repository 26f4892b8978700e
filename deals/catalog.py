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
from prm.lib import hotcache
from prm.lib.validation import (
    Errors,
    check_text,
)


def _clean_products(
    errors: Errors, value, catalogue: dict[str, Product] | None = None
) -> list[Product]:
    """`catalogue`: active_catalogue() read once by a caller that cleans many rows."""
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
    products = _active_products(codes, catalogue)
    missing = sorted(set(codes) - {p.code for p in products})
    if missing:
        errors.add("products", f"Unknown product: {', '.join(missing[:5])}.")
    return products


ACTIVE_PRODUCTS_KEY = "prm:active-products"


def active_catalogue() -> dict[str, Product]:
    """The active products by code (their lines joined), from the cache (prm.lib.hotcache;
    forgotten by catalog_changed)."""
    return hotcache.read(
        ACTIVE_PRODUCTS_KEY,
        lambda: {
            p.code: p for p in Product.objects.filter(active=True).select_related("product_line")
        },
    )


def _active_products(
    codes: list[str], catalogue: dict[str, Product] | None = None
) -> list[Product]:
    """Active products with these codes, from `catalogue` or the cached catalogue."""
    if catalogue is None:
        catalogue = active_catalogue()
    products = [catalogue[code] for code in set(codes) if code in catalogue]
    return sorted(products, key=lambda p: (p.product_line.name, p.name))  # Product's ordering


def catalog_changed() -> None:
    """Called wherever products or product lines are written (product_create, and through
    model signals the admin: deals.apps)."""
    hotcache.forget([ACTIVE_PRODUCTS_KEY])


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
            product = Product.objects.create(code=code, name=name, product_line=line)
            catalog_changed()
            return product
    except IntegrityError:
        raise ValidationFailed(
            "A product with this code already exists.",
            fields={"code": ["A product with this code already exists."]},
        ) from None


def products_active() -> QuerySet[Product]:
    return Product.objects.filter(active=True).select_related("product_line")
