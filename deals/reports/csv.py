"""The registrations CSV export (same filters as the summary), streamed in chunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import (
    Aggregate,
    CharField,
    OuterRef,
    Subquery,
)

from deals import customfields
from deals.reports.filters import UTC, ProductsThrough, ReportFilters, registrations_for_report
from deals.reports.summary import _money
from partners.roles import is_manager, partner_of

# --- CSV export -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("reference", "reference"),
    ("partner", "partner__name"),
    ("tier", "partner__tier__code"),
    ("status", "status"),
    ("conflict_status", "conflict_status"),
    ("customer_name", "customer_name"),
    ("customer_domain", "customer_domain"),
    ("customer_country", "customer_country"),
    ("contact_name", "contact_name"),
    ("contact_email", "contact_email"),
    ("products", "_products"),
    ("estimated_value", "estimated_value"),
    ("currency", "currency"),
    ("stage", "stage"),
    ("expected_close_date", "expected_close_date"),
    ("first_submitted_at", "first_submitted_at"),
    ("submitted_at", "submitted_at"),
    ("sla_due_at", "sla_due_at"),
    ("decided_at", "decided_at"),
    ("approved_at", "approved_at"),
    ("expires_at", "expires_at"),
    ("extensions_used", "extensions_used"),
    ("rejection_reason", "rejection_reason"),
    ("decision_note", "decision_note"),
    ("co_sell", "co_sell"),
    ("outcome", "outcome"),
    ("actual_value", "actual_value"),
    ("close_date", "close_date"),
    ("lost_reason", "lost_reason"),
    ("created_at", "created_at"),
    # The partner-side owner (issue 17 §3): who at the partner answers for the deal.
    ("owner_email", "owner__email"),
)


class _ProductCodes(Aggregate):
    """Space-separated product codes of one registration (STRING_AGG / GROUP_CONCAT)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ' ' ORDER BY %(expressions)s)"
    output_field = CharField()

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, function="GROUP_CONCAT", template="%(function)s(%(expressions)s, ' ')"
        )


def csv_custom_fields(user) -> list[customfields.FieldDef]:
    """The custom fields the export has a column for (after CSV_COLUMNS, `custom.<key>`):
    managers every field ever defined, partners those of their tier."""
    manager = is_manager(user)
    partner = None if manager else partner_of(user)
    return customfields.filterable_fields(
        manager=manager, tier_id=partner.tier_id if partner is not None else None
    )


def custom_cells(custom, fields: list[customfields.FieldDef]) -> list:
    """The custom columns of one row: a multi-choice value as "a; b", the others as stored."""
    values = custom if isinstance(custom, dict) else {}
    cells = []
    for field in fields:
        value = values.get(field.key)
        cells.append("; ".join(str(v) for v in value) if isinstance(value, list) else value)
    return cells


def report_csv_rows(user, filters: ReportFilters, *, chunk_size: int = 2000) -> Iterator[tuple]:
    """Rows of the CSV export, streamed from a server-side cursor (constant memory): the
    CSV_COLUMNS values, then the registration's `custom` dict (custom_cells makes the columns).

    Only partner-visible registration fields: no comments, no internal notes, nothing about
    the other party of a conflict. Tenant scope comes from registrations_for_report."""
    products = (
        ProductsThrough.objects.filter(dealregistration_id=OuterRef("pk"))
        .values("dealregistration_id")
        .annotate(codes=_ProductCodes("product__code"))
        .values("codes")
    )
    queryset = (
        registrations_for_report(user, filters)
        .annotate(_products=Subquery(products, output_field=CharField()))
        .order_by("first_submitted_at", "pk")
        .values_list(*(source for _, source in CSV_COLUMNS), "custom")
    )
    return queryset.iterator(chunk_size=chunk_size)


def csv_header(custom_fields=()) -> list[str]:
    return [name for name, _ in CSV_COLUMNS] + [f.name for f in custom_fields]


def csv_format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return _money(value)
    return str(value)


# --- The portal's spreadsheet export ------------------------------------------------------------
# The API's CSV (GET /api/v1/reports/registrations.csv) keeps its codes and ISO timestamps for
# scripts. The pages' "Download" link gets this one for people: column titles and labels
# instead of internal codes, plain dates and times (UTC, to the minute), country names, and a
# UTF-8 byte-order mark so spreadsheet programs read accented partner names correctly.

UTF8_BOM = "\ufeff"


def _labels(choices) -> dict:
    return dict(choices.choices)


def spreadsheet_labels() -> dict[str, dict]:
    from deals.models import ConflictStatus, Outcome, RegistrationStatus, RejectionReason, Stage

    return {
        "status": _labels(RegistrationStatus),
        "conflict_status": _labels(ConflictStatus),
        "stage": _labels(Stage),
        "rejection_reason": _labels(RejectionReason),
        "outcome": _labels(Outcome),
    }


def spreadsheet_header(custom_fields=()) -> list[str]:
    titles = {"co_sell": "Co-sell", "sla_due_at": "Review due", "owner_email": "Owner"}
    return [titles.get(name, name.replace("_", " ").capitalize()) for name, _ in CSV_COLUMNS] + [
        f.label for f in custom_fields
    ]


def spreadsheet_cell(name: str, value, labels: dict[str, dict]) -> str:
    if value is None or value == "":
        return ""
    if name in labels:
        return str(labels[name].get(value, value))
    if name == "customer_country":
        import pycountry

        country = pycountry.countries.get(alpha_2=value)
        return getattr(country, "common_name", country.name) if country else str(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return csv_format(value)
