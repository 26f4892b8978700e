"""Generated hostile inputs (issue 20, item 3), shared by the portal/route sweeps
(tests/security/test_hostile_inputs.py) and schemathesis (tests/api/test_schemathesis.py):
ids beyond a 64-bit integer, dates at the far ends of the calendar, deeply nested JSON."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from prm.lib.ids import MAX_ID
from prm.parsers import MAX_JSON_DEPTH

huge_ids = st.one_of(
    st.integers(min_value=MAX_ID + 1, max_value=10**30).map(str),
    st.sampled_from(["²", "١٢٣", "１２"]),  # str.isdigit() is True; int() refuses or not ASCII
)
far_dates = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(1899, 12, 31)),
    st.dates(min_value=dt.date(3000, 1, 1), max_value=dt.date(9999, 12, 31)),
).map(dt.date.isoformat)
deep_depths = st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=5_000)

# Query parameters that carry ids or report dates somewhere in the API or the portal.
ID_FILTERS = ("partner", "registration", "user")
DATE_FILTERS = ("from", "to")


def deep_json(depth: int, leaf: str = "1") -> bytes:
    """`depth` nested arrays and objects, built as text (json.dumps would recurse)."""
    opens = ('[{"a":' * (depth // 2)) + ("[" if depth % 2 else "")
    closes = ("]" if depth % 2 else "") + ("}]" * (depth // 2))
    return (opens + leaf + closes).encode()


def nested(depth: int):
    """A Python value nested `depth` deep (for clients that serialise bodies themselves; keep
    the depth in the hundreds so json.dumps does not recurse out)."""
    value: object = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value
