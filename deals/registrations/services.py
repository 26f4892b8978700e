"""The registration lifecycle's writes: create, edit, submit (with the conflict check),
approve, reject, request information, withdraw, close, expire, and the registration side of a
conflict resolution. Input cleaning is in validation.py, extensions in extensions.py, comments
and activity in collaboration.py, the periodic sweeps in sweeps.py.

Each service takes keyword arguments and an actor, owns its transaction, changes status only
through the lifecycle table with compare-and-set on the current status, writes exactly one
event per change (hash-chained), and writes notifications into the outbox in the same
transaction (deals.events -> deals.notifications.outbox), to be delivered after commit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from conflicts import engine
from conflicts import services as conflict_services
from conflicts.index import lock_identity
from conflicts.models import Conflict, RecordKind, touching
from conflicts.scoring import Identity
from deals import customfields, lifecycle
from deals.events import _registration_event
from deals.identity import _product_lines, registration_identity
from deals.models import (
    CoSellAgreement,
    DealRegistration,
    DirectOpportunity,
    EventAction,
    OpportunityStatus,
    RejectionReason,
    RulesOfEngagement,
)
from deals.notifications.outbox import withdrawals_flagged_notify
from deals.permissions import _require_manager, _require_partner_user
from deals.policy import (
    _engine_policy,
    _holidays,
    benefit_for,
    policy_current,
    protection_days_for,
)
from deals.registrations import budget, routing, selectors
from deals.registrations.co_sell import co_sell_proposals
from deals.registrations.indexing import _index_registration
from deals.registrations.validation import (
    _apply,
    _check_policy_rules,
    _clean_note,
    _clean_registration_fields,
    _policy_errors,
)
from partners.models import Partner
from partners.roles import is_manager
from partners.terms import terms_require_accepted
from prm import ratelimit
from prm.exceptions import (
    DuplicateRegistration,
    InvalidTransition,
    StateConflict,
    ValidationFailed,
)
from prm.lib.tenancy import system_context
from prm.lib.time import add_business_days, business_hours_between, timezone_now
from prm.lib.validation import (
    Errors,
    check_date,
    check_money,
    check_text,
    today,
)

CONFLICT_MESSAGES = {
    "clear": "No other active registration or opportunity was found for this customer.",
    "potential_conflict": (
        "This customer may already be engaged. A channel manager will review your registration."
    ),
    "conflict": (
        "This customer is already engaged. A channel manager will review your registration."
    ),
}
# Verdicts a withdrawal can "follow": registering and withdrawing to learn them is the
# availability oracle by another door (_withdrawals_after_conflict_flag).
PROBE_VERDICTS = ("potential_conflict", "conflict")
# After a resolution or a moot close leaves no open conflict (ISO-04: the same sentence
# whoever the other party was; never said to a registration whose protection was revoked).
REVIEWED_CLEAR_MESSAGE = "A channel manager reviewed the overlap; no conflict remains."
MOOT_CLEAR_MESSAGE = "No other active registration or opportunity remains for this customer."
REVOKED_MESSAGE = (
    "A channel manager reviewed the engagements for this customer and ended the protection "
    "of this registration."
)
CO_SELL_MESSAGE = (
    "A channel manager agreed a co-sell for this customer: you work this deal together with "
    "the vendor's team."
)
REVEALED_KIND: dict[str, str] = {
    RecordKind.DIRECT_OPPORTUNITY: " (with the vendor's direct sales team)",
    RecordKind.REGISTRATION: " (with another partner registration)",
}


# --- Transitions --------------------------------------------------------------------------------


def _transition(
    registration: DealRegistration, action: str, *, updates: dict | None = None
) -> tuple[str, str]:
    """Compare-and-set the status. Returns (from, to) or raises InvalidTransition when the
    move is illegal or someone else changed the status first."""
    current = registration.status
    to_status = lifecycle.target_status(action, current)
    fields = {"status": to_status, "updated_at": timezone_now(), **(updates or {})}
    changed = DealRegistration.objects.filter(pk=registration.pk, status=current).update(**fields)
    if changed != 1:
        raise InvalidTransition("The registration was changed by someone else; reload it.")
    for name, value in fields.items():
        setattr(registration, name, value)
    return current, to_status


def _locked(registration: DealRegistration) -> DealRegistration:
    """Re-read the registration under a row lock (PostgreSQL); SQLite serialises at BEGIN.
    Only the registration's row: locking the joined partner row too would serialise every
    transition of a partner's registrations (and deadlock with the report triggers, which
    share-lock the partner row after the identity locks)."""
    return (
        DealRegistration.objects.select_for_update(of=("self",))
        .select_related("partner", "partner__tier", "submitted_by", "owner")
        .get(pk=registration.pk)
    )


@system_context("conflict counterparts")
def _counterpart_ids(registration_id: int) -> set[int]:
    """The registrations on the other side of `registration_id`'s open conflicts."""
    ids: set[int] = set()
    rows = Conflict.objects.filter(
        touching(RecordKind.REGISTRATION, registration_id), status=Conflict.Status.OPEN
    ).values_list("registration_id", "kind", "other_id")
    for registration, kind, other in rows:
        ids.add(registration)
        if kind == RecordKind.REGISTRATION:
            ids.add(other)
    ids.discard(registration_id)
    return ids


