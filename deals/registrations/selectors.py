"""Reads that need care: the policy in force, tenant-scoped querysets, queues and timelines.

Every partner-facing queryset starts here (`*_visible_to(user)`); views never filter by
partner themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from conflicts.models import Conflict, RecordKind, touching, touching_any
from deals import customfields
from deals.models import (
    ActivityEntry,
    ApprovalTeam,
    Attachment,
    Comment,
    DealRegistration,
    Delegation,
    DirectOpportunity,
    ExtensionRequest,
    Product,
    RegistrationEvent,
    RegistrationQuerySet,
    RegistrationStatus,
)
from partners.roles import is_manager, is_sales_rep, partner_of
from prm.lib.ids import query_id
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now

# --- Registrations ------------------------------------------------------------------------------


def _registration_base() -> RegistrationQuerySet:
    return DealRegistration.objects.select_related(
        "partner", "partner__tier", "submitted_by", "owner"
    ).prefetch_related(
        Prefetch("products", queryset=Product.objects.select_related("product_line"))
    )


def registration_scope(user) -> tuple[str, dict]:
    """What `user` may see, as (kind, values): ("all", {}) for managers, ("partner",
    {"partner_id": …}) for a partner user, ("rep", {"rep_email": …}) for a sales rep (the
    registrations in conflict with a direct opportunity they own), ("none", {}) for anyone
    else. The one definition behind registrations_visible_to and the plain-SQL detail read
    (deals.access, deals.sql)."""
    if is_manager(user):
        return "all", {}
    if is_sales_rep(user):
        return "rep", {"rep_email": user.email}
    partner = partner_of(user)
    if partner is None:
        return "none", {}
    return "partner", {"partner_id": partner.pk}


def registrations_in_scope(
    kind: str, partner_id: int | None = None, rep_email: str | None = None
) -> RegistrationQuerySet:
    if kind == "all":
        # A draft is the partner's private work: managers see a registration once submitted.
        return _registration_base().exclude(status=RegistrationStatus.DRAFT)
    if kind == "partner":
        return _registration_base().filter(partner_id=partner_id)
    if kind == "rep" and rep_email:
        return _registration_base().filter(
            pk__in=conflicts_of_rep(rep_email).values("registration_id")
        )
    return DealRegistration.objects.none()


# --- Sales reps ---------------------------------------------------------------------------------


def opportunities_owned_by(rep_email: str) -> QuerySet[DirectOpportunity]:
    """The direct opportunities a rep owns: `owner_email` equals theirs, case-insensitively."""
    if not rep_email:
        return DirectOpportunity.objects.none()
    return DirectOpportunity.objects.filter(owner_email__iexact=rep_email)


def conflicts_of_rep(rep_email: str) -> QuerySet[Conflict]:
    """Conflicts against a direct opportunity the rep owns, in every status: the one
    definition of what a sales rep sees (their conflicts, and through them the registrations
    involved), for the API and the rep workspace alike."""
    return Conflict.objects.filter(
        kind=RecordKind.DIRECT_OPPORTUNITY,
        other_id__in=opportunities_owned_by(rep_email).values("pk"),
    )


def registrations_visible_to(user) -> RegistrationQuerySet:
    """Managers see every registration but drafts; a partner user only their own company's
    (drafts included); a sales rep
    those in conflict with an opportunity they own (conflicts_of_rep); others none."""
    kind, values = registration_scope(user)
    return registrations_in_scope(kind, **values)


def registrations_of_partner_visible_to(user, partner_id: int | None) -> QuerySet[DealRegistration]:
    """registrations_visible_to(user), narrowed to one partner when `partner_id` is given (a
    manager's partner filter, or a partner user's own company; another company's id selects
    nothing)."""
    kind, values = registration_scope(user)
    if partner_id is not None:
        if kind == "all":
            return registrations_in_scope(kind).filter(partner_id=partner_id)
        if values.get("partner_id") != partner_id:
            return DealRegistration.objects.none()
    return registrations_in_scope(kind, **values)


def registrations_program_wide() -> QuerySet[DealRegistration]:
    """Every partner's registrations, for program-wide aggregates only (one number leaves,
    such as the program median on a partner's scorecard). Evaluate it inside
    `program_wide_read()`, which names the cross-tenant read."""
    return DealRegistration.objects.order_by()


@contextmanager
def program_wide_read() -> Iterator[None]:
    """A deliberate read across tenants for a program-wide aggregate: the named system context
    (prm.lib.tenancy) that the test suite's unscoped-query guard honours."""
    with system_context("program-wide aggregate"):
        yield


