"""Permission-checked fetches: the object, or 404 for anything outside the caller's tenant.

A foreign object and a non-existent id raise the same NotFound, so existence never leaks.
"""

from __future__ import annotations

from conflicts.models import Conflict
from deals import selectors
from deals.models import (
    Comment,
    DealRegistration,
    DirectOpportunity,
    ExtensionRequest,
    Notification,
)
from prm.exceptions import NotFound
from prm.security_log import log_foreign_not_found


def _get(queryset, pk):
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    if pk <= 0 or pk > 2**62:
        raise NotFound()
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


def access_extension_request_for_user(user, pk) -> ExtensionRequest:
    return _get(selectors.extension_requests_visible_to(user), pk)


def access_conflict_for_user(user, pk) -> Conflict:
    return _get(selectors.conflicts_visible_to(user), pk)


def access_opportunity_for_user(user, pk) -> DirectOpportunity:
    return _get(selectors.opportunities_visible_to(user), pk)


def access_notification_for_user(user, pk) -> Notification:
    return _get(selectors.notifications_visible_to(user), pk)


def access_comment_for_user(user, pk) -> Comment:
    registrations = selectors.registrations_visible_to(user)
    comments = Comment.objects.filter(registration__in=registrations.values("pk"))
    return _get(comments, pk)
