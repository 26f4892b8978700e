"""Approval routing (issue 17 §4): who reviews a registration, the optional second approval
step, claiming and reassigning, and delegation while a manager is away.

- Routing rules (admin, ordered, first match wins) are evaluated once, when a registration is
  first submitted (`route_on_submit`, called by services._submit_locked): the registration
  lands assigned to a manager or a team, or unassigned when no rule matches. A resubmission
  after an information request keeps the assignment and the step.
- A second-step rule (value at or above its currency's threshold, or a chosen product line)
  makes the approval two steps. Approving step 1 (services.registration_approve) records a
  STEP_APPROVED event, hands the registration to the second step's approver with the second
  step's own SLA, and starts no protection; only the last step runs the approval itself.
- Claim and reassign are manager actions; each records an internal ASSIGNED event (partners
  never see who reviews their registration) whose notification tells the new assignee.
- Delegation: during [starts_at, ends_at) the delegate sees the manager's assignments as their
  own, may approve a step the manager could, and hears what the manager would hear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet

from deals import lifecycle
from deals.events import _registration_event
from deals.models import (
    ApprovalTeam,
    DealRegistration,
    Delegation,
    EventAction,
    RegistrationEvent,
    RoutingRule,
    SecondStepRule,
)
from deals.permissions import _require_manager
from deals.policy import _holidays, policy_current
from partners.models import User
from partners.roles import is_manager
from prm.exceptions import InvalidTransition, PermissionDeniedError, StateConflict, ValidationFailed
from prm.lib.time import add_business_days, timezone_now

AWAITING = (lifecycle.SUBMITTED, lifecycle.INFO_REQUESTED)


# --- Rules --------------------------------------------------------------------------------------


def _line_ids(registration: DealRegistration) -> set[int]:
    return {p.product_line_id for p in registration.products.all()}


def _in_range(rule: RoutingRule, value: Decimal, currency: str) -> bool:
    if rule.min_value is None and rule.max_value is None and not rule.currency:
        return True
    if rule.currency and rule.currency != currency:
        return False
    if rule.min_value is not None and value < rule.min_value:
        return False
    return not (rule.max_value is not None and value > rule.max_value)


def routing_rule_matches(
    rule: RoutingRule, registration: DealRegistration, line_ids: set[int], rule_lines: set[int]
) -> bool:
    """Every condition the rule sets holds for the registration (an empty one holds)."""
    if rule.channel_manager_id is not None and (
        registration.partner.channel_manager_id != rule.channel_manager_id
    ):
        return False
    if rule.countries and registration.customer_country not in rule.countries:
        return False
    if rule_lines and not (rule_lines & line_ids):
        return False
    return _in_range(rule, registration.estimated_value, registration.currency)


def routing_rule_for(registration: DealRegistration) -> RoutingRule | None:
    """The first active routing rule (by order) that matches, or None (unassigned)."""
    rules = list(
        RoutingRule.objects.filter(active=True)
        .prefetch_related("product_lines")
        .order_by("order", "id")
    )
    line_ids = _line_ids(registration)
    for rule in rules:
        rule_lines = {line.pk for line in rule.product_lines.all()}
        if routing_rule_matches(rule, registration, line_ids, rule_lines):
            return rule
    return None


def second_step_rule_for(registration: DealRegistration) -> SecondStepRule | None:
    """The first active second-step rule (by order) the registration falls under: its value at
    or above the threshold set for its currency, or a product of one of the rule's lines."""
    rules = list(
        SecondStepRule.objects.filter(active=True)
        .prefetch_related("product_lines")
        .order_by("order", "id")
    )
    line_ids = _line_ids(registration)
    for rule in rules:
        threshold = rule.threshold(registration.currency)
        if threshold is not None and registration.estimated_value >= threshold:
            return rule
        if {line.pk for line in rule.product_lines.all()} & line_ids:
            return rule
    return None