@system_context("conflict counterparts")
def _locked_group(ids) -> dict[int, DealRegistration]:
    """Row locks on several registrations, always in id order (two services locking the two
    sides of one conflict never deadlock); missing ids are left out."""
    locked = {}
    for pk in sorted(set(ids)):
        row = (
            DealRegistration.objects.select_for_update(of=("self",))
            .select_related("partner", "partner__tier", "submitted_by", "owner")
            .filter(pk=pk)
            .first()
        )
        if row is not None:
            locked[pk] = row
    return locked


def _locked_with_counterparts(registration: DealRegistration) -> DealRegistration:
    """`_locked(registration)` plus the registrations on the other side of its open conflicts,
    all in id order: what every decision that reads or closes those conflicts takes first, so
    an approval and a resolution (or a rejection) of the two sides of one conflict are
    serialised (CONC: no approved pair with an open conflict between them)."""
    ids = {registration.pk} | _counterpart_ids(registration.pk)
    locked = _locked_group(ids)
    if registration.pk not in locked:
        raise DealRegistration.DoesNotExist
    return locked[registration.pk]


def registration_create(*, actor, data: dict, submit: bool = True) -> DealRegistration:
    """A partner user creates a registration for their company; submitted at once unless draft.

    A failed validation or a duplicate leaves nothing behind (one transaction)."""
    partner = _require_partner_user(actor)
    terms_require_accepted(actor)
    form = customfields.form_current()
    cleaned, errors = _clean_registration_fields(
        data, partial=False, custom_fields=form.for_tier(partner.tier_id)
    )
    if submit:
        # Report the policy's rules together with the field errors, in one answer.
        draft = DealRegistration(partner=partner, submitted_by=actor, owner=actor)
        _apply(draft, {k: v for k, v in cleaned.items() if k not in errors})
        for field, messages in _policy_errors(
            draft, policy_current(), cleaned.get("products") or [], form
        ).items():
            if field not in errors:
                errors[field] = messages
    errors.raise_if_any()
    if submit:
        _check_budget_spend(
            actor,
            partner,
            Identity.from_raw(
                name=cleaned.get("customer_name") or "",
                domain=cleaned.get("customer_domain") or "",
                country=cleaned.get("customer_country") or "",
            ),
            "submit",
        )
    with transaction.atomic(durable=True):
        registration = DealRegistration(partner=partner, submitted_by=actor, owner=actor)
        _apply(registration, cleaned)
        registration.form_version = form.version or None
        registration.save()
        registration.reference = f"DR-{registration.created_at.year}-{registration.pk:06d}"
        DealRegistration.objects.filter(pk=registration.pk).update(reference=registration.reference)
        # A new row has no links yet: insert them (set() would first read the existing ones).
        DealRegistration.products.through.objects.bulk_create(
            DealRegistration.products.through(dealregistration=registration, product=product)
            for product in cleaned.get("products") or []
        )
        _registration_event(
            registration,
            actor,
            EventAction.CREATED,
            to_status=lifecycle.DRAFT,
            details={"reference": registration.reference},
        )
        if submit:
            registration = _submit_locked(registration, actor, created=True, form=form)
    return registration


def registration_update(*, registration: DealRegistration, actor, data: dict) -> DealRegistration:
    """The owning partner edits a draft or a registration awaiting information."""
    partner = _require_partner_user(actor, registration.partner)
    form = customfields.form_current()
    cleaned, errors = _clean_registration_fields(
        data, partial=True, custom_fields=form.for_tier(partner.tier_id)
    )
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status not in lifecycle.EDITABLE_STATUSES:
            raise InvalidTransition(
                "Only drafts and registrations awaiting information can be edited."
            )
        changed = _apply(registration, cleaned)
        if "products" in cleaned:
            before = set(registration.products.values_list("pk", flat=True))
            after = {p.pk for p in cleaned["products"]}
            if before != after:
                registration.products.set(cleaned["products"])
                changed.append("products")
        if changed:
            if any(name.startswith(customfields.PREFIX) for name in changed):
                registration.form_version = form.version or None
            registration.save()
            _registration_event(
                registration,
                actor,
                EventAction.EDITED,
                from_status=registration.status,
                to_status=registration.status,
                details={"fields": sorted(changed)},
            )
    return registration


def registration_submit(*, registration: DealRegistration, actor) -> DealRegistration:
    """Submit a draft, or resubmit after an information request: validation, conflict check
    under the first-come-first-served lock, conflicts recorded, index updated, one event."""
    partner = _require_partner_user(actor, registration.partner)
    terms_require_accepted(actor)
    resubmit = registration.status == lifecycle.INFO_REQUESTED
    _check_budget_spend(
        actor, partner, registration_identity(registration), "resubmit" if resubmit else "submit"
    )
    with transaction.atomic(durable=True):
        return _submit_locked(registration, actor)


def _check_budget_spend(actor, partner: Partner, identity: Identity, source: str) -> None:
    """A submission tells the partner the same verdict as the availability check, so it
    spends the same per-user and per-partner budget (429 when spent, logged "throttled"):
    registering and withdrawing is no way around the limit. Spent before the transaction, so
    the refusal's log row stays."""
    budget.check_budget_spend(
        actor=actor,
        partner=partner,
        identity=identity,
        source=source,
        message="Too many availability checks and submissions; try again later.",
    )


