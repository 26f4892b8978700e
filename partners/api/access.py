"""Tenant-scoped reads for the partner resources: the object, or the same 404 whether it is
foreign or does not exist. Managers see every partner; a partner user sees only their own."""

from __future__ import annotations

from django.db.models import QuerySet

from partners.models import Partner, User
from partners.roles import is_manager, partner_of
from prm.exceptions import NotFound


def _pk(value) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError, OverflowError):
        raise NotFound() from None
    if pk <= 0 or pk > 2**62:
        raise NotFound()
    return pk


def partners_visible_to(user) -> QuerySet[Partner]:
    base = Partner.objects.select_related("tier")
    if is_manager(user):
        return base
    own = partner_of(user)
    if own is None:
        return base.none()
    return base.filter(pk=own.pk)


def _not_found(queryset, pk) -> NotFound:
    try:
        from prm.security_log import log_foreign_not_found
    except ImportError:  # pragma: no cover
        return NotFound()
    log_foreign_not_found(queryset, pk)
    return NotFound()


def access_partner_for_user(user, pk) -> Partner:
    queryset = partners_visible_to(user)
    pk = _pk(pk)
    partner = queryset.filter(pk=pk).first()
    if partner is None:
        raise _not_found(queryset, pk)
    return partner


def partner_users(partner: Partner) -> QuerySet[User]:
    return User.objects.filter(membership__partner=partner).select_related("membership")


def access_partner_user(partner: Partner, pk) -> User:
    queryset = partner_users(partner)
    pk = _pk(pk)
    user = queryset.filter(pk=pk).first()
    if user is None:
        raise _not_found(queryset, pk)
    return user
