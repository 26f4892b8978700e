"""Keeping a registration's entry in the conflict engine's identity index in step with its status."""

from __future__ import annotations

from conflicts.index import index_deactivate, index_upsert
from conflicts.models import RecordKind
from deals import lifecycle
from deals.identity import _product_lines, registration_identity
from deals.models import (
    DealRegistration,
)
from prm.lib.time import timezone_now


def _index_registration(
    registration: DealRegistration, *, active: bool, product_lines: list[str] | None = None
) -> None:
    """`product_lines`: the registration's, when the caller has just read its products."""
    if not active:
        index_deactivate(kind=RecordKind.REGISTRATION, record_id=registration.pk)
        return
    index_upsert(
        kind=RecordKind.REGISTRATION,
        record_id=registration.pk,
        partner_id=registration.partner_id,
        label=f"{registration.reference} · {registration.customer_name}",
        identity=registration_identity(registration),
        name_raw=registration.customer_name,
        product_lines=product_lines
        if product_lines is not None
        else _product_lines(registration.products.select_related("product_line")),
        active=True,
        since=registration.first_submitted_at or registration.submitted_at or timezone_now(),
        active_until=registration.expires_at if registration.status == lifecycle.APPROVED else None,
    )