def without_deleted_drafts(queryset: QuerySet[DealRegistration]) -> QuerySet[DealRegistration]:
    """Leave out drafts the partner deleted: withdrawn without ever being submitted (the
    portal's "Delete draft"; the registration and its history stay, for the record)."""
    return queryset.exclude(status=RegistrationStatus.WITHDRAWN, submitted_at__isnull=True)


def registrations_filter(
    queryset: QuerySet[DealRegistration], *, params, user
) -> QuerySet[DealRegistration]:
    """Apply the list filters of the API (docs/api.md; also used by the portal lists)."""
    status = params.get("status")
    if status:
        queryset = queryset.filter(status__in=status.split(","))
    conflict_status = params.get("conflict_status")
    if conflict_status:
        if is_manager(user):
            # Managers: open conflicts on either side count (the earlier registration too).
            queryset = with_manager_conflict_status(queryset).filter(
                manager_conflict_status__in=conflict_status.split(",")
            )
        else:
            queryset = queryset.filter(conflict_status__in=conflict_status.split(","))
    search = (params.get("search") or "").strip()
    if search:
        queryset = queryset.filter(
            Q(customer_name__icontains=search) | Q(reference__icontains=search)
        )
    # The owner (issue 17 §3), for everyone: "me" (the caller) or a user id (400 otherwise).
    if str(params.get("owner") or "").strip().lower() == "me":
        queryset = queryset.filter(owner_id=user.pk)
    else:
        owner_id = query_id(params, "owner")
        if owner_id is not None:
            queryset = queryset.filter(owner_id=owner_id)
    queryset = custom_filter(queryset, params=params, user=user)
    if is_manager(user):
        partner_id = query_id(params, "partner")  # 400 unless a 64-bit id
        if partner_id is not None:
            queryset = queryset.filter(partner_id=partner_id)
        # Overdue: past the SLA awaiting a decision; an information request pauses the clock.
        overdue = params.get("overdue")
        if overdue in ("true", "1", "True"):
            queryset = queryset.filter(status="submitted", sla_due_at__lt=timezone_now())
        elif overdue in ("false", "0", "False"):
            queryset = queryset.exclude(status="submitted", sla_due_at__lt=timezone_now())
    return queryset


def custom_filter(
    queryset: QuerySet[DealRegistration], *, params, user
) -> QuerySet[DealRegistration]:
    """`?custom.<key>=<value>` (deals.customfields.filter_registrations): managers by any
    field ever defined, partners by the fields of their tier. Reads nothing without such a
    parameter."""
    if not customfields.filter_names(params):
        return queryset
    manager = is_manager(user)
    partner = None if manager else partner_of(user)
    fields = customfields.filterable_fields(
        manager=manager, tier_id=partner.tier_id if partner is not None else None
    )
    return customfields.filter_registrations(queryset, params, fields)


def withdrawals_after_conflict(since) -> QuerySet[DealRegistration]:
    """Registrations withdrawn at or after `since` whose last verdict was a (potential)
    conflict: what a partner probing for verdicts through registrations leaves behind."""
    return DealRegistration.objects.filter(
        status="withdrawn",
        conflict_status__in=("potential_conflict", "conflict"),
        events__action="withdrawn",
        events__at__gte=since,
    )