def _check_logged(actor, partner: Partner, identity: Identity, verdict: str, source: str) -> None:
    """The submission's verdict in the availability check log (committed with it)."""
    budget.check_log(actor, partner, budget.customer_key_hash(identity), verdict, source)


def _submit_locked(
    registration: DealRegistration,
    actor,
    *,
    created: bool = False,
    form: customfields.Form | None = None,
) -> DealRegistration:
    # Lock order everywhere: identity locks first, then the registration row (an opportunity
    # sync does the same), so a submission and a CRM sync never deadlock. The identity is read
    # before the row lock; if an edit changed it in between, lock the new one too. A row
    # created in this transaction is visible to no one else: its identity is the one in hand.
    identity = registration_identity(
        registration if created else DealRegistration.objects.get(pk=registration.pk)
    )
    lock_identity(identity)
    registration = _locked(registration)
    while registration_identity(registration) != identity:
        identity = registration_identity(registration)
        lock_identity(identity)
    action = "resubmit" if registration.status == lifecycle.INFO_REQUESTED else "submit"
    lifecycle.target_status(action, registration.status)
    policy = policy_current()
    form = form or customfields.form_current()
    _check_policy_rules(registration, policy, form)
    products = list(registration.products.select_related("product_line"))
    outcome = engine.check(
        identity,
        _product_lines(products),
        policy=_engine_policy(policy),
        partner_id=registration.partner_id,
        exclude=(RecordKind.REGISTRATION, registration.pk),
    )
    _check_logged(actor, registration.partner, identity, outcome.status, action)
    if outcome.duplicate_of is not None:
        raise DuplicateRegistration(
            gettext("Your company already has an active registration for this customer."),
            existing_id=outcome.duplicate_of,
        )
    now = timezone_now()
    message = conflict_message(outcome, policy)
    # Approval routing (issue 17 §4): a first submission lands assigned by the first matching
    # rule and learns whether it needs a second step; a resubmission keeps both, and its SLA
    # is the current step's.
    route = routing.route_on_submit(registration) if action == "submit" else {}
    rule = route.pop("_routing_rule", None)
    sla_days = routing.step_sla_days(registration, policy.sla_business_days)
    from_status, to_status = _transition(
        registration,
        action,
        updates={
            **route,
            "conflict_status": outcome.status,
            "conflict_message": message,
            "submitted_at": now,
            "first_submitted_at": registration.first_submitted_at or now,
            "sla_due_at": add_business_days(now, sla_days, _holidays(policy)),
            "policy_version": policy.version,
            # The custom-field form it was submitted with (its values were checked against it).
            "form_version": form.version or None,
        },
    )
    conflict_services.conflicts_record(
        registration_id=registration.pk,
        registration_partner_id=registration.partner_id,
        matches=outcome.matches,
        policy_version=policy.version,
    )
    _index_registration(registration, active=True, product_lines=_product_lines(products))
    _registration_event(
        registration,
        actor,
        EventAction.RESUBMITTED if action == "resubmit" else EventAction.SUBMITTED,
        from_status=from_status,
        to_status=to_status,
        details={"conflict_status": outcome.status},
        policy_version=policy.version,
    )
    if route and (rule is not None or registration.approval_steps > 1):
        # Internal (partners never see who reviews); the SUBMITTED event above already told
        # the assignee, so this one notifies nobody (deals.notifications.outbox).
        _registration_event(
            registration,
            None,
            EventAction.ASSIGNED,
            from_status=to_status,
            to_status=to_status,
            internal=True,
            policy_version=policy.version,
            details=routing.routed_event_details(registration, rule),
        )
    if outcome.matches:
        _registration_event(
            registration,
            None,
            EventAction.CONFLICT_DETECTED,
            from_status=to_status,
            to_status=to_status,
            internal=True,
            policy_version=policy.version,
            details={
                "conflict_status": outcome.status,
                "matches": [
                    {
                        "kind": m.kind,
                        "id": m.record_id,
                        "score": m.score,
                        "reasons": list(m.reasons),
                    }
                    for m in outcome.matches[:20]
                ],
            },
        )
    _maybe_auto_approve(registration, policy, outcome, form)
    return registration


def _decision_hours(registration: DealRegistration, now: dt.datetime, policy) -> float:
    """Time to decision for the reports: business hours since the first submission."""
    start = registration.first_submitted_at or now
    return round(business_hours_between(start, now, _holidays(policy)), 6)


def conflict_message(outcome: engine.Outcome, policy: RulesOfEngagement) -> str:
    """The partner-facing sentence: identical whoever the other party is (ISO-04)."""
    message = CONFLICT_MESSAGES[outcome.status]
    if outcome.status != "clear" and policy.reveal_conflict_kind and outcome.matches:
        message = message.rstrip(".") + REVEALED_KIND[outcome.matches[0].kind] + "."
    return message


def _maybe_auto_approve(registration, policy, outcome, form: customfields.Form) -> None:
    """Auto-approve a clear registration under its tier's ceiling, never one with an open
    conflict on either side (a resubmitted registration can be the earlier side of another's
    conflict)."""
    ceiling = registration.partner.tier.auto_approve_ceiling
    if (
        # A registration that needs a second approver is never approved by no one.
        registration.approval_steps <= 1
        and policy.auto_approve_enabled
        and ceiling is not None
        and outcome.status == "clear"
        and registration.estimated_value <= ceiling
        # Custom fields may condition it (e.g. "budget confirmed" must be yes).
        and customfields.auto_approve_allows(
            registration.custom, form.for_tier(registration.partner.tier_id)
        )
        and not open_conflicts_touching(registration.pk)
    ):
        _approve_locked(registration, None, policy=policy, auto=True)


