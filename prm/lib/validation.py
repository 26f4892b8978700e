"""Field rules for registrations and opportunities, shared by the API, the pages and the admin
(through the services). Each failure names its field with a sentence a partner understands,
in the active language (gettext at the time of the check)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from prm.exceptions import ValidationFailed
from prm.lib.domains import registrable_domain
from prm.lib.time import timezone_now

COUNTRY_CODES = frozenset(c.alpha_2 for c in pycountry.countries)
CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies)
MAX_VALUE = Decimal("999999999999.99")


# Multi-line fields (text areas) may keep tab, line feed and carriage return; every other
# field refuses them like any other control character.
MULTILINE_FIELDS = frozenset(
    {
        "customer_address",
        "description",
        "competitors",
        "lost_reason",
        "summary",
        "note",
        "message",
        "reason",
        "body",
    }
)
# C0 controls, DEL, and the invisible marks that reorder or hide what a reader sees
# (bidirectional embeddings/overrides U+202A-E, isolates U+2066-9, LRM/RLM, ALM): a customer
# name must not reorder what a manager reads.
_DIRECTION_MARKS = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_FORBIDDEN_SINGLE_LINE = re.compile("[\x00-\x1f\x7f" + _DIRECTION_MARKS + "]")
_FORBIDDEN_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f" + _DIRECTION_MARKS + "]")


class Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self:
            raise ValidationFailed(_("Some fields are not valid."), fields=dict(self))


def check_text(
    errors: Errors,
    field: str,
    value,
    limit: int,
    *,
    required: bool = False,
    multiline: bool | None = None,
) -> str:
    """Text of at most `limit` characters, stripped. Refused: non-text, NUL, lone surrogates,
    control characters (tab, line feed and carriage return only in multi-line fields: by
    default those named in MULTILINE_FIELDS) and bidirectional/invisible direction marks."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, _("Must be text."))
        return ""
    if "\x00" in value:
        errors.add(field, _("Must not contain NUL characters."))
        return ""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        errors.add(field, _("Must be valid Unicode text."))
        return ""
    if multiline is None:
        multiline = field in MULTILINE_FIELDS
    forbidden = _FORBIDDEN_MULTILINE if multiline else _FORBIDDEN_SINGLE_LINE
    if forbidden.search(value):
        errors.add(
            field,
            _(
                "Must not contain control characters or text-direction marks (line breaks "
                "and tabs are allowed)."
            )
            if multiline
            else _(
                "Must not contain control characters or text-direction marks (one line of text)."
            ),
        )
        return ""
    value = value.strip()
    if required and not value:
        errors.add(field, _("This field is required."))
    if len(value) > limit:
        errors.add(
            field,
            ngettext(
                "Ensure this field has no more than %(limit)d character.",
                "Ensure this field has no more than %(limit)d characters.",
                limit,
            )
            % {"limit": limit},
        )
    return value


def check_country(errors: Errors, field: str, value) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in COUNTRY_CODES:
        errors.add(field, _("Enter an ISO 3166-1 alpha-2 country code, e.g. US or DE."))
        return ""
    return code


def check_currency(errors: Errors, field: str, value) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in CURRENCY_CODES:
        errors.add(field, _("Enter an ISO 4217 currency code, e.g. USD or EUR."))
        return ""
    return code


def check_money(errors: Errors, field: str, value, *, required: bool = True) -> Decimal | None:
    if value in (None, ""):
        if required:
            errors.add(field, _("This field is required."))
        return None
    if isinstance(value, float | bool):
        value = str(value) if not isinstance(value, bool) else "x"
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(field, _("Enter an amount such as 125000.00."))
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        errors.add(field, _("Enter an amount between 0 and 999999999999.99."))
        return None
    if amount.as_tuple().exponent < -2:
        errors.add(field, _("Use at most 2 decimal places."))
        return None
    return amount.quantize(Decimal("0.01"))


def check_date(errors: Errors, field: str, value, *, required: bool = True) -> dt.date | None:
    if value in (None, ""):
        if required:
            errors.add(field, _("This field is required."))
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.add(field, _("Enter a date as YYYY-MM-DD."))
        return None


def check_email(errors: Errors, field: str, value, *, required: bool = False) -> str:
    value = check_text(errors, field, value, 254, required=required)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            errors.add(field, _("Enter a valid e-mail address."))
            return ""
    return value.lower()


def check_domain(errors: Errors, field: str, value) -> str:
    value = check_text(errors, field, value, 253)
    if value and not registrable_domain(value):
        errors.add(field, _("Enter a website domain such as example.com."))
        return ""
    return value


def today() -> dt.date:
    return timezone_now().date()
