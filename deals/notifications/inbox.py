"""The in-app notifications (the bell): what a user sees and marking read."""

from __future__ import annotations

from django.db.models import QuerySet

from deals.models import (
    Notification,
)
from prm.lib.time import timezone_now

# --- Read state ---------------------------------------------------------------------------------


def notifications_mark_read(*, queryset) -> int:
    """Mark the unread in-app notifications of `queryset` (already scoped to the user) read."""
    return queryset.filter(read_at__isnull=True).update(read_at=timezone_now())


def notifications_visible_to(user) -> QuerySet[Notification]:
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(recipient_id=user.pk, channel="in_app")


def unread_notification_count(user) -> int:
    return notifications_visible_to(user).filter(read_at__isnull=True).count()
