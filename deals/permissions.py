"""Who may act: the actor checks every deals service starts with."""

from __future__ import annotations

from partners.models import Partner
from partners.roles import is_manager, partner_of
from prm.exceptions import (
    PermissionDeniedError,
)


def _require_partner_user(actor, partner: Partner | None = None) -> Partner:
    own = partner_of(actor)
    if own is None or (partner is not None and own.pk != partner.pk):
        raise PermissionDeniedError("Only users of the partner company can do this.")
    if own.status != Partner.Status.ACTIVE:
        raise PermissionDeniedError("Your partner company is suspended.")
    return own


def _require_manager(actor) -> None:
    if not is_manager(actor):
        raise PermissionDeniedError("Only channel managers can do this.")
