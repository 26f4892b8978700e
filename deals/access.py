"""Permission-checked fetches: the object, or 404 for anything outside the caller's tenant.

A foreign object and a non-existent id raise the same NotFound, so existence never leaks.
"""

from __future__ import annotations

from conflicts.models import Conflict
from deals import sql
from deals.models import (
    Attachment,
    Comment,
    DealRegistration,
    DirectOpportunity,
    ExtensionRequest,
    Notification,
)
from deals.notifications.inbox import notifications_visible_to
from deals.opportunities.selectors import opportunities_visible_to
from deals.registrations import selectors
from prm.exceptions import NotFound
from prm.lib.ids import parse_id
from prm.security_log import log_foreign_not_found


def _valid_pk(pk) -> int:
    valid = parse_id(pk)
    if valid is None:
        raise NotFound()
    return valid


def _get(queryset, pk):
    pk = _valid_pk(pk)
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        log_foreign_not_found(queryset, pk)  # a cross-tenant probe is a security event
        raise NotFound()
    return obj


def access_registration_for_user(user, pk, *, shape=None) -> DealRegistration:
    """`shape` may narrow the visible queryset to what a caller reads (joins, annotations);
    it must not widen it: it receives the tenant-scoped queryset."""
    queryset = selectors.registrations_visible_to(user)
    return _get(shape(queryset) if shape else queryset, pk)


def access_registration_detail_for_user(user, pk) -> DealRegistration:
    """access_registration_for_user for the API representation (same scope, same 404 and
    security-log record), read with the plain SQL of deals.sql: the hot detail path."""
    kind, values = selectors.registration_scope(user)
    if kind not in ("all", "partner"):
        # A sales rep's scope is a subquery over their conflicts, which the plain-SQL read
        # does not carry (deals.sql has two variants only): the ORM reads it.
        queryset = selectors.registrations_in_scope(kind, **values)
        return _get(
            queryset.select_related(None).select_related("partner", "submitted_by", "owner"), pk
        )
    pk = _valid_pk(pk)
    obj = sql.registration_detail(pk, partner_id=values.get("partner_id"))
    if obj is None:
        log_foreign_not_found(DealRegistration.objects.all(), pk)
        raise NotFound()
    return obj


def access_extension_request_for_user(user, pk) -> ExtensionRequest:
    return _get(selectors.extension_requests_visible_to(user), pk)


def access_conflict_for_user(user, pk) -> Conflict:
    return _get(selectors.conflicts_visible_to(user), pk)


def access_opportunity_for_user(user, pk) -> DirectOpportunity:
    return _get(opportunities_visible_to(user), pk)


def access_notification_for_user(user, pk) -> Notification:
    return _get(notifications_visible_to(user), pk)


def access_comment_for_user(user, pk) -> Comment:
    registrations = selectors.registrations_visible_to(user)
    comments = Comment.objects.filter(registration__in=registrations.values("pk"))
    return _get(comments, pk)


def access_attachment_for_user(user, pk) -> Attachment:
    """A live attachment of a registration `user` may see (the same 404 otherwise)."""
    return _get(selectors.attachments_visible_to(user).select_related("registration"), pk)
