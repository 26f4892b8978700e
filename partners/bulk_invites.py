"""Bulk invitations from a CSV file (columns `email`, `name`, `role`), all or nothing.

Every row goes through partners.services.partner_user_create, the one rule for a new partner
user (valid address, the partner's domains or a manager's exception, never a vendor address,
member or admin), inside one transaction: if any row is refused, the transaction is rolled back
(nothing written, no e-mail sent: on-commit callbacks of a rolled-back transaction never run)
and the answer lists every refused row. An address that already has an account elsewhere gets
the same neutral answer as a fresh invitation (partners.dispatch.invitation_withheld)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db import transaction

from partners.models import Membership, Partner, User
from partners.services import _require_partner_admin_or_manager, partner_user_create
from prm.exceptions import ValidationFailed

MAX_ROWS = 500
MAX_BYTES = 512 * 1024
COLUMNS = ("email", "name", "role")
_HEADER_ALIASES = {"e-mail": "email", "email address": "email", "e-mail address": "email"}


class _Rollback(Exception):
    pass


@dataclass(frozen=True)
class BulkInviteResult:
    invited: int


def _read_rows(data: bytes | str) -> list[dict[str, str]]:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ValidationFailed(
                f"The file is too large (at most {MAX_BYTES // 1024} KB).",
                fields={"file": ["The file is too large."]},
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(
                "The file is not UTF-8 text.", fields={"file": ["Save the file as UTF-8 CSV."]}
            ) from None
    else:
        text = data
    if "\x00" in text:
        raise ValidationFailed("The file is not CSV text.", fields={"file": ["Not a CSV file."]})
    reader = csv.reader(io.StringIO(text))
    try:
        lines = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error:
        raise ValidationFailed(
            "The file is not valid CSV.", fields={"file": ["Not a CSV file."]}
        ) from None
    if not lines:
        raise ValidationFailed("The file is empty.", fields={"file": ["The file is empty."]})
    header = [_HEADER_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in lines[0]]
    if "email" not in header:
        raise ValidationFailed(
            "The first line must name the columns: email, name, role.",
            fields={"file": ["The first line must name the columns: email, name, role."]},
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise ValidationFailed(
            f"Unknown column(s): {', '.join(unknown)[:200]}. Use email, name, role.",
            fields={"file": ["Use the columns email, name, role."]},
        )
    rows = [
        {name: (line[i].strip() if i < len(line) else "") for i, name in enumerate(header) if name}
        for line in lines[1:]
    ]
    if not rows:
        raise ValidationFailed("The file has no rows.", fields={"file": ["The file has no rows."]})
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(
            f"At most {MAX_ROWS} rows per file.", fields={"file": [f"At most {MAX_ROWS} rows."]}
        )
    return rows


def partner_users_invite_csv(
    *, actor: User, partner: Partner, data: bytes | str
) -> BulkInviteResult:
    """Invite every row of the CSV `data` to `partner`, or nobody (ValidationFailed with `rows`:
    {"<index>": {"<field>": [...]}}, index 0 being the first row after the header)."""
    _require_partner_admin_or_manager(actor, partner)
    rows = _read_rows(data)
    row_errors: dict[str, dict[str, list[str]]] = {}
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        email = row.get("email", "").lower()
        role = (row.get("role") or Membership.Role.MEMBER).lower()
        row["role"] = "admin" if role in ("admin", "partner admin") else role
        if email and email in seen:
            row_errors[str(index)] = {
                "email": [f"The same address is on row {seen[email] + 1} already."]
            }
        elif email:
            seen[email] = index
    invited = 0
    try:
        with transaction.atomic():
            for index, row in enumerate(rows):
                if str(index) in row_errors:
                    continue
                try:
                    with transaction.atomic():
                        partner_user_create(
                            actor=actor,
                            partner=partner,
                            email=row.get("email", ""),
                            name=row.get("name", ""),
                            role=row["role"],
                        )
                except ValidationFailed as exc:
                    row_errors[str(index)] = {
                        str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                        for k, v in (exc.fields or {"email": [exc.detail]}).items()
                    }
                    continue
                invited += 1
            if row_errors:
                raise _Rollback
    except _Rollback:
        raise ValidationFailed(
            f"{len(row_errors)} of {len(rows)} rows are not valid; nobody was invited.",
            rows=dict(sorted(row_errors.items(), key=lambda item: int(item[0]))),
        ) from None
    return BulkInviteResult(invited=invited)