def open_conflicts_touching(registration_id: int) -> list[Conflict]:
    """The open conflicts that involve the registration on either side."""
    return list(
        Conflict.objects.filter(
            touching(RecordKind.REGISTRATION, registration_id), status=Conflict.Status.OPEN
        ).order_by("id")
    )


def blocking_conflicts(registration: DealRegistration, *, now=None) -> list[Conflict]:
    """Open conflicts that forbid approving `registration`: against another partner's approved
    (unexpired) registration, or against an open direct opportunity (docs/product.md,
    "Protection is enforced")."""
    now = now or timezone_now()
    conflicts = open_conflicts_touching(registration.pk)
    other_registrations: dict[int, Conflict] = {}
    opportunities: dict[int, list[Conflict]] = {}
    for conflict in conflicts:
        if conflict.registration_id != registration.pk:
            other_registrations.setdefault(conflict.registration_id, conflict)
        elif conflict.kind == RecordKind.REGISTRATION:
            other_registrations.setdefault(conflict.other_id, conflict)
        else:
            opportunities.setdefault(conflict.other_id, []).append(conflict)
    blocking = []
    if other_registrations:
        protected = set(
            DealRegistration.objects.filter(
                pk__in=list(other_registrations),
                status=lifecycle.APPROVED,
                expires_at__gt=now,
            )
            .exclude(partner_id=registration.partner_id)
            .values_list("pk", flat=True)
        )
        blocking += [c for pk, c in other_registrations.items() if pk in protected]
    if opportunities:
        open_ids = set(
            DirectOpportunity.objects.filter(
                pk__in=list(opportunities), status=OpportunityStatus.OPEN
            ).values_list("pk", flat=True)
        )
        blocking += [c for pk, rows in opportunities.items() if pk in open_ids for c in rows]
    return sorted(blocking, key=lambda c: c.pk)


def registration_approve(
    *,
    registration: DealRegistration,
    actor,
    note: str = "",
    protection_days: int | None = None,
    override_reason: str = "",
) -> DealRegistration:
    """Approve: the protection window starts now (tier, else policy, unless overridden).

    Refused (StateConflict `unresolved_conflict` with the conflict ids) while the registration
    has an open conflict with another partner's approved registration or an open direct
    opportunity, unless `override_reason` says why: then an APPROVAL_OVERRIDE event records
    the reason and the conflicts before the approval."""
    _require_manager(actor)
    if protection_days is not None and not (1 <= int(protection_days) <= 3650):
        raise ValidationFailed(
            "Invalid protection days.", fields={"protection_days": ["Between 1 and 3650 days."]}
        )
    note = _clean_note(note, "note")
    override_reason = _clean_note(override_reason, "override_reason")
    with transaction.atomic(durable=True):
        registration = _locked_with_counterparts(registration)
        lifecycle.target_status("approve", registration.status)
        blocking = blocking_conflicts(registration)
        if blocking and not override_reason:
            raise StateConflict(
                "This registration has an unresolved conflict with a protected registration "
                "or a direct opportunity: resolve the conflict first, or approve with an "
                "override reason.",
                code="unresolved_conflict",
                conflict_ids=[c.pk for c in blocking],
            )
        policy = policy_current()
        routing.require_step_approver(actor, registration)
        if blocking:
            _registration_event(
                registration,
                actor,
                EventAction.APPROVAL_OVERRIDE,
                from_status=registration.status,
                to_status=registration.status,
                internal=True,
                policy_version=policy.version,
                details={
                    "override_reason": override_reason,
                    "conflicts": [c.pk for c in blocking],
                },
            )
        if not registration.is_last_step:
            return _step_approve_locked(registration, actor, policy=policy, note=note)
        return _approve_locked(
            registration,
            actor,
            policy=policy,
            note=note,
            protection_days=protection_days,
        )


def _step_approve_locked(registration, actor, *, policy, note=""):
    """Approve a step before the last: the next step's approver and SLA take over, one
    internal STEP_APPROVED event (its notification tells the next approver); the status stays
    `submitted` and no protection starts."""
    now = timezone_now()
    step = registration.approval_step
    updates = routing.step_advance_updates(registration, now=now)
    changed = DealRegistration.objects.filter(
        pk=registration.pk, status=lifecycle.SUBMITTED, approval_step=step
    ).update(**updates, updated_at=now)
    if changed != 1:
        raise InvalidTransition("The registration was changed by someone else; reload it.")
    for name, value in updates.items():
        setattr(registration, name, value)
    _registration_event(
        registration,
        actor,
        EventAction.STEP_APPROVED,
        from_status=registration.status,
        to_status=registration.status,
        internal=True,
        policy_version=policy.version,
        details={
            "step": step,
            "steps": registration.approval_steps,
            "note": note,
            "sla_due_at": registration.sla_due_at.isoformat(),
            "to": {
                "manager": registration.assigned_manager_id,
                "team": registration.assigned_team_id,
            },
        },
    )
    return registration