def route_on_submit(registration: DealRegistration) -> dict:
    """The routing fields of a registration submitted for the first time (the caller writes
    them with the status change). A resubmission keeps what it has: returns {}."""
    rule = routing_rule_for(registration)
    second = second_step_rule_for(registration)
    return {
        "assigned_manager_id": rule.assign_manager_id if rule else None,
        "assigned_team_id": rule.assign_team_id if rule else None,
        "approval_step": 1,
        "approval_steps": 2 if second else 1,
        "second_step_rule_id": second.pk if second else None,
        "_routing_rule": rule,
    }


def routed_event_details(registration: DealRegistration, rule: RoutingRule | None) -> dict:
    return {
        "rule": rule.pk if rule else None,
        "rule_name": rule.name if rule else "",
        "how": "routed",
        "to": _assignee(registration.assigned_manager_id, registration.assigned_team_id),
        "steps": registration.approval_steps,
    }


# --- Delegation ---------------------------------------------------------------------------------


def delegators_of(user, *, now: dt.datetime | None = None) -> list[int]:
    """The managers whose queue `user` covers now (an active delegation to them)."""
    now = now or timezone_now()
    return sorted(
        set(
            Delegation.objects.filter(
                delegate_id=user.pk, starts_at__lte=now, ends_at__gt=now
            ).values_list("manager_id", flat=True)
        )
    )


def delegate_for(manager_id: int, *, now: dt.datetime | None = None) -> int | None:
    """The colleague covering `manager_id` now, if any (the latest-starting delegation)."""
    now = now or timezone_now()
    return (
        Delegation.objects.filter(manager_id=manager_id, starts_at__lte=now, ends_at__gt=now)
        .order_by("-starts_at", "-id")
        .values_list("delegate_id", flat=True)
        .first()
    )


def delegation_create(
    *, actor, manager, delegate, starts_at: dt.datetime, ends_at: dt.datetime, note: str = ""
) -> Delegation:
    """Route `manager`'s queue to `delegate` for [starts_at, ends_at). A manager sets their own
    delegation; an administrator (superuser) anyone's. Both must be channel managers."""
    _require_manager(actor)
    if manager.pk != actor.pk and not actor.is_superuser:
        raise PermissionDeniedError("You can only delegate your own queue.")
    errors: dict[str, list[str]] = {}
    if delegate is None or not is_manager(delegate) or getattr(delegate, "is_integration", False):
        errors["delegate"] = ["Choose a colleague who is a channel manager."]
    elif delegate.pk == manager.pk:
        errors["delegate"] = ["Delegate to a colleague, not to yourself."]
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        errors["ends_at"] = ["The delegation must end after it starts."]
    elif ends_at <= timezone_now():
        errors["ends_at"] = ["The end is in the past."]
    if errors:
        raise ValidationFailed("The delegation is not valid.", fields=errors)
    return Delegation.objects.create(
        manager=manager, delegate=delegate, starts_at=starts_at, ends_at=ends_at, note=note[:200]
    )


def delegation_end(*, actor, delegation: Delegation) -> Delegation:
    """End a delegation now (or drop one that has not started)."""
    _require_manager(actor)
    if delegation.manager_id != actor.pk and not actor.is_superuser:
        raise PermissionDeniedError("You can only end your own delegation.")
    now = timezone_now()
    if delegation.starts_at >= now:
        delegation.delete()
        return delegation
    if delegation.ends_at > now:
        delegation.ends_at = now
        delegation.save(update_fields=["ends_at"])
    return delegation


def delegations_of(user) -> QuerySet[Delegation]:
    """A manager's delegations that have not ended, given and received."""
    return (
        Delegation.objects.filter(Q(manager_id=user.pk) | Q(delegate_id=user.pk))
        .filter(ends_at__gt=timezone_now())
        .select_related("manager", "delegate")
        .order_by("starts_at", "id")
    )


# --- Who may act ---------------------------------------------------------------------------------