# The manager queue's views by who must act (issue 17 §5): a manager decides what is
# submitted; an information request waits for the partner (the SLA clock is paused).
QUEUE_VIEWS = {
    "decide": (RegistrationStatus.SUBMITTED,),
    "partner": (RegistrationStatus.INFO_REQUESTED,),
}


# Issue 17 §4: the queue by assignee. "mine" includes what is assigned to a manager the user
# covers (Delegation); "team" what is routed to one of the user's teams (or a covered
# manager's) without a personal assignee yet; "unassigned" neither a manager nor a team.
ASSIGNMENT_FILTERS = ("mine", "team", "unassigned", "all")


def assignment_scope(user) -> tuple[list[int], list[int]]:
    """(the managers `user` acts for now: themselves and their delegators, the teams of all of
    them): two queries whatever the queue's size."""
    now = timezone_now()
    people = [
        user.pk,
        *Delegation.objects.filter(
            delegate_id=user.pk, starts_at__lte=now, ends_at__gt=now
        ).values_list("manager_id", flat=True),
    ]
    teams = sorted(
        set(ApprovalTeam.objects.filter(members__in=people).values_list("pk", flat=True))
    )
    return sorted(set(people)), teams


def assignment_q(assignment: str, scope: tuple[list[int], list[int]]) -> Q:
    people, teams = scope
    if assignment == "mine":
        return Q(assigned_manager_id__in=people)
    if assignment == "team":
        return Q(assigned_team_id__in=teams, assigned_manager__isnull=True)
    if assignment == "unassigned":
        return Q(assigned_manager__isnull=True, assigned_team__isnull=True)
    return Q()


def assignment_counts(view: str, scope: tuple[list[int], list[int]]) -> dict[str, int]:
    """How many registrations of a queue view each assignment filter holds: one query."""
    base = DealRegistration.objects.filter(status__in=QUEUE_VIEWS[view]).order_by()
    return base.aggregate(
        **{name: Count("id", filter=assignment_q(name, scope)) for name in ASSIGNMENT_FILTERS}
    )


def review_queue(
    *,
    partner_id=None,
    tier=None,
    conflict_status=None,
    product_line=None,
    custom: dict | None = None,
    view="decide",
    assignment: str = "all",
    scope: tuple[list[int], list[int]] | None = None,
) -> QuerySet[DealRegistration]:
    """Registrations of one queue view (QUEUE_VIEWS: awaiting a decision, or awaiting the
    partner), the most urgent SLA first, each with its `manager_conflict_status` (open
    conflicts on either side). `custom`: {"custom.<key>": value} filters (any field ever
    defined). `assignment` (ASSIGNMENT_FILTERS) narrows by assignee, with `scope` from
    assignment_scope(user)."""
    queryset = with_manager_conflict_status(
        _registration_base()
        .select_related("assigned_manager", "assigned_team")
        .filter(status__in=QUEUE_VIEWS[view])
    )
    if assignment != "all":
        queryset = queryset.filter(assignment_q(assignment, scope or ([], [])))
    if custom and customfields.filter_names(custom):
        queryset = customfields.filter_registrations(
            queryset, custom, customfields.filterable_fields(manager=True, tier_id=None)
        )
    if partner_id:
        queryset = queryset.filter(partner_id=partner_id)
    if tier:
        queryset = queryset.filter(partner__tier__code=tier)
    if conflict_status:
        queryset = queryset.filter(manager_conflict_status=conflict_status)
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
    return ActivityEntry.objects.filter(registration=registration).select_related(
        "author", "attachment"
    )


def attachments_visible_to(user) -> QuerySet[Attachment]:
    """Live (not removed) attachments of the registrations `user` may see: the one scope of
    attachments for the API, the pages and the download (registrations_visible_to)."""
    return Attachment.objects.filter(
        registration__in=registrations_visible_to(user).values("pk"), deleted_at__isnull=True
    )