def _approve_locked(registration, actor, *, policy, note="", protection_days=None, auto=False):
    now = timezone_now()
    days = protection_days or protection_days_for(registration.partner, policy)
    line_ids = sorted({p.product_line_id for p in registration.products.all()})
    # Frozen here with the policy version: later tier or rule changes never change it.
    benefit = benefit_for(registration.partner, line_ids, policy)
    from_status, to_status = _transition(
        registration,
        "approve",
        updates={
            "benefit_kind": benefit.kind if benefit else "",
            "benefit_value": benefit.value if benefit else None,
            "benefit_currency": benefit.currency if benefit else "",
            "benefit_policy_version": benefit.policy_version if benefit else None,
            "approved_at": now,
            "expires_at": now + dt.timedelta(days=days),
            "decided_at": now,
            "decision_hours": _decision_hours(registration, now, policy),
            "decided_by": actor,
            "decision_note": note,
            "rejection_reason": "",
            "decision_policy_version": policy.version,
        },
    )
    _index_registration(registration, active=True)
    _registration_event(
        registration,
        actor,
        EventAction.AUTO_APPROVED if auto else EventAction.APPROVED,
        from_status=from_status,
        to_status=to_status,
        details={
            "protection_days": days,
            "expires_at": registration.expires_at.isoformat(),
            "note": note,
            "benefit": (
                {
                    "kind": benefit.kind,
                    "value": str(benefit.value),
                    "currency": benefit.currency or None,
                }
                if benefit
                else None
            ),
        },
        policy_version=policy.version,
    )
    return registration


def _clean_reason_and_note(reason: str, note: str, message: str) -> str:
    """A reason from the rejection list (rejections and revocations); the cleaned note, which
    `other` requires."""
    if reason not in RejectionReason.values:
        raise ValidationFailed(
            message, fields={"reason": [f"Choose one of: {', '.join(RejectionReason.values)}."]}
        )
    return _clean_note(note, "note", required=(reason == RejectionReason.OTHER))


def registration_reject(
    *, registration: DealRegistration, actor, reason: str, note: str = ""
) -> DealRegistration:
    """Reject with a reason from the fixed list; a note is required for `other`."""
    _require_manager(actor)
    note = _clean_reason_and_note(reason, note, "Choose a rejection reason.")
    with transaction.atomic(durable=True):
        registration = _locked_with_counterparts(registration)
        return _reject_locked(registration, actor, reason=reason, note=note)


def _reject_locked(registration, actor, *, reason, note="", details=None):
    policy = policy_current()
    now = timezone_now()
    from_status, to_status = _transition(
        registration,
        "reject",
        updates={
            "decided_at": now,
            "decision_hours": _decision_hours(registration, now, policy),
            "decided_by": actor,
            "rejection_reason": reason,
            "decision_note": note,
            "decision_policy_version": policy.version,
        },
    )
    _index_registration(registration, active=False)
    _registration_event(
        registration,
        actor,
        EventAction.REJECTED,
        from_status=from_status,
        to_status=to_status,
        details={"reason": reason, "note": note, **(details or {})},
        policy_version=policy.version,
    )
    _close_moot_conflicts(registration, actor)
    return registration


def registration_request_info(
    *, registration: DealRegistration, actor, message: str
) -> DealRegistration:
    """Ask the partner for more information; the SLA clock stops until they resubmit."""
    _require_manager(actor)
    message = _clean_note(message, "message", required=True)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        from_status, to_status = _transition(
            registration, "request_info", updates={"decision_note": message}
        )
        _registration_event(
            registration,
            actor,
            EventAction.INFO_REQUESTED,
            from_status=from_status,
            to_status=to_status,
            details={"message": message},
            policy_version=policy_current().version,
        )
    return registration


def registration_withdraw(*, registration: DealRegistration, actor) -> DealRegistration:
    """The partner withdraws an open registration; it stops protecting the customer.

    Withdrawing a draft is how a partner deletes it (the portal's "Delete draft"): the
    lifecycle has no other way out of a draft, the event chain keeps the record (the event's
    details say `deleted_draft`), and the portal's list leaves such drafts out."""
    _require_partner_user(actor, registration.partner)
    with transaction.atomic(durable=True):
        registration = _locked_with_counterparts(registration)
        was_draft = registration.status == lifecycle.DRAFT
        from_status, to_status = _transition(registration, "withdraw")
        _index_registration(registration, active=False)
        _registration_event(
            registration,
            actor,
            EventAction.WITHDRAWN,
            from_status=from_status,
            to_status=to_status,
            details={"deleted_draft": True} if was_draft else None,
        )
        _close_moot_conflicts(registration, actor)
        if registration.conflict_status in PROBE_VERDICTS:
            _withdrawals_after_conflict_flag(registration)
    return registration


def _withdrawals_after_conflict_flag(registration: DealRegistration) -> None:
    """After a withdrawal that followed a (potential) conflict: when the partner has withdrawn
    CONFLICT_WITHDRAWAL_ALERT_RATE such registrations within the period, tell its managers
    (once per partner and period, deals.notifications.outbox). Honest partners withdraw after
    a conflict now and then; a partner registering and withdrawing to learn verdicts does it
    again and again."""
    limit, window = ratelimit.parse_rate(settings.CONFLICT_WITHDRAWAL_ALERT_RATE)
    now = timezone_now()
    count = (
        selectors.withdrawals_after_conflict(now - dt.timedelta(seconds=window))
        .filter(partner_id=registration.partner_id)
        .values("pk")
        .distinct()
        .count()
    )
    if limit > 0 and count >= limit:
        withdrawals_flagged_notify(registration, count=count, window=window, now=now)


