"""Money for incentives: Decimal only, rounded to the currency's ISO 4217 minor units.

Half-up rounding (commercial rounding, what a partner checks an incentive statement with);
it is applied once, to the final amount, never to intermediate products.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 currencies whose minor unit is not 2 (the 2-decimal ones are the default).
MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals (unit of account)
    "CLF": 4, "UYW": 4,
}  # fmt: skip
HUNDRED = Decimal(100)


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get((currency or "").upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the minor unit of `currency` (JPY 0, USD 2, BHD 3)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str) -> str | None:
    """The decimal string of the API: as many decimals as the currency has ("1500" JPY)."""
    if amount is None:
        return None
    return f"{round_money(amount, currency):f}"
