"""CSV import of direct opportunities (API `POST /api/v1/opportunities/import/` and the admin).

Same columns and the same all-or-nothing rule as the bulk API: every row is validated by
deals.opportunities.services (one set of rules), and either every row is written or none. The file must be
UTF-8 (a BOM is accepted), without NUL bytes, at most CSV_IMPORT_MAX_BYTES; `products` is a
`;`-separated list of product codes. Errors raise ValidationFailed with `rows` ({row index:
{field: [messages]}}, index 0 = the first data row) and, for file-level problems, `fields`
({"file": [...]}) — both answered as 400 `invalid_rows`.
"""

from __future__ import annotations

import csv
import io

from django.conf import settings

from deals.opportunities.services import OPPORTUNITY_FIELDS, opportunities_bulk_upsert
from prm.exceptions import ValidationFailed

REQUIRED_COLUMNS = ("external_id", "account_name", "country", "amount", "currency")
DEFAULT_MAX_ROWS = 5000


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The file was not imported: {message}", fields={"file": [message]}, rows={}
    )


def _read_limited(uploaded_file, limit: int) -> bytes:
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > limit:
        raise _file_error(f"The file is larger than {limit // (1024 * 1024)} MB.")
    if hasattr(uploaded_file, "seek"):
        try:
            uploaded_file.seek(0)
        except (OSError, ValueError):
            pass
    chunks, total = [], 0
    reader = uploaded_file.chunks() if hasattr(uploaded_file, "chunks") else None
    if reader is None:
        data = uploaded_file.read(limit + 1)
        reader = [data]
    for chunk in reader:
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        total += len(chunk)
        if total > limit:
            raise _file_error(f"The file is larger than {limit // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise _file_error("The file contains NUL bytes; export it again as UTF-8 CSV.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error("The file is not UTF-8; export it again as UTF-8 CSV.") from None


def parse_rows(text: str, *, max_rows: int) -> list[dict]:
    """CSV text -> rows shaped like the bulk API's (products as lists)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise _file_error("The file is empty or has no header row.")
        columns = [cell.strip().lower() for cell in header]
        unknown = [c for c in columns if c not in OPPORTUNITY_FIELDS]
        if unknown:
            raise _file_error(
                f"Unknown column(s): {', '.join(c[:40] for c in unknown[:5])}. "
                f"Use: {', '.join(OPPORTUNITY_FIELDS)}."
            )
        if len(set(columns)) != len(columns):
            raise _file_error("A column appears twice in the header.")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise _file_error(f"Missing column(s): {', '.join(missing)}.")
        rows: list[dict] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(rows) >= max_rows:
                raise _file_error(f"At most {max_rows} rows per file.")
            if len(cells) != len(columns):
                rows.append({"__shape__": len(cells)})
                continue
            row = {}
            for name, cell in zip(columns, cells, strict=True):
                cell = cell.strip()
                if name == "products":
                    row[name] = [code.strip() for code in cell.split(";") if code.strip()]
                elif name == "close_date" and not cell:
                    row[name] = None
                else:
                    row[name] = cell
            rows.append(row)
    except csv.Error as exc:
        raise _file_error(f"The CSV could not be read ({exc}).") from None
    if not rows:
        raise _file_error("The file has no data rows.")
    return rows


def opportunities_import_csv(uploaded_file) -> dict[str, int]:
    """Import a CSV of direct opportunities, all or nothing: {"created": n, "updated": n}."""
    limit = getattr(settings, "CSV_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    max_rows = getattr(settings, "CSV_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)
    rows = parse_rows(_decode(_read_limited(uploaded_file, limit)), max_rows=max_rows)
    shape_errors = {
        str(index): {"non_field_errors": [f"Expected one cell per column, got {row['__shape__']}."]}
        for index, row in enumerate(rows)
        if "__shape__" in row
    }
    if shape_errors:
        raise ValidationFailed("Some rows are not valid; nothing was written.", rows=shape_errors)
    return opportunities_bulk_upsert(rows=rows, max_rows=max_rows)