def registration_close_validate(*, outcome, close_date, actual_value, lost_reason=""):
    """The close's input rules (ValidationFailed, 400): won or lost, a close date not in the
    future, a non-negative value, a reason of at most 500 characters. Returns (date, value or
    None, reason). registration_close runs it; the portal runs it first to show a won close
    for confirmation."""
    errors = Errors()
    if outcome not in ("won", "lost"):
        errors.add("outcome", gettext("Choose won or lost."))
    closed_on = check_date(errors, "close_date", close_date)
    value = check_money(errors, "actual_value", actual_value, required=False)
    lost_reason = check_text(errors, "lost_reason", lost_reason, 500)
    if closed_on and closed_on > today() + dt.timedelta(days=1):
        errors.add("close_date", gettext("The close date cannot be in the future."))
    errors.raise_if_any()
    return closed_on, value, lost_reason


def registration_close(
    *,
    registration: DealRegistration,
    actor,
    outcome: str,
    close_date=None,
    actual_value=None,
    lost_reason: str = "",
) -> DealRegistration:
    """Report an approved registration as won or lost (partner or manager). A win reported
    after the protection lapsed (expired, or past `expires_at` before the sweep ran) is
    accepted and flagged `win_late` for the manager's review. Managers hear of every close;
    a win then waits for verification (deals.registrations.wins)."""
    if not is_manager(actor):
        _require_partner_user(actor, registration.partner)
    closed_on, value, lost_reason = registration_close_validate(
        outcome=outcome, close_date=close_date, actual_value=actual_value, lost_reason=lost_reason
    )
    with transaction.atomic(durable=True):
        registration = _locked_with_counterparts(registration)
        action = "close_won" if outcome == "won" else "close_lost"
        now = timezone_now()
        late = outcome == "won" and (
            registration.status == lifecycle.EXPIRED
            or (registration.expires_at is not None and registration.expires_at <= now)
        )
        from_status, to_status = _transition(
            registration,
            action,
            updates={
                "win_late": late,
                "outcome": outcome,
                "close_date": closed_on,
                "actual_value": value
                if value is not None
                else (registration.estimated_value if outcome == "won" else None),
                "lost_reason": lost_reason if outcome == "lost" else "",
                "closed_at": now,
            },
        )
        _index_registration(registration, active=False)
        _registration_event(
            registration,
            actor,
            EventAction.CLOSED_WON if outcome == "won" else EventAction.CLOSED_LOST,
            from_status=from_status,
            to_status=to_status,
            details={
                "actual_value": str(registration.actual_value)
                if registration.actual_value is not None
                else None,
                "close_date": closed_on.isoformat() if closed_on else None,
                "lost_reason": registration.lost_reason,
                **({"late": True} if late else {}),
            },
        )
        _close_moot_conflicts(registration, actor)
    return registration


def registration_expire(*, registration: DealRegistration, now=None) -> bool:
    """Expire one approved registration whose window has passed. Idempotent: returns False
    when it was not due or someone else (a concurrent sweep) already moved it."""
    now = now or timezone_now()
    with transaction.atomic():
        registration = _locked_with_counterparts(registration)
        if registration.status != lifecycle.APPROVED or registration.expires_at > now:
            return False
        try:
            from_status, to_status = _transition(registration, "expire")
        except InvalidTransition:
            return False
        _index_registration(registration, active=False)
        _registration_event(
            registration,
            None,
            EventAction.EXPIRED,
            from_status=from_status,
            to_status=to_status,
            details={"expires_at": cast(dt.datetime, registration.expires_at).isoformat()},
        )
        _close_moot_conflicts(registration, None)
    return True


# --- Revocation ---------------------------------------------------------------------------------


def registration_revoke(
    *, registration: DealRegistration, actor, reason: str, note: str = ""
) -> DealRegistration:
    """A manager ends an approved registration's protection at once (status `revoked`), with a
    reason from the rejection list (a note is required for `other`). The partner is told in
    neutral words; the index stops protecting the customer; its open conflicts close."""
    _require_manager(actor)
    note = _clean_reason_and_note(reason, note, "Choose a reason.")
    with transaction.atomic(durable=True):
        registration = _locked_with_counterparts(registration)
        return _revoke_locked(registration, actor, reason=reason, note=note)


def _revoke_locked(registration, actor, *, reason, note="", details=None):
    policy = policy_current()
    now = timezone_now()
    from_status, to_status = _transition(
        registration,
        "revoke",
        updates={
            "revoked_at": now,
            "rejection_reason": reason,
            "decision_note": note,
            "conflict_message": REVOKED_MESSAGE,
            "decision_policy_version": policy.version,
        },
    )
    _index_registration(registration, active=False)
    _registration_event(
        registration,
        actor,
        EventAction.REVOKED,
        from_status=from_status,
        to_status=to_status,
        details={"reason": reason, "note": note, **(details or {})},
        policy_version=policy.version,
    )
    _close_moot_conflicts(registration, actor)
    return registration


