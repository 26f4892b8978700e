"""Reads that need care: the policy in force, tenant-scoped querysets, queues and timelines.

Every partner-facing queryset starts here (`*_visible_to(user)`); views never filter by
partner themselves.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from conflicts.models import Conflict
from deals.models import (
    ActivityEntry,
    Comment,
    DealRegistration,
    ExtensionRequest,
    Product,
    RegistrationEvent,
)
from partners.roles import is_manager, partner_of

# --- Registrations ------------------------------------------------------------------------------


def _registration_base() -> QuerySet[DealRegistration]:
    return DealRegistration.objects.select_related(
        "partner", "partner__tier", "submitted_by"
    ).prefetch_related(
        Prefetch("products", queryset=Product.objects.select_related("product_line"))
    )


def registration_scope(user) -> tuple[str, dict]:
    """What `user` may see, as (kind, values): ("all", {}) for managers, ("partner",
    {"partner_id": …}) for a partner user, ("none", {}) for anyone else. The one definition
    behind registrations_visible_to and the plain-SQL detail read (deals.access, deals.sql)."""
    if is_manager(user):
        return "all", {}
    partner = partner_of(user)
    if partner is None:
        return "none", {}
    return "partner", {"partner_id": partner.pk}


def registrations_in_scope(kind: str, partner_id: int | None = None) -> QuerySet[DealRegistration]:
    if kind == "all":
        return _registration_base()
    if kind == "partner":
        return _registration_base().filter(partner_id=partner_id)
    return DealRegistration.objects.none()


def registrations_visible_to(user) -> QuerySet[DealRegistration]:
    """Managers see every registration; a partner user only their own company's; others none."""
    kind, values = registration_scope(user)
    return registrations_in_scope(kind, **values)


def registrations_filter(
    queryset: QuerySet[DealRegistration], *, params, user
) -> QuerySet[DealRegistration]:
    """Apply the list filters of API.md (also used by the portal lists)."""
    status = params.get("status")
    if status:
        queryset = queryset.filter(status__in=status.split(","))
    conflict_status = params.get("conflict_status")
    if conflict_status:
        queryset = queryset.filter(conflict_status__in=conflict_status.split(","))
    search = (params.get("search") or "").strip()
    if search:
        queryset = queryset.filter(
            Q(customer_name__icontains=search) | Q(reference__icontains=search)
        )
    if is_manager(user):
        partner = params.get("partner")
        if partner and str(partner).isdigit():
            queryset = queryset.filter(partner_id=int(partner))
        overdue = params.get("overdue")
        if overdue in ("true", "1", "True"):
            queryset = queryset.filter(
                status__in=["submitted", "info_requested"], sla_due_at__lt=timezone.now()
            )
        elif overdue in ("false", "0", "False"):
            queryset = queryset.exclude(
                status__in=["submitted", "info_requested"], sla_due_at__lt=timezone.now()
            )
    return queryset


def review_queue(
    *, partner_id=None, tier=None, conflict_status=None, product_line=None
) -> QuerySet[DealRegistration]:
    """Registrations awaiting a decision, the most urgent SLA first."""
    queryset = _registration_base().filter(status__in=["submitted", "info_requested"])
    if partner_id:
        queryset = queryset.filter(partner_id=partner_id)
    if tier:
        queryset = queryset.filter(partner__tier__code=tier)
    if conflict_status:
        queryset = queryset.filter(conflict_status=conflict_status)
    if product_line:
        queryset = queryset.filter(products__product_line__code=product_line).distinct()
    return queryset.order_by("sla_due_at", "submitted_at", "id")


def registration_timeline(registration: DealRegistration, *, user) -> QuerySet[RegistrationEvent]:
    events = RegistrationEvent.objects.filter(registration=registration).select_related("actor")
    if not is_manager(user):
        events = events.visible_to_partner()
    return events.order_by("seq")


def comments_visible_to(user, registration: DealRegistration) -> QuerySet[Comment]:
    comments = Comment.objects.filter(registration=registration).select_related("author")
    if not is_manager(user):
        comments = comments.filter(internal=False)
    return comments


def activities_for(registration: DealRegistration) -> QuerySet[ActivityEntry]:
    return ActivityEntry.objects.filter(registration=registration).select_related("author")


def extension_requests_visible_to(user) -> QuerySet[ExtensionRequest]:
    base = ExtensionRequest.objects.select_related("registration", "requested_by", "decided_by")
    if is_manager(user):
        return base
    partner = partner_of(user)
    if partner is None:
        return base.none()
    return base.filter(registration__partner_id=partner.pk)


def conflicts_for_registration(registration_id: int) -> QuerySet[Conflict]:
    return Conflict.objects.filter(registration_id=registration_id).order_by("-score", "id")


def conflicts_visible_to(user) -> QuerySet[Conflict]:
    if not is_manager(user):
        return Conflict.objects.none()
    return Conflict.objects.all()
