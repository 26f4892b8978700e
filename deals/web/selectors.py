"""Reads for the browser pages: the partner dashboard, the scorecard figures it shows, the
review page's side-by-side records and the manager's partner figures.

Everything starts from the tenant-scoped selectors in deals/registrations/selectors.py; each function runs a
fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from conflicts.models import Conflict, RecordKind
from deals.models import (
    ActivityEntry,
    CoSellAgreement,
    DealRegistration,
    DirectOpportunity,
    Product,
)
from deals.notifications.inbox import notifications_visible_to
from deals.policy import _holidays
from deals.registrations import selectors
from deals.reports.filters import (
    ReportFilters,
    default_period,
    period_label,
    registrations_for_report,
)
from deals.reports.summary import format_hours, format_percent, median_hours_to_decision, rate
from partners.models import Partner
from prm.lib.time import add_business_days, timezone_now

EXPIRING_WITHIN_DAYS = 30


@dataclass
class Scorecard:
    """The headline figures of the home page and the manager's partner page: the same
    definitions, period and median function (deals.reports.summary.time_to_decision) as the
    reports."""

    period: str = ""
    submitted: int = 0
    decided: int = 0
    approved: int = 0
    won: int = 0
    lost: int = 0
    approval_rate: float | None = None  # 0..1
    win_rate: float | None = None  # 0..1
    median_hours_to_decision: float | None = None  # business hours

    @property
    def approval_rate_text(self) -> str:
        return format_percent(self.approval_rate)

    @property
    def win_rate_text(self) -> str:
        return format_percent(self.win_rate)

    @property
    def median_text(self) -> str:
        return format_hours(self.median_hours_to_decision)


def scorecard_figures(user, filters: ReportFilters) -> Scorecard:
    """Approval rate, median time to decision and win rate of the registrations `user` may see
    that `filters` select (registrations_for_report), as the report summary defines them
    (3 queries)."""
    registrations = registrations_for_report(user, filters)
    counts = registrations.aggregate(
        submitted=Count("pk"),
        decided=Count("pk", filter=Q(decided_at__isnull=False)),
        approved=Count("pk", filter=Q(approved_at__isnull=False)),
        won=Count("pk", filter=Q(status="won")),
        lost=Count("pk", filter=Q(status="lost")),
    )
    card = Scorecard(period=period_label(filters), **counts)
    card.approval_rate = rate(card.approved, card.decided)
    card.win_rate = rate(card.won, card.won + card.lost)
    card.median_hours_to_decision = median_hours_to_decision(registrations, decided=card.decided)
    return card


def partner_figures(user, partner_id: int) -> Scorecard:
    """One partner's figures over the default period (the manager's partner page)."""
    return scorecard_figures(user, replace(default_period(), partner_id=partner_id))


@dataclass
class Dashboard:
    open_registrations: list = field(default_factory=list)
    open_count: int = 0
    expiring: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    notifications: list = field(default_factory=list)
    scorecard: Scorecard = field(default_factory=Scorecard)


def partner_dashboard(user, *, limit: int = 8) -> Dashboard:
    """The partner home page: open registrations, those expiring within 30 days, recent
    decisions with reasons, unread notifications and the scorecard figures."""
    now = timezone_now()
    visible = selectors.registrations_visible_to(user)
    open_qs = visible.filter(status__in=["draft", "submitted", "info_requested", "approved"])
    expiring = visible.protecting(now).filter(
        expires_at__lte=now + dt.timedelta(days=EXPIRING_WITHIN_DAYS)
    )
    decisions = visible.filter(decided_at__isnull=False).order_by("-decided_at", "-id")
    unread = (
        notifications_visible_to(user)
        .filter(read_at__isnull=True)
        .select_related("registration")
        .order_by("-created_at", "-id")
    )
    return Dashboard(
        open_registrations=list(open_qs.order_by("-updated_at", "-id")[:limit]),
        open_count=open_qs.count(),
        expiring=list(expiring.order_by("expires_at", "id")[:limit]),
        decisions=list(decisions[:limit]),
        notifications=list(unread[:5]),
        scorecard=scorecard_figures(user, default_period()),
    )


# --- Manager review page: the other side of each conflict ---------------------------------------


@dataclass
class ConflictSide:
    conflict: Conflict
    registration: DealRegistration | None = None
    opportunity: DirectOpportunity | None = None
    activities: list = field(default_factory=list)
    # True when this registration is the earlier one (the other registration raised it).
    earlier: bool = False
    # The sales reps' co-sell proposals on a conflict with a direct opportunity.
    proposals: list = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return self.registration is None and self.opportunity is None

    @property
    def is_registration(self) -> bool:
        return self.conflict.kind == RecordKind.REGISTRATION


def conflict_sides(registration: DealRegistration, *, user) -> list[ConflictSide]:
    """Each conflict of `registration`, on either side, with the other record loaded (a
    registration with its partner, products and activity log, or a direct opportunity; None
    when it was deleted). A conflict a later registration raised against this one shows that
    later registration as the other side (`earlier` is then True). Four queries whatever the
    number of conflicts (five with a direct opportunity: the reps' co-sell proposals)."""
    conflicts = list(selectors.conflicts_for_registration(registration.pk))
    others = {c.pk: _other_side(c, registration.pk) for c in conflicts}
    reg_ids = [pk for kind, pk in others.values() if kind == RecordKind.REGISTRATION]
    opp_ids = [pk for kind, pk in others.values() if kind == RecordKind.DIRECT_OPPORTUNITY]
    registrations = {}
    opportunities = {}
    activities: dict[int, list] = {}
    if reg_ids:
        visible = selectors.registrations_visible_to(user).filter(pk__in=reg_ids)
        registrations = {r.pk: r for r in visible}
        for entry in (
            ActivityEntry.objects.filter(registration_id__in=reg_ids)
            .select_related("author")
            .order_by("-occurred_on", "-id")
        ):
            activities.setdefault(entry.registration_id, []).append(entry)
    proposals: dict[int, list] = {}
    if opp_ids:
        from deals.registrations.co_sell import co_sell_proposals

        opportunities = {
            o.pk: o
            for o in DirectOpportunity.objects.filter(pk__in=opp_ids).prefetch_related("products")
        }
        proposals = co_sell_proposals(
            [c.pk for c in conflicts if c.kind == RecordKind.DIRECT_OPPORTUNITY]
        )
    sides = []
    for conflict in conflicts:
        kind, other_id = others[conflict.pk]
        if kind == RecordKind.REGISTRATION:
            sides.append(
                ConflictSide(
                    conflict=conflict,
                    registration=registrations.get(other_id),
                    activities=activities.get(other_id, []),
                    earlier=conflict.registration_id != registration.pk,
                )
            )
        else:
            sides.append(
                ConflictSide(
                    conflict=conflict,
                    opportunity=opportunities.get(other_id),
                    proposals=proposals.get(conflict.pk, []),
                )
            )
    return sides


def _other_side(conflict: Conflict, registration_id: int) -> tuple[str, int]:
    if conflict.registration_id == registration_id:
        return conflict.kind, conflict.other_id
    return RecordKind.REGISTRATION, conflict.registration_id


def open_conflict_counts(registration_ids: list[int]) -> dict[int, int]:
    """Open conflicts per registration on either side, for queue rows (one query)."""
    if not registration_ids:
        return {}
    wanted = set(registration_ids)
    counts: dict[int, int] = {}
    rows = (
        selectors.conflicts_touching_any(registration_ids)
        .filter(status=Conflict.Status.OPEN)
        .values_list("registration_id", "kind", "other_id")
    )
    for registration_id, kind, other_id in rows:
        for pk in (registration_id, other_id if kind == RecordKind.REGISTRATION else None):
            if pk in wanted:
                counts[pk] = counts.get(pk, 0) + 1
    return counts


# --- Manager: partners ----------------------------------------------------------------------------


def withdrawal_alert_limit() -> tuple[int, int]:
    """(withdrawals after a conflict, period in seconds) that flag a partner."""
    from prm.ratelimit import parse_rate

    return parse_rate(settings.CONFLICT_WITHDRAWAL_ALERT_RATE)


def partners_with_figures() -> QuerySet[Partner]:
    """Partners with their user count and registration figures (one query), and the
    withdrawals after a conflict verdict within the alert period (a subquery)."""
    _, window = withdrawal_alert_limit()
    since = timezone_now() - dt.timedelta(seconds=window)
    withdrawn_after_conflict = (
        selectors.withdrawals_after_conflict(since)
        .filter(partner_id=OuterRef("pk"))
        .order_by()
        .values("partner_id")
        .annotate(n=Count("pk", distinct=True))
        .values("n")
    )
    return (
        Partner.objects.select_related("tier", "channel_manager")
        .annotate(withdrawn_after_conflict=Coalesce(Subquery(withdrawn_after_conflict), 0))
        .annotate(
            user_count=Count("memberships", distinct=True),
            open_count=Count(
                "registrations",
                filter=Q(registrations__status__in=["submitted", "info_requested", "approved"]),
                distinct=True,
            ),
            awaiting_count=Count(
                "registrations",
                filter=Q(registrations__status__in=["submitted", "info_requested"]),
                distinct=True,
            ),
            won_count=Count("registrations", filter=Q(registrations__status="won"), distinct=True),
        )
        .order_by("name")
    )


def product_lines_in_use() -> list[tuple[str, str]]:
    """(code, name) of product lines that have active products, for filters."""
    seen = {}
    for product in Product.objects.filter(active=True).select_related("product_line"):
        seen[product.product_line.code] = product.product_line.name
    return sorted(seen.items(), key=lambda item: item[1])


# --- Manager: the conflicts work list -----------------------------------------------------------


@dataclass
class WorkItem:
    """One open conflict on the work list: both records, its age and its own SLA."""

    conflict: Conflict
    registration: DealRegistration | None
    other_registration: DealRegistration | None = None
    opportunity: DirectOpportunity | None = None
    due_at: dt.datetime | None = None
    overdue: bool = False
    age_days: int = 0

    @property
    def after_approval(self) -> bool:
        """Raised while (or found after) a registration on either side was approved."""
        return any(
            r is not None and r.status == "approved"
            for r in (self.registration, self.other_registration)
        )


def open_conflicts_worklist(
    *, kind: str = "", partner_id: int | None = None, rep_email: str = "", min_age_days=None
) -> QuerySet[Conflict]:
    """Every open conflict, post-approval ones included, oldest first; filters: kind, a
    partner on either side, the rep owning the direct opportunity (e-mail, any case), and the
    minimum age in days."""
    queryset = Conflict.objects.filter(status=Conflict.Status.OPEN)
    if kind in RecordKind.values:
        queryset = queryset.filter(kind=kind)
    if partner_id is not None:
        queryset = queryset.filter(
            Q(registration_partner_id=partner_id) | Q(other_partner_id=partner_id)
        )
    if rep_email:
        owned = selectors.opportunities_owned_by(rep_email).values("pk")
        queryset = queryset.filter(kind=RecordKind.DIRECT_OPPORTUNITY, other_id__in=owned)
    if min_age_days:
        queryset = queryset.filter(
            created_at__lte=timezone_now() - dt.timedelta(days=int(min_age_days))
        )
    return queryset.order_by("created_at", "id")


def worklist_items(conflicts: list[Conflict], *, user, policy) -> list[WorkItem]:
    """The page's conflicts with both records loaded and their SLA (created + the policy's
    review SLA in business days): three queries whatever the page size."""
    reg_ids = {c.registration_id for c in conflicts} | {
        c.other_id for c in conflicts if c.kind == RecordKind.REGISTRATION
    }
    opp_ids = {c.other_id for c in conflicts if c.kind == RecordKind.DIRECT_OPPORTUNITY}
    registrations = (
        {
            r.pk: r
            for r in selectors.registrations_visible_to(user)
            .filter(pk__in=reg_ids)
            .select_related("partner")
        }
        if reg_ids
        else {}
    )
    opportunities = (
        {o.pk: o for o in DirectOpportunity.objects.filter(pk__in=opp_ids)} if opp_ids else {}
    )
    now = timezone_now()
    holidays = _holidays(policy)
    items = []
    for conflict in conflicts:
        due = add_business_days(conflict.created_at, policy.sla_business_days, holidays)
        items.append(
            WorkItem(
                conflict=conflict,
                registration=registrations.get(conflict.registration_id),
                other_registration=registrations.get(conflict.other_id)
                if conflict.kind == RecordKind.REGISTRATION
                else None,
                opportunity=opportunities.get(conflict.other_id)
                if conflict.kind == RecordKind.DIRECT_OPPORTUNITY
                else None,
                due_at=due,
                overdue=due < now,
                age_days=(now - conflict.created_at).days,
            )
        )
    return items


def open_conflict_total() -> int:
    """Open conflicts (the queue's and the dashboard's link to the work list)."""
    return Conflict.objects.filter(status=Conflict.Status.OPEN).count()


def opportunity_owners() -> list[str]:
    """The distinct owner e-mails of open direct opportunities (the work list's rep filter)."""
    return sorted(
        {
            email.lower()
            for email in DirectOpportunity.objects.filter(status="open")
            .exclude(owner_email="")
            .values_list("owner_email", flat=True)
            .distinct()
        }
    )


# --- The sales rep workspace ----------------------------------------------------------------------


@dataclass
class RepItem:
    """One conflict of a sales rep's opportunity: the registration (read-only), the
    opportunity, the co-sell agreement if any, the reps' proposals, and what the rep may do."""

    conflict: Conflict
    registration: DealRegistration | None
    opportunity: DirectOpportunity | None
    agreement: CoSellAgreement | None
    proposals: list = field(default_factory=list)
    rep_email: str = ""

    @property
    def proposed(self) -> bool:
        return any(p.get("by") == self.rep_email for p in self.proposals)

    @property
    def accepted(self) -> bool:
        confirmations = self.agreement.confirmations if self.agreement else []
        return any(
            c.get("role") == "sales_rep" and c.get("by") == self.rep_email for c in confirmations
        )

    @property
    def can_propose(self) -> bool:
        return self.conflict.status == Conflict.Status.OPEN and not self.proposed

    @property
    def can_accept(self) -> bool:
        return self.agreement is not None and not self.accepted


def rep_conflicts(user, *, registration_id: int | None = None) -> QuerySet[Conflict]:
    """The rep's conflicts (selectors.conflicts_visible_to), newest first;
    narrowed to one registration when `registration_id` is given."""
    queryset = selectors.conflicts_visible_to(user)
    if registration_id is not None:
        queryset = queryset.filter(registration_id=registration_id)
    return queryset.order_by("-created_at", "-id")


def rep_items(conflicts: list[Conflict], *, user) -> list[RepItem]:
    """The page's conflicts with their registration, opportunity, agreement and proposals:
    four queries whatever the page size."""
    from deals.registrations.co_sell import co_sell_proposals

    ids = [c.pk for c in conflicts]
    if not ids:
        return []
    registrations = {
        r.pk: r
        for r in selectors.registrations_visible_to(user)
        .filter(pk__in={c.registration_id for c in conflicts})
        .select_related("partner")
        .prefetch_related(None)
    }
    opportunities = {
        o.pk: o
        for o in selectors.opportunities_owned_by(user.email).filter(
            pk__in={c.other_id for c in conflicts}
        )
    }
    agreements = {a.conflict_id: a for a in CoSellAgreement.objects.filter(conflict_id__in=ids)}
    proposals = co_sell_proposals(ids)
    return [
        RepItem(
            conflict=c,
            registration=registrations.get(c.registration_id),
            opportunity=opportunities.get(c.other_id),
            agreement=agreements.get(c.pk),
            proposals=proposals.get(c.pk, []),
            rep_email=user.email,
        )
        for c in conflicts
    ]