def _reject_or_revoke_locked(registration, actor, *, reason, note, details) -> str | None:
    """The losing registration of a resolution: rejected while it awaits a decision, revoked
    when approved; anything else (already final) is left alone. Returns what happened."""
    if lifecycle.can("reject", registration.status):
        _reject_locked(registration, actor, reason=reason, note=note, details=details)
        return "rejected"
    if lifecycle.can("revoke", registration.status):
        _revoke_locked(registration, actor, reason=reason, note=note, details=details)
        return "revoked"
    return None


# --- Moot conflicts -------------------------------------------------------------------------------


@system_context("moot conflicts")
def _close_moot_conflicts(registration: DealRegistration, actor) -> list[Conflict]:
    """`registration` left the active states: its open conflicts on either side close (status
    `closed`, never resolvable again), with an internal CONFLICT_CLOSED event on each record
    involved, and the other registrations' verdicts refreshed. Callers hold the row locks of
    the registration and its counterparts (_locked_with_counterparts)."""
    closed = conflict_services.conflicts_close_moot(registration_id=registration.pk)
    if not closed:
        return []
    by_record: dict[int, list[int]] = {registration.pk: [c.pk for c in closed]}
    for conflict in closed:
        for pk in _registration_sides(conflict):
            if pk != registration.pk:
                by_record.setdefault(pk, []).append(conflict.pk)
    others = {
        r.pk: r
        for r in DealRegistration.objects.filter(
            pk__in=[pk for pk in by_record if pk != registration.pk]
        )
    }
    for pk, conflict_ids in by_record.items():
        record = registration if pk == registration.pk else others.get(pk)
        if record is None:
            continue
        _registration_event(
            record,
            actor,
            EventAction.CONFLICT_CLOSED,
            from_status=record.status,
            to_status=record.status,
            internal=True,
            details={
                "conflicts": conflict_ids,
                "left": registration.pk,
                "left_status": registration.status,
            },
        )
        if record is not registration:
            _refresh_conflict_status(record, cleared_message=MOOT_CLEAR_MESSAGE)
    return closed


def _registration_sides(conflict: Conflict) -> list[int]:
    sides = [conflict.registration_id]
    if conflict.kind == RecordKind.REGISTRATION:
        sides.append(conflict.other_id)
    return sides


# --- Conflict resolution (the registration side) ------------------------------------------------


REJECT_ON_RESOLUTION: dict[str, str] = {
    Conflict.Resolution.FIRST_REGISTRATION_WINS: RejectionReason.PARTNER_REGISTRATION,
    Conflict.Resolution.DIRECT_WINS: RejectionReason.DIRECT_OPPORTUNITY,
    Conflict.Resolution.DUPLICATE: RejectionReason.DUPLICATE,
}


def conflict_resolve(
    *,
    conflict: Conflict,
    actor,
    resolution: str,
    note: str = "",
    co_sell: dict | None = None,
) -> Conflict:
    """Resolve an open conflict and carry out its effect on both records, as events, in every
    state of the losing registration (rejected while it awaits a decision, revoked when
    approved):

    - first_registration_wins: the later record wins. Between two registrations the later one
      (`registration_id`) loses (partner_registration); against a direct opportunity the
      registration loses when the opportunity came first (direct_opportunity), else the
      opportunity is marked partner-led as with partner_wins;
    - partner_wins: the registration goes on; a competing registration loses
      (partner_registration); a direct opportunity is marked partner-led and its rep is told;
    - direct_wins (direct opportunities only): the registration loses (direct_opportunity);
    - co_sell: both kept and linked; a co-sell agreement records who leads and the credits;
    - not_a_conflict: the pair is remembered and never flagged again;
    - duplicate: the registration loses (duplicate).

    A resolved or closed conflict → InvalidTransition (409 `invalid_transition`).
    """
    _require_manager(actor)
    if resolution not in Conflict.Resolution.values:
        raise ValidationFailed(
            "Choose a resolution.",
            fields={"resolution": [f"Choose one of: {', '.join(Conflict.Resolution.values)}."]},
        )
    if (
        resolution == Conflict.Resolution.DIRECT_WINS
        and conflict.kind != RecordKind.DIRECT_OPPORTUNITY
    ):
        raise ValidationFailed(
            "direct_wins applies to conflicts with a direct opportunity.",
            fields={"resolution": ["This conflict is not with a direct opportunity."]},
        )
    note = _clean_note(note, "note")
    terms = _co_sell_terms(co_sell) if resolution == Conflict.Resolution.CO_SELL else None
    if co_sell is not None and resolution != Conflict.Resolution.CO_SELL:
        raise ValidationFailed(
            "Co-sell terms go with the co_sell resolution.",
            fields={"co_sell": ["Only for the co_sell resolution."]},
        )
    with transaction.atomic(durable=True):
        # Both sides and the counterparts of their other open conflicts, which a losing
        # registration's exit closes (with an event on each record).
        sides = _registration_sides(conflict)
        locked = _locked_group(set(sides).union(*(_counterpart_ids(pk) for pk in sides)))
        registration = locked.get(conflict.registration_id)
        if registration is None:
            raise InvalidTransition("The registration of this conflict no longer exists.")
        other = locked.get(conflict.other_id) if conflict.kind == RecordKind.REGISTRATION else None
        conflict = conflict_services.conflict_mark_resolved(
            conflict=conflict, resolution=resolution, actor_id=actor.pk, note=note
        )
        opportunity = (
            DirectOpportunity.objects.select_for_update().filter(pk=conflict.other_id).first()
            if conflict.kind == RecordKind.DIRECT_OPPORTUNITY
            else None
        )
        loser, reason, partner_led = _resolution_effect(
            conflict, resolution, registration, other, opportunity
        )
        details = {
            "conflict": conflict.pk,
            "resolution": resolution,
            "note": note,
            "other_kind": conflict.kind,
            "other_id": conflict.other_id,
        }
        if terms is not None:
            confirmation = {
                "by": actor.email,
                "role": "manager",
                "at": timezone_now().isoformat(),
            }
            # A sales rep who proposed co-sell on this conflict confirmed it first.
            confirmations = [*co_sell_proposals([conflict.pk]).get(conflict.pk, []), confirmation]
            details["co_sell"] = {**terms, "confirmations": confirmations}
            CoSellAgreement.objects.create(
                conflict_id=conflict.pk,
                registration=registration,
                opportunity=opportunity,
                rep_email=(opportunity.owner_email.lower() if opportunity is not None else ""),
                confirmations=confirmations,
                **terms,
            )
        for record in (registration, other):
            if record is None:
                continue
            _registration_event(
                record,
                actor,
                EventAction.CONFLICT_RESOLVED,
                from_status=record.status,
                to_status=record.status,
                details={**details, "side": "later" if record is registration else "earlier"},
                internal=True,
            )
        if loser is not None and reason:
            _reject_or_revoke_locked(
                loser, actor, reason=reason, note=note, details={"conflict": conflict.pk}
            )
        if partner_led and opportunity is not None:
            DirectOpportunity.objects.filter(pk=opportunity.pk).update(
                partner_led=True, partner_led_registration=registration
            )
        if terms is not None:
            # The registration carries the co-sell flag (reports: co-sell won value); an
            # earlier registration on the other side is told the same sentence.
            DealRegistration.objects.filter(pk=registration.pk).update(co_sell=True)
        for record in (registration, other):
            if record is not None:
                _refresh_conflict_status(
                    record, cleared_message=CO_SELL_MESSAGE if terms else REVIEWED_CLEAR_MESSAGE
                )
    return conflict