def team_ids_of(user) -> list[int]:
    return sorted(ApprovalTeam.objects.filter(members=user).values_list("pk", flat=True))


def acts_for(user, *, now: dt.datetime | None = None) -> list[int]:
    """The people `user` acts for now: themselves and whoever delegated to them."""
    return [user.pk, *delegators_of(user, now=now)]


def can_approve_step(user, registration: DealRegistration) -> bool:
    """Who may approve the registration's current step. Step 1: any channel manager (routing
    assigns work, it does not restrict it). A later step: the assigned approver, a member of
    the assigned team, or someone covering one of them; never whoever approved step 1 (four
    eyes)."""
    if not is_manager(user):
        return False
    if registration.approval_step <= 1:
        return True
    if _step_approvers(registration) & {user.pk}:
        return False
    people = set(acts_for(user))
    if registration.assigned_manager_id in people:
        return True
    if registration.assigned_team_id is not None:
        return ApprovalTeam.objects.filter(
            pk=registration.assigned_team_id, members__in=people
        ).exists()
    # The second step's approver left (no manager, no team): any manager but step 1's.
    return registration.assigned_manager_id is None


def _step_approvers(registration: DealRegistration) -> set[int]:
    return set(
        RegistrationEvent.objects.filter(
            registration_id=registration.pk, action=EventAction.STEP_APPROVED
        )
        .exclude(actor_id=None)
        .values_list("actor_id", flat=True)
    )


def require_step_approver(user, registration: DealRegistration) -> None:
    if not can_approve_step(user, registration):
        raise PermissionDeniedError(
            f"Step {registration.approval_step} of {registration.approval_steps} is approved by "
            "its assigned approver (or their team or delegate), and not by whoever approved "
            "the step before."
        )


# --- Step 1 of 2 ------------------------------------------------------------------------------


def step_advance_updates(registration: DealRegistration, *, now: dt.datetime) -> dict:
    """The fields approving a step before the last one changes: the next step, its approver,
    its own SLA (business days from now)."""
    rule = registration.second_step_rule
    days = rule.sla_business_days if rule is not None else policy_current().sla_business_days
    return {
        "approval_step": registration.approval_step + 1,
        "assigned_manager_id": rule.approver_manager_id if rule else None,
        "assigned_team_id": rule.approver_team_id if rule else None,
        "sla_due_at": add_business_days(now, days, _holidays(policy_current())),
    }


def step_sla_days(registration: DealRegistration, default: int) -> int:
    """The SLA of the registration's current step (a resubmission at step 2 keeps step 2's)."""
    rule = registration.second_step_rule
    if registration.approval_step > 1 and rule is not None:
        return rule.sla_business_days
    return default


# --- Claim and reassign ------------------------------------------------------------------------


def _assignee(manager_id: int | None, team_id: int | None) -> dict:
    return {"manager": manager_id, "team": team_id}


def _write_assignment(
    registration: DealRegistration,
    actor,
    *,
    manager_id: int | None,
    team_id: int | None,
    how: str,
) -> DealRegistration:
    """Compare-and-set the assignee while the registration awaits a decision; one internal
    ASSIGNED event."""
    before = _assignee(registration.assigned_manager_id, registration.assigned_team_id)
    changed = DealRegistration.objects.filter(
        pk=registration.pk,
        status__in=AWAITING,
        assigned_manager_id=registration.assigned_manager_id,
        assigned_team_id=registration.assigned_team_id,
    ).update(assigned_manager_id=manager_id, assigned_team_id=team_id, updated_at=timezone_now())
    if changed != 1:
        raise InvalidTransition("The registration was changed by someone else; reload it.")
    registration.assigned_manager_id = manager_id
    registration.assigned_team_id = team_id
    _registration_event(
        registration,
        actor,
        EventAction.ASSIGNED,
        from_status=registration.status,
        to_status=registration.status,
        internal=True,
        details={
            "how": how,
            "from": before,
            "to": _assignee(manager_id, team_id),
            "step": registration.approval_step,
        },
    )
    return registration


