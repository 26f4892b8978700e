"""Plain SQL for the hot reads that the ORM made too slow (issue 13). One module, read it whole.

Today it holds one read: the registration detail fetch behind GET /api/v1/registrations/{id}/
(and the answer of every API write, deals.api.views.registration_for_output). Measured on the
bench's data, compiling the narrowed queryset (the partner and submitter joined, the product
codes as an array subquery) was two thirds of the request's time in Django; the same rows
through a fixed SQL text and RawQuerySet (which still converts every model field the
backend's way) cost a fraction of it.

Rules for anything added here:
- The tenant condition is in the SQL text, where a reviewer sees it: the partner variant ends
  in `WHERE r.id = %s AND r.partner_id = %s`; the manager variant (managers see every
  registration) has no partner condition, and there is no third variant. Which one runs is
  decided by selectors.registration_scope, the one definition of who sees what.
- The ISO-07 guard (tests/security/guard.py) does not see raw SQL: tests/api/test_sql.py checks
  every variant against the selector-scoped ORM fetch (same rows, foreign ids not found).
- Only the columns the API representation reads; no other module builds SQL text.
"""

from __future__ import annotations

from django.db import connection

from deals.models import DealRegistration
from partners.models import Partner, User

_COLUMNS = ", ".join(f'r."{f.column}"' for f in DealRegistration._meta.concrete_fields)

# The product codes in the serializer's order (product line name, product name); PostgreSQL
# only (elsewhere deals.api.views reads them in one more query).
_PRODUCT_CODES = """,
    ARRAY(
        SELECT pr.code FROM deals_dealregistration_products rp
        JOIN deals_product pr ON pr.id = rp.product_id
        JOIN deals_productline pl ON pl.id = pr.product_line_id
        WHERE rp.dealregistration_id = r.id
        ORDER BY pl.name, pr.name
    ) AS _product_codes"""

_DETAIL = """
SELECT {columns},
    p.name AS partner_name_, u.email AS submitted_by_email_, d.email AS decided_by_email_,
    o.email AS owner_email_, o.name AS owner_name_{codes}
FROM deals_dealregistration r
JOIN partners_partner p ON p.id = r.partner_id
JOIN partners_user u ON u.id = r.submitted_by_id
JOIN partners_user o ON o.id = r.owner_id
LEFT JOIN partners_user d ON d.id = r.decided_by_id
"""

REGISTRATION_DETAIL_FOR_PARTNER = _DETAIL + "WHERE r.id = %s AND r.partner_id = %s"
# Managers never see a draft (the partner's private work): selectors.registrations_in_scope.
REGISTRATION_DETAIL_FOR_MANAGER = _DETAIL + "WHERE r.id = %s AND r.status <> 'draft'"


def registration_detail(pk: int, *, partner_id: int | None) -> DealRegistration | None:
    """The registration `pk` with its partner (id, name), submitter and decider (id, email),
    owner (id, email, name)
    and, on PostgreSQL, `_product_codes`; None when it does not exist or, with `partner_id`,
    belongs to another partner. partner_id=None is the manager variant: callers pass the
    scope of selectors.registration_scope."""
    sql = REGISTRATION_DETAIL_FOR_MANAGER if partner_id is None else REGISTRATION_DETAIL_FOR_PARTNER
    codes = _PRODUCT_CODES if connection.vendor == "postgresql" else ""
    params = [pk] if partner_id is None else [pk, partner_id]
    rows = list(DealRegistration.objects.raw(sql.format(columns=_COLUMNS, codes=codes), params))
    if not rows:
        return None
    r = rows[0]
    db = r._state.db
    r.partner = Partner.from_db(db, ["id", "name"], [r.partner_id, r.partner_name_])
    r.submitted_by = User.from_db(db, ["id", "email"], [r.submitted_by_id, r.submitted_by_email_])
    r.owner = User.from_db(db, ["id", "email", "name"], [r.owner_id, r.owner_email_, r.owner_name_])
    if r.decided_by_id is not None:
        r.decided_by = User.from_db(db, ["id", "email"], [r.decided_by_id, r.decided_by_email_])
    return r
