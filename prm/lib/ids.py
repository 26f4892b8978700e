"""Ids as 64-bit integers, checked before they reach the database.

Every primary key is a BigAutoField: 1 .. 2**63 - 1. A larger number given to SQLite raises
OverflowError ("Python int too large to convert to SQLite INTEGER") from the driver, i.e. a
500 (issue 20). So:

- `IdConverter` (registered as the `<id:...>` path converter by prm.apps) matches 1 to 19
  ASCII digits and refuses anything above MAX_ID: such a path does not resolve, which is a 404
  like any other unknown object;
- `parse_id` is the one way to read an id from a query string or a form field: ASCII digits
  only (str.isdigit() also accepts "²" and other Unicode digits that int() refuses), 1..MAX_ID.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))  # 19


def parse_id(raw) -> int | None:
    """The id in `raw` (a str or an int), or None when it is not one (empty, not ASCII digits,
    0, or beyond a 64-bit signed integer)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw if raw is not None else "").strip()
        if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
            return None
        value = int(text)
    return value if 1 <= value <= MAX_ID else None


class IdConverter:
    """`<id:pk>`: a positive 64-bit id; anything else does not match (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValueError(value)  # Django treats a ValueError as "no match"
        return parsed

    def to_url(self, value) -> str:
        return str(int(value))


def query_id(params, name: str) -> int | None:
    """The id filter `name` of a query string (or form): None when absent or empty; a
    ValidationFailed (400, naming the field) when it is not a 64-bit id."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    value = parse_id(raw)
    if value is None:
        from prm.exceptions import ValidationFailed

        raise ValidationFailed(
            "Invalid filter.", fields={name: [f"Send a numeric id (1 to {MAX_ID})."]}
        )
    return value