def attachments_of(registration: DealRegistration) -> QuerySet[Attachment]:
    """A registration's live attachments, oldest first, with the uploader (one query)."""
    return (
        Attachment.objects.filter(registration=registration, deleted_at__isnull=True)
        .select_related("uploaded_by")
        .order_by("created_at", "id")
    )


def queue_counts() -> dict[str, int]:
    """How many registrations each queue view holds (two counts, whatever the queue's size)."""
    rows = (
        DealRegistration.objects.filter(status__in=["submitted", "info_requested"])
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status = {status: n for status, n in rows}
    return {
        view: sum(by_status.get(status, 0) for status in statuses)
        for view, statuses in QUEUE_VIEWS.items()
    }


def pending_extension_requests() -> QuerySet[ExtensionRequest]:
    """Extension requests waiting for a manager, oldest first (managers' queue view)."""
    return (
        ExtensionRequest.objects.filter(status="pending")
        .select_related("registration", "registration__partner", "requested_by")
        .order_by("created_at", "id")
    )


def extension_requests_visible_to(user) -> QuerySet[ExtensionRequest]:
    base = ExtensionRequest.objects.select_related("registration", "requested_by", "decided_by")
    if is_manager(user):
        return base
    partner = partner_of(user)
    if partner is None:
        return base.none()
    return base.filter(registration__partner_id=partner.pk)


def conflicts_for_registration(registration_id: int) -> QuerySet[Conflict]:
    """The registration's conflicts on both sides: those its submission raised and those a
    later registration raised against it."""
    return Conflict.objects.filter(touching(RecordKind.REGISTRATION, registration_id)).order_by(
        "-score", "id"
    )


def conflicts_touching_any(registration_ids) -> QuerySet[Conflict]:
    return Conflict.objects.filter(touching_any(registration_ids))


def _worst_open_severity():
    """The most severe open conflict on either side of the outer registration ("conflict"
    sorts before "potential_conflict")."""
    return (
        Conflict.objects.filter(status=Conflict.Status.OPEN)
        .filter(
            Q(registration_id=OuterRef("pk"))
            | Q(kind=RecordKind.REGISTRATION, other_id=OuterRef("pk"))
        )
        .order_by("severity")
        .values("severity")[:1]
    )


def with_manager_conflict_status(queryset):
    """Annotate `manager_conflict_status`: the worst open conflict on either side, else the
    registration's own verdict (what managers see, filter on, and "select all clear" reads)."""
    return queryset.annotate(
        manager_conflict_status=Coalesce(Subquery(_worst_open_severity()), F("conflict_status"))
    )


def manager_conflict_status(registration, conflicts) -> str | None:
    """The same as the annotation, from the registration's conflicts already read."""
    severities = {c.severity for c in conflicts if c.status == Conflict.Status.OPEN}
    if "conflict" in severities:
        return "conflict"
    if severities:
        return "potential_conflict"
    return registration.conflict_status


def conflicts_visible_to(user) -> QuerySet[Conflict]:
    """Managers: every conflict; a sales rep: those against their own opportunities
    (conflicts_of_rep); anyone else: none."""
    kind, values = registration_scope(user)
    if kind == "all":
        return Conflict.objects.all()
    if kind == "rep":
        return conflicts_of_rep(values["rep_email"])
    return Conflict.objects.none()


def conflicts_counted_for(user, partner_id: int | None = None) -> QuerySet[Conflict]:
    """Conflict rows a user's reports may count (counts only, never listed): a manager's every
    row (or one partner's, when `partner_id` is given); a partner user's those flagging their
    own company's registrations; anyone else's none."""
    kind, values = registration_scope(user)
    if kind not in ("all", "partner"):
        return Conflict.objects.none()
    if kind == "partner":
        partner_id = values["partner_id"] if partner_id in (None, values["partner_id"]) else -1
    conflicts = Conflict.objects.all()
    return conflicts if partner_id is None else conflicts.filter(registration_partner_id=partner_id)
