"""prm.lib.csvsafe: formula injection guard for CSV exports (FUZZ-04, ASVS 1.2.10)."""

from decimal import Decimal

import pytest

from prm.lib.csvsafe import csv_safe, csv_safe_row


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("\0x", "'\0x"),
        ("Globex", "Globex"),
        ("", ""),
        (None, ""),
        (-5, -5),
        (Decimal("-1.50"), Decimal("-1.50")),
        (True, True),
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_csv_safe_row():
    assert csv_safe_row(["=1", "ok", None]) == ["'=1", "ok", ""]
