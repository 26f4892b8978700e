"""One reporting currency (issue 18 §5): dashboard totals converted at the rate of each deal's
month, with the rates used and the amounts that have no rate (shown as missing, never as 0).

Which month: the pipeline by the month a registration was first submitted, won and co-sell
won value by the month of the close date. Every amount is summed per (currency, month) in the
database first, so the conversion multiplies a few dozen sums, never a row per registration.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth

from deals.models import ExchangeRate, ReportingCurrency
from deals.reports.filters import ReportFilters, registrations_for_report
from deals.reports.summary import PIPELINE_STATUSES
from prm.exceptions import ValidationFailed
from prm.lib.validation import CURRENCY_CODES

UTC = dt.UTC
FIGURES = (
    ("pipeline", "Open pipeline", "first submitted"),
    ("won", "Won value", "closed"),
    ("co_sell_won", "Co-sell won value", "closed"),
)


def reporting_currency() -> str | None:
    """The reporting currency in force (the latest choice), or None when none was chosen."""
    return (
        ReportingCurrency.objects.order_by("-changed_at", "-id")
        .values_list("code", flat=True)
        .first()
    )


def _sums(registrations: QuerySet) -> dict[str, list[tuple[str, dt.date | None, Decimal]]]:
    """{figure: [(currency, month, amount)]} summed in the database."""
    pipeline = (
        registrations.filter(status__in=PIPELINE_STATUSES)
        .annotate(month=TruncMonth("first_submitted_at", tzinfo=UTC))
        .values("currency", "month")
        .annotate(total=Sum("estimated_value"))
        .order_by()
    )
    won = (
        registrations.filter(status="won")
        .annotate(month=TruncMonth("close_date"))
        .values("currency", "month", "co_sell")
        .annotate(total=Sum("actual_value"))
        .order_by()
    )

    def month_of(value) -> dt.date | None:
        if value is None:
            return None
        return value.date() if isinstance(value, dt.datetime) else value

    out: dict[str, list] = {"pipeline": [], "won": [], "co_sell_won": []}
    for row in pipeline:
        out["pipeline"].append((row["currency"], month_of(row["month"]), row["total"] or 0))
    for row in won:
        item = (row["currency"], month_of(row["month"]), row["total"] or Decimal(0))
        out["won"].append(item)
        if row["co_sell"]:
            out["co_sell_won"].append(item)
    return out


def converted_totals(user, filters: ReportFilters) -> dict | None:
    """The dashboard's money figures in the reporting currency, or None without one:
    {"currency", "figures": [{"key", "label", "total", "complete", "missing": [{"currency",
    "month", "amount"}], "by_currency": {cur: amount}}], "rates": [{"currency", "month",
    "rate"}]}. `total` adds only the converted amounts; `complete` says whether every amount
    had a rate."""
    target = reporting_currency()
    if target is None:
        return None
    sums = _sums(registrations_for_report(user, filters))
    needed = {
        (currency, month)
        for rows in sums.values()
        for currency, month, _ in rows
        if currency != target and month is not None
    }
    rates: dict[tuple[str, dt.date], Decimal] = {}
    if needed:
        months = {month for _, month in needed}
        currencies = {currency for currency, _ in needed}
        for currency, month, rate in ExchangeRate.objects.filter(
            reporting_currency=target, currency__in=currencies, month__in=months
        ).values_list("currency", "month", "rate"):
            rates[(currency, month)] = rate
    figures = []
    for key, label, _ in FIGURES:
        total, missing, by_currency = Decimal(0), [], {}
        for currency, month, amount in sums[key]:
            amount = Decimal(amount)
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + amount
            if currency == target:
                total += amount
            elif month is not None and (currency, month) in rates:
                total += amount * rates[(currency, month)]
            else:
                missing.append({"currency": currency, "month": month, "amount": amount})
        missing.sort(key=lambda m: (m["currency"], m["month"] or dt.date.min))
        figures.append(
            {
                "key": key,
                "label": label,
                "total": total.quantize(Decimal("0.01")),
                "complete": not missing,
                "missing": missing,
                "by_currency": dict(sorted(by_currency.items())),
            }
        )
    used = sorted(
        ({"currency": c, "month": m, "rate": r} for (c, m), r in rates.items()),
        key=lambda u: (u["currency"], u["month"]),
    )
    return {"currency": target, "figures": figures, "rates": used}


# --- Rates from a CSV file ------------------------------------------------------------------------


def exchange_rates_import(*, text: str, reporting: str) -> int:
    """Import "currency,month,rate" rows (month as YYYY-MM; a header row is allowed) for the
    reporting currency `reporting`: all or nothing. An existing (currency, month) rate is
    replaced. Returns the number of rows stored; any bad row → ValidationFailed naming its line."""
    reporting = (reporting or "").strip().upper()
    if reporting not in CURRENCY_CODES:
        raise ValidationFailed(
            "Choose the reporting currency first.", fields={"reporting_currency": ["Unknown."]}
        )
    errors: list[str] = []
    rows: dict[tuple[str, dt.date], Decimal] = {}
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(reader, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells and cells[0].lower() == "currency":
            continue
        if len(cells) != 3:
            errors.append(f"Line {number}: expected currency,month,rate.")
            continue
        currency, month_text, rate_text = cells[0].upper(), cells[1], cells[2]
        if currency not in CURRENCY_CODES or currency == reporting:
            errors.append(f"Line {number}: “{currency[:10]}” is not a currency to convert.")
            continue
        try:
            if len(month_text) != 7:
                raise ValueError(month_text)
            month = dt.date.fromisoformat(f"{month_text}-01")
        except ValueError:
            errors.append(f"Line {number}: the month is YYYY-MM.")
            continue
        try:
            rate = Decimal(rate_text)
            if not rate.is_finite() or rate <= 0 or rate >= Decimal("1e9"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.append(f"Line {number}: the rate is a positive number, e.g. 1.0843.")
            continue
        rows[(currency, month)] = rate.quantize(Decimal("1e-10"))
        if len(errors) > 20:
            break
    if errors:
        raise ValidationFailed("The file was not imported.", fields={"file": errors[:20]})
    if not rows:
        raise ValidationFailed("The file was not imported.", fields={"file": ["No rates in it."]})
    with transaction.atomic():
        for (currency, month), rate in rows.items():
            ExchangeRate.objects.update_or_create(
                reporting_currency=reporting, currency=currency, month=month,
                defaults={"rate": rate},
            )  # fmt: skip
    return len(rows)