def _resolution_effect(conflict, resolution, registration, other, opportunity):
    """(losing registration or None, its reason, whether the opportunity becomes
    partner-led)."""
    direct = conflict.kind == RecordKind.DIRECT_OPPORTUNITY
    if resolution == Conflict.Resolution.FIRST_REGISTRATION_WINS and direct:
        started = registration.first_submitted_at or registration.created_at
        if opportunity is not None and opportunity.created_at > started:
            return None, None, True  # the registration came first
        return registration, RejectionReason.DIRECT_OPPORTUNITY, False
    if resolution in REJECT_ON_RESOLUTION:
        return registration, REJECT_ON_RESOLUTION[resolution], False
    if resolution == Conflict.Resolution.PARTNER_WINS:
        if direct:
            return None, None, True
        return other, RejectionReason.PARTNER_REGISTRATION, False
    return None, None, False


CO_SELL_LEADS = ("partner", "direct")


def _co_sell_terms(raw) -> dict:
    """{"lead", "partner_credit_percent", "rep_credit_percent"}: comp neutral by default
    (100 % each); the lead is the partner unless said otherwise."""
    raw = {} if raw is None else raw
    errors = Errors()
    if not isinstance(raw, dict):
        errors.add("co_sell", "Send an object.")
        errors.raise_if_any()
    lead = raw.get("lead", "partner")
    if lead not in CO_SELL_LEADS:
        errors.add("co_sell.lead", "Choose partner or direct.")
    terms: dict = {"lead": lead}
    for name in ("partner_credit_percent", "rep_credit_percent"):
        value = raw.get(name, 100)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            errors.add(f"co_sell.{name}", "A whole number from 0 to 100.")
        terms[name] = value
    unknown = sorted(set(raw) - {"lead", "partner_credit_percent", "rep_credit_percent"})
    for name in unknown:
        errors.add(f"co_sell.{name}", "Unknown field.")
    errors.raise_if_any()
    return terms


def _refresh_conflict_status(
    registration: DealRegistration, *, cleared_message: str = REVIEWED_CLEAR_MESSAGE
) -> None:
    """The registration's partner-facing verdict reflects its remaining open conflicts (those
    raised by its own submission); a co-sold registration says so; a registration that no
    longer protects keeps what it was told."""
    registration.refresh_from_db(fields=["status", "conflict_status", "co_sell"])
    if registration.status not in lifecycle.PROTECTING_STATUSES:
        return
    open_severities = set(
        Conflict.objects.filter(
            registration_id=registration.pk, status=Conflict.Status.OPEN
        ).values_list("severity", flat=True)
    )
    if "conflict" in open_severities:
        verdict = "conflict"
    elif open_severities:
        verdict = "potential_conflict"
    else:
        verdict = "clear"
    if verdict != "clear":
        message = CONFLICT_MESSAGES[verdict]
    elif registration.co_sell:
        message = CO_SELL_MESSAGE
    else:
        message = cleared_message
    if verdict != registration.conflict_status or (
        verdict == "clear" and message == CO_SELL_MESSAGE
    ):
        DealRegistration.objects.filter(pk=registration.pk).update(
            conflict_status=verdict, conflict_message=message
        )
        registration.conflict_status = verdict
        registration.conflict_message = message


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
