"""CSV/formula injection guard for exports (OWASP "CSV Injection", ASVS 1.2.10).

A spreadsheet treats a cell starting with = + - @ (or a tab / carriage return / NUL that hides
one) as a formula. Such cells are prefixed with a single quote so they are shown as text.
Numbers are left alone: -5 and +3.5 are legitimate values, and a formula cannot hide in them.
"""

from __future__ import annotations

from decimal import Decimal

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_safe(value):
    """Return `value` ready for a CSV cell: None -> "", text starting with a formula trigger
    -> "'" + text, anything else unchanged."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text


def csv_safe_row(values) -> list:
    return [csv_safe(v) for v in values]