def _locked(registration: DealRegistration) -> DealRegistration:
    return (
        DealRegistration.objects.select_for_update(of=("self",))
        .select_related("partner")
        .get(pk=registration.pk)
    )


def registration_claim(*, registration: DealRegistration, actor) -> DealRegistration:
    """A manager takes a registration awaiting a decision that no one has personally: an
    unassigned one, or one routed to a team (a team's item is claimed by a member or
    someone covering one). Someone else's → StateConflict `already_assigned` (reassign it)."""
    _require_manager(actor)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status not in AWAITING:
            raise InvalidTransition("Only a registration awaiting a decision can be claimed.")
        if registration.assigned_manager_id == actor.pk:
            return registration
        if registration.assigned_manager_id is not None:
            raise StateConflict(
                "This registration is assigned to someone else: reassign it instead.",
                code="already_assigned",
            )
        if registration.assigned_team_id is not None and not (
            actor.is_superuser
            or ApprovalTeam.objects.filter(
                pk=registration.assigned_team_id, members__in=acts_for(actor)
            ).exists()
        ):
            raise PermissionDeniedError("Only the team's members can claim its registrations.")
        return _write_assignment(
            registration,
            actor,
            manager_id=actor.pk,
            team_id=registration.assigned_team_id,
            how="claimed",
        )


def registration_assign(
    *,
    registration: DealRegistration,
    actor,
    manager: User | None = None,
    team: ApprovalTeam | None = None,
) -> DealRegistration:
    """A manager reassigns a registration awaiting a decision to a manager, a team, or nobody
    (both None: back to the unassigned queue). The manager must be a channel manager."""
    _require_manager(actor)
    if manager is not None and (not is_manager(manager) or manager.is_integration):
        raise ValidationFailed(
            "Choose a channel manager.", fields={"assignee": ["Not a channel manager."]}
        )
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status not in AWAITING:
            raise InvalidTransition("Only a registration awaiting a decision can be reassigned.")
        manager_id = manager.pk if manager is not None else None
        team_id = team.pk if team is not None else None
        if (manager_id, team_id) == (
            registration.assigned_manager_id,
            registration.assigned_team_id,
        ):
            return registration
        return _write_assignment(
            registration, actor, manager_id=manager_id, team_id=team_id, how="reassigned"
        )


def assignee_choices() -> tuple[list[User], list[ApprovalTeam]]:
    """Who a registration can be assigned to: active channel managers and the teams."""
    has_perm = Q(
        user_permissions__codename="review_registration",
        user_permissions__content_type__app_label="deals",
    ) | Q(
        groups__permissions__codename="review_registration",
        groups__permissions__content_type__app_label="deals",
    )
    managers = (
        User.objects.filter(is_active=True, is_integration=False, is_staff=True)
        .filter(Q(is_superuser=True) | has_perm)
        .distinct()
        .only("id", "email", "name")
        .order_by("name", "email")
    )
    return list(managers), list(ApprovalTeam.objects.order_by("name"))


def parse_assignee(value: str) -> tuple[User | None, ApprovalTeam | None]:
    """ "m:<id>" (a manager), "t:<id>" (a team) or "" (nobody) from a form, or 400."""
    value = (value or "").strip()
    if not value:
        return None, None
    kind, _, raw = value.partition(":")
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        if kind == "m":
            user = User.objects.filter(pk=int(raw), is_active=True).first()
            if user is not None:
                return user, None
        elif kind == "t":
            team = ApprovalTeam.objects.filter(pk=int(raw)).first()
            if team is not None:
                return None, team
    raise ValidationFailed("Choose whom to assign.", fields={"assignee": ["Unknown assignee."]})


def names_of(ids: Iterable[int]) -> dict[int, str]:
    return {
        pk: name or email
        for pk, name, email in User.objects.filter(pk__in=list(ids)).values_list(
            "pk", "name", "email"
        )
    }
