"""Every write the business does on registrations, opportunities and the policy.

Each service takes keyword arguments and an actor, owns its transaction, changes status only
through the lifecycle table with compare-and-set on the current status, writes exactly one
event per change (hash-chained), and writes notifications into the outbox in the same
transaction (deals.notifications), to be delivered after commit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from conflicts import engine
from conflicts import services as conflict_services
from conflicts.index import index_deactivate, index_upsert, lock_identity
from conflicts.models import Conflict, RecordKind
from conflicts.scoring import Identity
from deals import lifecycle, notifications
from deals.models import (
    ActivityEntry,
    ActivityKind,
    Comment,
    DealRegistration,
    DirectOpportunity,
    EventAction,
    ExtensionRequest,
    ExtensionStatus,
    OpportunityStatus,
    Product,
    RegistrationEvent,
    RejectionReason,
    RulesOfEngagement,
)
from deals.selectors import policy_current
from deals.validation import (
    REGISTRATION_TEXT_LIMITS,
    STAGES,
    Errors,
    check_country,
    check_currency,
    check_date,
    check_domain,
    check_email,
    check_money,
    check_text,
    today,
)
from partners.models import Partner
from partners.roles import is_manager, partner_of
from prm.exceptions import (
    DuplicateRegistration,
    InvalidTransition,
    PermissionDeniedError,
    StateConflict,
    ValidationFailed,
)
from prm.frozen import frozen_first, frozen_list_in
from prm.lib.time import add_business_days, business_hours_between, timezone_now

CONFLICT_MESSAGES = {
    "clear": "No other active registration or opportunity was found for this customer.",
    "potential_conflict": (
        "This customer may already be engaged. A channel manager will review your registration."
    ),
    "conflict": (
        "This customer is already engaged. A channel manager will review your registration."
    ),
}
REVEALED_KIND = {
    RecordKind.DIRECT_OPPORTUNITY: " (with the vendor's direct sales team)",
    RecordKind.REGISTRATION: " (with another partner registration)",
}
PARTNER_EDITABLE_FIELDS = (
    "customer_name",
    "customer_domain",
    "customer_country",
    "customer_address",
    "contact_name",
    "contact_email",
    "contact_phone",
    "products",
    "estimated_value",
    "currency",
    "expected_close_date",
    "stage",
    "description",
    "competitors",
)


# --- Events -------------------------------------------------------------------------------------


def _actor_label(actor) -> str:
    return actor.email if actor is not None else "system"


def event_record(
    *,
    chain: str,
    registration: DealRegistration | None,
    actor,
    action: str,
    from_status: str = "",
    to_status: str = "",
    details: dict | None = None,
    internal: bool = False,
    policy_version: int | None = None,
    notify: bool = True,
) -> RegistrationEvent:
    """Append one event to `chain`, hashed over its content and the previous event's hash.

    Callers hold the registration's row lock (CAS update or select_for_update), so two events
    of one chain are never written at once; the unique (chain, seq) backs that up.
    """
    last = frozen_first(
        ("event_chain_tail",),
        lambda chain: (
            RegistrationEvent.objects.filter(chain=chain).order_by("-seq").values("seq", "hash")[:1]
        ),
        {"chain": chain},
    )
    event = RegistrationEvent(
        chain=chain,
        seq=(last["seq"] + 1) if last else 1,
        registration=registration,
        at=timezone_now(),
        actor=actor,
        actor_label=_actor_label(actor),
        action=action,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
        internal=internal,
        policy_version=policy_version,
        prev_hash=last["hash"] if last else "",
    )
    event.hash = event.compute_hash()
    event.save()
    if notify:
        notifications.notifications_for_event(event)
    return event


def _registration_event(registration, actor, action, **kwargs) -> RegistrationEvent:
    return event_record(
        chain=f"r:{registration.pk}",
        registration=registration,
        actor=actor,
        action=action,
        **kwargs,
    )


def events_verify_chain(chain: str) -> list[str]:
    """Problems found in one chain (empty when it verifies)."""
    problems = []
    previous_hash = ""
    expected_seq = 1
    for event in RegistrationEvent.objects.filter(chain=chain).order_by("seq"):
        if event.seq != expected_seq:
            problems.append(f"{chain}: event seq {event.seq} where {expected_seq} was expected")
        if event.prev_hash != previous_hash:
            problems.append(f"{chain}#{event.seq}: previous-hash link broken")
        if event.compute_hash() != event.hash:
            problems.append(f"{chain}#{event.seq}: content does not match its hash")
        previous_hash = event.hash
        expected_seq = event.seq + 1
    return problems


def events_verify_all() -> tuple[int, list[str]]:
    chains = RegistrationEvent.objects.order_by("chain").values_list("chain", flat=True).distinct()
    problems: list[str] = []
    count = 0
    for chain in chains.iterator():
        count += 1
        problems.extend(events_verify_chain(chain))
    return count, problems


# --- Policy -------------------------------------------------------------------------------------

POLICY_FIELDS = (
    "protection_days",
    "extension_days",
    "max_extensions",
    "reminder_days",
    "sla_business_days",
    "holidays",
    "min_deal_values",
    "required_fields",
    "conflict_scope",
    "review_threshold",
    "certain_threshold",
    "direct_won_lookback_days",
    "reveal_conflict_kind",
    "auto_approve_enabled",
)


def policy_publish(*, actor, change_note: str = "", **changes: Any) -> RulesOfEngagement:
    """Create the next version of the rules of engagement from the current one plus `changes`.

    Versions are never edited, so any past decision can be replayed with the rules it used.
    """
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(
            "Unknown policy fields.", fields={k: ["Unknown field."] for k in unknown}
        )
    with transaction.atomic():
        current = policy_current()
        values = {name: getattr(current, name) for name in POLICY_FIELDS}
        values.update(changes)
        policy = RulesOfEngagement(
            version=current.version + 1, created_by=actor, change_note=change_note, **values
        )
        try:
            policy.full_clean(exclude=["version"])
        except Exception as exc:  # django ValidationError
            fields = getattr(exc, "message_dict", {"__all__": [str(exc)]})
            raise ValidationFailed("The policy is not valid.", fields=fields) from None
        policy.save()
        return policy


def _engine_policy(policy: RulesOfEngagement) -> engine.Policy:
    return engine.Policy(
        review=policy.review_threshold,
        certain=policy.certain_threshold,
        scope=policy.conflict_scope,
        version=policy.version,
    )


def protection_days_for(partner: Partner, policy: RulesOfEngagement) -> int:
    return partner.tier.protection_days or policy.protection_days


def max_extensions_for(partner: Partner, policy: RulesOfEngagement) -> int:
    tier_value = partner.tier.max_extensions
    return policy.max_extensions if tier_value is None else tier_value


# --- Validation of registration input -------------------------------------------------------------


def _clean_registration_fields(data: dict, *, partial: bool) -> tuple[dict, Errors]:
    """Types, formats and lengths. Policy rules (minimum value, required fields) are checked at
    submission by `_check_policy_rules`, because a draft may be incomplete."""
    errors = Errors()
    cleaned: dict[str, Any] = {}
    unknown = set(data) - set(PARTNER_EDITABLE_FIELDS) - {"draft"}
    for name in sorted(unknown):
        errors.add(name, "This field cannot be set.")

    def present(name):
        return name in data or not partial

    for name, limit in REGISTRATION_TEXT_LIMITS.items():
        if not present(name):
            continue
        if name == "contact_email":
            cleaned[name] = check_email(errors, name, data.get(name))
        elif name == "customer_domain":
            cleaned[name] = check_domain(errors, name, data.get(name))
        else:
            cleaned[name] = check_text(
                errors, name, data.get(name), limit, required=(name == "customer_name")
            )
    if present("customer_country"):
        cleaned["customer_country"] = check_country(
            errors, "customer_country", data.get("customer_country")
        )
    if present("currency"):
        cleaned["currency"] = check_currency(errors, "currency", data.get("currency"))
    if present("estimated_value"):
        cleaned["estimated_value"] = check_money(
            errors, "estimated_value", data.get("estimated_value")
        )
    if present("expected_close_date"):
        close = check_date(errors, "expected_close_date", data.get("expected_close_date"))
        if close is not None and close < today():
            errors.add("expected_close_date", "The expected close date cannot be in the past.")
        cleaned["expected_close_date"] = close
    if present("stage"):
        stage = data.get("stage") or "qualification"
        if stage not in STAGES:
            errors.add("stage", f"Choose one of: {', '.join(STAGES)}.")
        cleaned["stage"] = stage
    if present("products"):
        cleaned["products"] = _clean_products(errors, data.get("products"))
    return cleaned, errors


def _clean_products(errors: Errors, value) -> list[Product]:
    if value in (None, ""):
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        errors.add("products", "Send a list of product codes.")
        return []
    codes = []
    for item in value:
        code = item.code if isinstance(item, Product) else item
        if not isinstance(code, str) or "\x00" in code or len(code) > 40:
            errors.add("products", "Unknown product.")
            return []
        codes.append(code)
    products = _active_products(codes)
    missing = sorted(set(codes) - {p.code for p in products})
    if missing:
        errors.add("products", f"Unknown product: {', '.join(missing[:5])}.")
    return products


def _active_products(codes: list[str]) -> list[Product]:
    """Active products with these codes (their lines joined); compiled once per list length."""
    return frozen_list_in(
        ("active_products",),
        lambda codes: Product.objects.filter(code__in=codes, active=True).select_related(
            "product_line"
        ),
        codes,
        max_items=8,
    )


def _check_policy_rules(registration: DealRegistration, policy: RulesOfEngagement) -> None:
    """Rules that make a registration submittable: required fields, minimum value, dates."""
    _policy_errors(registration, policy, list(registration.products.all())).raise_if_any()


def _policy_errors(
    registration: DealRegistration, policy: RulesOfEngagement, products: list
) -> Errors:
    errors = Errors()
    for name in policy.required_fields or []:
        if name == "products":
            continue
        value = getattr(registration, name, None)
        if hasattr(registration, name) and value in (None, ""):
            errors.add(name, "This field is required.")
    if not products:
        errors.add("products", "Choose at least one product.")
    minimum = policy.min_deal_value(registration.currency) if registration.currency else None
    value = registration.estimated_value
    if minimum is not None and value is not None and value < minimum:
        errors.add(
            "estimated_value",
            f"The minimum deal value is {minimum:,.2f} {registration.currency}.",
        )
    if registration.expected_close_date and registration.expected_close_date < today():
        errors.add("expected_close_date", "The expected close date cannot be in the past.")
    return errors


def _apply(registration: DealRegistration, cleaned: dict) -> list[str]:
    changed = []
    for name, value in cleaned.items():
        if name == "products":
            continue
        if getattr(registration, name) != value:
            setattr(registration, name, value)
            changed.append(name)
    return changed


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


# --- Identity in the index --------------------------------------------------------------------


def registration_identity(registration: DealRegistration) -> Identity:
    return Identity.from_raw(
        name=registration.customer_name,
        domain=registration.customer_domain,
        email=registration.contact_email,
        country=registration.customer_country,
    )


def _product_lines(products) -> list[str]:
    return sorted({p.product_line.code for p in products})


def _index_registration(registration: DealRegistration, *, active: bool) -> None:
    if not active:
        index_deactivate(kind=RecordKind.REGISTRATION, record_id=registration.pk)
        return
    index_upsert(
        kind=RecordKind.REGISTRATION,
        record_id=registration.pk,
        partner_id=registration.partner_id,
        label=f"{registration.reference} · {registration.customer_name}",
        identity=registration_identity(registration),
        name_raw=registration.customer_name,
        product_lines=_product_lines(registration.products.select_related("product_line")),
        active=True,
        since=registration.first_submitted_at or registration.submitted_at or timezone_now(),
        active_until=registration.expires_at if registration.status == lifecycle.APPROVED else None,
    )


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
    locked = frozen_first(
        ("registration_locked",),
        lambda pk: (
            DealRegistration.objects.select_for_update(of=("self",))
            .select_related("partner", "partner__tier", "submitted_by")
            .filter(pk=pk)
            .order_by()[:1]
        ),
        {"pk": registration.pk},
    )
    if locked is None:
        raise DealRegistration.DoesNotExist(f"Registration {registration.pk} does not exist.")
    return locked


def registration_create(*, actor, data: dict, submit: bool = True) -> DealRegistration:
    """A partner user creates a registration for their company; submitted at once unless draft.

    A failed validation or a duplicate leaves nothing behind (one transaction)."""
    partner = _require_partner_user(actor)
    cleaned, errors = _clean_registration_fields(data, partial=False)
    if submit:
        # Report the policy's rules together with the field errors, in one answer.
        draft = DealRegistration(partner=partner, submitted_by=actor)
        _apply(draft, {k: v for k, v in cleaned.items() if k not in errors})
        for field, messages in _policy_errors(
            draft, policy_current(), cleaned.get("products") or []
        ).items():
            if field not in errors:
                errors[field] = messages
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        registration = DealRegistration(partner=partner, submitted_by=actor)
        _apply(registration, cleaned)
        registration.save()
        registration.reference = f"DR-{registration.created_at.year}-{registration.pk:06d}"
        DealRegistration.objects.filter(pk=registration.pk).update(reference=registration.reference)
        registration.products.set(cleaned.get("products") or [])
        _registration_event(
            registration,
            actor,
            EventAction.CREATED,
            to_status=lifecycle.DRAFT,
            details={"reference": registration.reference},
        )
        if submit:
            registration = _submit_locked(registration, actor)
    return registration


def registration_update(*, registration: DealRegistration, actor, data: dict) -> DealRegistration:
    """The owning partner edits a draft or a registration awaiting information."""
    _require_partner_user(actor, registration.partner)
    cleaned, errors = _clean_registration_fields(data, partial=True)
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
    _require_partner_user(actor, registration.partner)
    with transaction.atomic(durable=True):
        return _submit_locked(registration, actor)


def _submit_locked(registration: DealRegistration, actor) -> DealRegistration:
    # Lock order everywhere: identity locks first, then the registration row (an opportunity
    # sync does the same), so a submission and a CRM sync never deadlock. The identity is read
    # before the row lock; if an edit changed it in between, lock the new one too.
    identity = registration_identity(DealRegistration.objects.get(pk=registration.pk))
    lock_identity(identity)
    registration = _locked(registration)
    while registration_identity(registration) != identity:
        identity = registration_identity(registration)
        lock_identity(identity)
    action = "resubmit" if registration.status == lifecycle.INFO_REQUESTED else "submit"
    lifecycle.target_status(action, registration.status)
    policy = policy_current()
    _check_policy_rules(registration, policy)
    products = list(registration.products.select_related("product_line"))
    outcome = engine.check(
        identity,
        _product_lines(products),
        policy=_engine_policy(policy),
        partner_id=registration.partner_id,
        exclude=(RecordKind.REGISTRATION, registration.pk),
    )
    if outcome.duplicate_of is not None:
        raise DuplicateRegistration(
            "Your company already has an active registration for this customer.",
            existing_id=outcome.duplicate_of,
        )
    now = timezone_now()
    message = conflict_message(outcome, policy)
    from_status, to_status = _transition(
        registration,
        action,
        updates={
            "conflict_status": outcome.status,
            "conflict_message": message,
            "submitted_at": now,
            "first_submitted_at": registration.first_submitted_at or now,
            "sla_due_at": add_business_days(now, policy.sla_business_days, _holidays(policy)),
            "policy_version": policy.version,
        },
    )
    conflict_services.conflicts_record(
        registration_id=registration.pk,
        registration_partner_id=registration.partner_id,
        matches=outcome.matches,
        policy_version=policy.version,
    )
    _index_registration(registration, active=True)
    _registration_event(
        registration,
        actor,
        EventAction.RESUBMITTED if action == "resubmit" else EventAction.SUBMITTED,
        from_status=from_status,
        to_status=to_status,
        details={"conflict_status": outcome.status},
        policy_version=policy.version,
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
    _maybe_auto_approve(registration, policy, outcome)
    return registration


def _decision_hours(registration: DealRegistration, now: dt.datetime, policy) -> float:
    """Time to decision for the reports: business hours since the first submission."""
    start = registration.first_submitted_at or now
    return round(business_hours_between(start, now, _holidays(policy)), 6)


def _holidays(policy: RulesOfEngagement) -> list[dt.date]:
    days = []
    for value in policy.holidays or []:
        try:
            days.append(dt.date.fromisoformat(str(value)))
        except ValueError:
            continue
    return days


def conflict_message(outcome: engine.Outcome, policy: RulesOfEngagement) -> str:
    """The partner-facing sentence: identical whoever the other party is (ISO-04)."""
    message = CONFLICT_MESSAGES[outcome.status]
    if outcome.status != "clear" and policy.reveal_conflict_kind and outcome.matches:
        message = message.rstrip(".") + REVEALED_KIND[outcome.matches[0].kind] + "."
    return message


def _maybe_auto_approve(registration, policy, outcome) -> None:
    ceiling = registration.partner.tier.auto_approve_ceiling
    if (
        policy.auto_approve_enabled
        and ceiling is not None
        and outcome.status == "clear"
        and registration.estimated_value <= ceiling
    ):
        _approve_locked(registration, None, policy=policy, auto=True)


def registration_approve(
    *, registration: DealRegistration, actor, note: str = "", protection_days: int | None = None
) -> DealRegistration:
    """Approve: the protection window starts now (tier, else policy, unless overridden)."""
    _require_manager(actor)
    if protection_days is not None and not (1 <= int(protection_days) <= 3650):
        raise ValidationFailed(
            "Invalid protection days.", fields={"protection_days": ["Between 1 and 3650 days."]}
        )
    note = _clean_note(note, "note")
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        return _approve_locked(
            registration,
            actor,
            policy=policy_current(),
            note=note,
            protection_days=protection_days,
        )


def _approve_locked(registration, actor, *, policy, note="", protection_days=None, auto=False):
    now = timezone_now()
    days = protection_days or protection_days_for(registration.partner, policy)
    from_status, to_status = _transition(
        registration,
        "approve",
        updates={
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
        },
        policy_version=policy.version,
    )
    return registration


def _clean_note(value, field: str, *, required: bool = False, limit: int = 2000) -> str:
    errors = Errors()
    value = check_text(errors, field, value, limit, required=required)
    errors.raise_if_any()
    return value


def registration_reject(
    *, registration: DealRegistration, actor, reason: str, note: str = ""
) -> DealRegistration:
    """Reject with a reason from the fixed list; a note is required for `other`."""
    _require_manager(actor)
    if reason not in RejectionReason.values:
        raise ValidationFailed(
            "Choose a rejection reason.",
            fields={"reason": [f"Choose one of: {', '.join(RejectionReason.values)}."]},
        )
    note = _clean_note(note, "note", required=(reason == RejectionReason.OTHER))
    with transaction.atomic(durable=True):
        registration = _locked(registration)
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
    """The partner withdraws an open registration; it stops protecting the customer."""
    _require_partner_user(actor, registration.partner)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        from_status, to_status = _transition(registration, "withdraw")
        _index_registration(registration, active=False)
        _registration_event(
            registration, actor, EventAction.WITHDRAWN, from_status=from_status, to_status=to_status
        )
    return registration


def registration_close(
    *,
    registration: DealRegistration,
    actor,
    outcome: str,
    close_date=None,
    actual_value=None,
    lost_reason: str = "",
) -> DealRegistration:
    """Report an approved registration as won or lost (partner or manager)."""
    if not is_manager(actor):
        _require_partner_user(actor, registration.partner)
    errors = Errors()
    if outcome not in ("won", "lost"):
        errors.add("outcome", "Choose won or lost.")
    closed_on = check_date(errors, "close_date", close_date)
    value = check_money(errors, "actual_value", actual_value, required=False)
    lost_reason = check_text(errors, "lost_reason", lost_reason, 500)
    if closed_on and closed_on > today() + dt.timedelta(days=1):
        errors.add("close_date", "The close date cannot be in the future.")
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        action = "close_won" if outcome == "won" else "close_lost"
        from_status, to_status = _transition(
            registration,
            action,
            updates={
                "outcome": outcome,
                "close_date": closed_on,
                "actual_value": value
                if value is not None
                else (registration.estimated_value if outcome == "won" else None),
                "lost_reason": lost_reason if outcome == "lost" else "",
                "closed_at": timezone_now(),
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
            },
        )
    return registration


def registration_expire(*, registration: DealRegistration, now=None) -> bool:
    """Expire one approved registration whose window has passed. Idempotent: returns False
    when it was not due or someone else (a concurrent sweep) already moved it."""
    now = now or timezone_now()
    with transaction.atomic():
        registration = _locked(registration)
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
            details={"expires_at": registration.expires_at.isoformat()},
        )
    return True


def registrations_expire_due(*, now=None) -> int:
    """Expire every approved registration whose expires_at has passed (the periodic sweep)."""
    now = now or timezone_now()
    due = DealRegistration.objects.expiring_before(now).order_by("pk").values_list("pk", flat=True)
    expired = 0
    for pk in list(due):
        if registration_expire(registration=DealRegistration(pk=pk), now=now):
            expired += 1
    return expired


# --- Extensions -------------------------------------------------------------------------------


def extension_request_create(
    *, registration: DealRegistration, actor, reason: str
) -> ExtensionRequest:
    """A partner asks to extend an approved registration's protection."""
    _require_partner_user(actor, registration.partner)
    reason = _clean_note(reason, "reason", required=True)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status != lifecycle.APPROVED:
            raise InvalidTransition("Only approved registrations can be extended.")
        limit = max_extensions_for(registration.partner, policy_current())
        if registration.extensions_used >= limit:
            raise StateConflict(
                f"This registration has used its {limit} extension(s).",
                code="max_extensions_reached",
            )
        if registration.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
            raise StateConflict("An extension request is already pending.")
        try:
            with transaction.atomic():
                request = ExtensionRequest.objects.create(
                    registration=registration, requested_by=actor, reason=reason
                )
        except IntegrityError:
            raise StateConflict("An extension request is already pending.") from None
        _registration_event(
            registration,
            actor,
            EventAction.EXTENSION_REQUESTED,
            from_status=registration.status,
            to_status=registration.status,
            details={"extension_request": request.pk, "reason": reason},
        )
    return request


def extension_request_decide(
    *, request: ExtensionRequest, actor, approve: bool, note: str = ""
) -> ExtensionRequest:
    """Approve (moves expires_at by the policy's extension length) or reject a request."""
    _require_manager(actor)
    note = _clean_note(note, "note")
    with transaction.atomic(durable=True):
        registration = _locked(request.registration)
        request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != ExtensionStatus.PENDING:
            raise StateConflict("This extension request has already been decided.")
        policy = policy_current()
        now = timezone_now()
        updates = {"decided_by": actor, "decided_at": now, "decision_note": note}
        if approve:
            if registration.status != lifecycle.APPROVED:
                raise InvalidTransition("Only approved registrations can be extended.")
            limit = max_extensions_for(registration.partner, policy)
            new_expiry = registration.expires_at + dt.timedelta(days=policy.extension_days)
            changed = DealRegistration.objects.filter(
                pk=registration.pk, status=lifecycle.APPROVED, extensions_used__lt=limit
            ).update(
                expires_at=new_expiry,
                extensions_used=F("extensions_used") + 1,
                updated_at=now,
            )
            if not changed:
                raise StateConflict(f"This registration has used its {limit} extension(s).")
            updates.update(
                status=ExtensionStatus.APPROVED,
                previous_expires_at=registration.expires_at,
                new_expires_at=new_expiry,
            )
            registration.expires_at = new_expiry
            registration.extensions_used += 1
            _index_registration(registration, active=True)
        else:
            updates["status"] = ExtensionStatus.REJECTED
        ExtensionRequest.objects.filter(pk=request.pk, status=ExtensionStatus.PENDING).update(
            **updates
        )
        request.refresh_from_db()
        _registration_event(
            registration,
            actor,
            EventAction.EXTENSION_APPROVED if approve else EventAction.EXTENSION_REJECTED,
            from_status=registration.status,
            to_status=registration.status,
            details={
                "extension_request": request.pk,
                "note": note,
                "expires_at": registration.expires_at.isoformat(),
            },
            policy_version=policy.version,
        )
    return request


# --- Comments and activity ----------------------------------------------------------------------


def comment_create(
    *, registration: DealRegistration, actor, body: str, internal: bool = False
) -> Comment:
    """Add a comment. Internal notes are for managers only and never reach partners."""
    manager = is_manager(actor)
    if not manager:
        _require_partner_user(actor, registration.partner)
        if internal:
            raise PermissionDeniedError("Only channel managers can write internal notes.")
    body = _clean_note(body, "body", required=True, limit=5000)
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        comment = Comment.objects.create(
            registration=registration, author=actor, body=body, internal=bool(internal)
        )
        _registration_event(
            registration,
            actor,
            EventAction.INTERNAL_NOTE if internal else EventAction.COMMENTED,
            from_status=registration.status,
            to_status=registration.status,
            details={"comment": comment.pk},
            internal=bool(internal),
        )
    return comment


def activity_create(
    *, registration: DealRegistration, actor, kind: str, occurred_on, summary: str
) -> ActivityEntry:
    """The partner records work on the deal (meeting, demo, proposal...)."""
    _require_partner_user(actor, registration.partner)
    errors = Errors()
    if kind not in ActivityKind.values:
        errors.add("kind", f"Choose one of: {', '.join(ActivityKind.values)}.")
    day = check_date(errors, "occurred_on", occurred_on)
    if day and day > today() + dt.timedelta(days=1):
        errors.add("occurred_on", "The date cannot be in the future.")
    summary = check_text(errors, "summary", summary, 1000, required=True)
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        registration = _locked(registration)
        if registration.status in lifecycle.TERMINAL_STATUSES:
            raise InvalidTransition("Activity can only be logged on open registrations.")
        entry = ActivityEntry.objects.create(
            registration=registration, author=actor, kind=kind, occurred_on=day, summary=summary
        )
        _registration_event(
            registration,
            actor,
            EventAction.ACTIVITY_LOGGED,
            from_status=registration.status,
            to_status=registration.status,
            details={"activity": entry.pk, "kind": kind},
        )
    return entry


# --- Conflict resolution (the registration side) ------------------------------------------------


REJECT_ON_RESOLUTION = {
    Conflict.Resolution.FIRST_REGISTRATION_WINS: RejectionReason.PARTNER_REGISTRATION,
    Conflict.Resolution.DIRECT_WINS: RejectionReason.DIRECT_OPPORTUNITY,
    Conflict.Resolution.DUPLICATE: RejectionReason.DUPLICATE,
}


def conflict_resolve(*, conflict: Conflict, actor, resolution: str, note: str = "") -> Conflict:
    """Resolve a conflict and carry out its effect on the registrations, as events.

    - first_registration_wins: the later registration is rejected (partner_registration);
    - partner_wins: this registration goes on; a competing registration still awaiting a
      decision is rejected (partner_registration);
    - direct_wins: the registration is rejected (direct_opportunity);
    - co_sell: both kept and linked, the registration can be approved, the rep keeps credit;
    - not_a_conflict: the pair never flags again;
    - duplicate: the registration is rejected (duplicate).
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
    with transaction.atomic(durable=True):
        registration = _locked(DealRegistration(pk=conflict.registration_id))
        conflict = conflict_services.conflict_mark_resolved(
            conflict=conflict, resolution=resolution, actor_id=actor.pk, note=note
        )
        details = {
            "conflict": conflict.pk,
            "resolution": resolution,
            "note": note,
            "other_kind": conflict.kind,
            "other_id": conflict.other_id,
        }
        _registration_event(
            registration,
            actor,
            EventAction.CONFLICT_RESOLVED,
            from_status=registration.status,
            to_status=registration.status,
            details=details,
            internal=True,
        )
        reject_reason = REJECT_ON_RESOLUTION.get(resolution)
        if reject_reason and lifecycle.can("reject", registration.status):
            _reject_locked(
                registration,
                actor,
                reason=reject_reason,
                note=note,
                details={"conflict": conflict.pk},
            )
        elif (
            resolution == Conflict.Resolution.PARTNER_WINS
            and conflict.kind == RecordKind.REGISTRATION
        ):
            other = DealRegistration.objects.filter(pk=conflict.other_id).first()
            if other is not None and lifecycle.can("reject", other.status):
                other = _locked(other)
                _reject_locked(
                    other,
                    actor,
                    reason=RejectionReason.PARTNER_REGISTRATION,
                    note=note,
                    details={"conflict": conflict.pk},
                )
        elif resolution == Conflict.Resolution.CO_SELL:
            DealRegistration.objects.filter(pk=registration.pk).update(co_sell=True)
            registration.co_sell = True
        _refresh_conflict_status(registration)
    return conflict


def _refresh_conflict_status(registration: DealRegistration) -> None:
    """After a resolution the registration's verdict reflects its remaining open conflicts."""
    registration.refresh_from_db(fields=["status", "conflict_status"])
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
    if verdict != registration.conflict_status:
        DealRegistration.objects.filter(pk=registration.pk).update(
            conflict_status=verdict,
            conflict_message=CONFLICT_MESSAGES[verdict]
            if verdict != "clear"
            else "A channel manager reviewed the overlap; no conflict remains.",
        )


# --- Direct opportunities -----------------------------------------------------------------------

OPPORTUNITY_FIELDS = (
    "external_id",
    "account_name",
    "account_domain",
    "country",
    "owner_email",
    "products",
    "amount",
    "currency",
    "stage",
    "close_date",
    "status",
)


def opportunity_clean(data: dict, *, partial: bool = False) -> tuple[dict, Errors]:
    """Validate one opportunity row (API, bulk, CSV and admin share this)."""
    errors = Errors()
    cleaned: dict[str, Any] = {}
    if not isinstance(data, dict):
        errors.add("non_field_errors", "Each row must be an object.")
        return cleaned, errors
    for name in sorted(set(data) - set(OPPORTUNITY_FIELDS)):
        errors.add(name, "Unknown field.")

    def present(name):
        return name in data or not partial

    if present("external_id"):
        cleaned["external_id"] = check_text(
            errors, "external_id", data.get("external_id"), 100, required=True
        )
    if present("account_name"):
        cleaned["account_name"] = check_text(
            errors, "account_name", data.get("account_name"), 200, required=True
        )
    if present("account_domain"):
        cleaned["account_domain"] = check_domain(
            errors, "account_domain", data.get("account_domain")
        )
    if present("country"):
        cleaned["country"] = check_country(errors, "country", data.get("country"))
    if present("owner_email"):
        cleaned["owner_email"] = check_email(errors, "owner_email", data.get("owner_email"))
    if present("amount"):
        cleaned["amount"] = check_money(errors, "amount", data.get("amount"))
    if present("currency"):
        cleaned["currency"] = check_currency(errors, "currency", data.get("currency"))
    if present("stage"):
        cleaned["stage"] = check_text(errors, "stage", data.get("stage"), 60)
    if present("close_date"):
        cleaned["close_date"] = check_date(
            errors, "close_date", data.get("close_date"), required=False
        )
    if present("status"):
        status = data.get("status") or OpportunityStatus.OPEN
        if status not in OpportunityStatus.values:
            errors.add("status", "Choose open, won or lost.")
        cleaned["status"] = status
    if present("products"):
        cleaned["products"] = _clean_products(errors, data.get("products") or [])
    return cleaned, errors


def _opportunity_identity(opportunity: DirectOpportunity) -> Identity:
    return Identity.from_raw(
        name=opportunity.account_name,
        domain=opportunity.account_domain,
        country=opportunity.country,
    )


def _index_opportunity(opportunity: DirectOpportunity, policy: RulesOfEngagement) -> None:
    """Open opportunities protect; won ones protect for the policy's look-back; lost don't."""
    active_until = None
    active = opportunity.status == OpportunityStatus.OPEN
    if opportunity.status == OpportunityStatus.WON:
        won_at = opportunity.won_at or timezone_now()
        active_until = won_at + dt.timedelta(days=policy.direct_won_lookback_days)
        active = active_until > timezone_now()
    if not active:
        index_deactivate(kind=RecordKind.DIRECT_OPPORTUNITY, record_id=opportunity.pk)
        return
    index_upsert(
        kind=RecordKind.DIRECT_OPPORTUNITY,
        record_id=opportunity.pk,
        partner_id=None,
        label=f"{opportunity.external_id} · {opportunity.account_name}",
        identity=_opportunity_identity(opportunity),
        name_raw=opportunity.account_name,
        product_lines=_product_lines(opportunity.products.select_related("product_line")),
        active=True,
        since=opportunity.created_at,
        active_until=active_until,
    )
    # A CRM sync that lands after a registration still creates the conflict, on the
    # registration's record, so a manager sees it (CONC-04).
    outcome = engine.check(
        _opportunity_identity(opportunity),
        _product_lines(opportunity.products.select_related("product_line")),
        policy=_engine_policy(policy),
        exclude=(RecordKind.DIRECT_OPPORTUNITY, opportunity.pk),
        kinds=[RecordKind.REGISTRATION],
    )
    for match in outcome.matches:
        already = Conflict.objects.filter(
            registration_id=match.record_id,
            kind=RecordKind.DIRECT_OPPORTUNITY,
            other_id=opportunity.pk,
        ).exists()
        conflict_services.conflicts_record(
            registration_id=match.record_id,
            registration_partner_id=match.partner_id,
            matches=[
                engine.Match(
                    kind=RecordKind.DIRECT_OPPORTUNITY,
                    record_id=opportunity.pk,
                    partner_id=None,
                    label=f"{opportunity.external_id} · {opportunity.account_name}",
                    score=match.score,
                    reasons=match.reasons,
                    severity=match.severity,
                    since=opportunity.created_at,
                )
            ],
            policy_version=policy.version,
        )
        if not already:
            # The sync landed after the registration: managers and the rep hear about it too.
            registration = _locked(DealRegistration(pk=match.record_id))
            _registration_event(
                registration,
                None,
                EventAction.CONFLICT_DETECTED,
                from_status=registration.status,
                to_status=registration.status,
                internal=True,
                policy_version=policy.version,
                details={
                    "conflict_status": match.severity,
                    "matches": [
                        {
                            "kind": RecordKind.DIRECT_OPPORTUNITY,
                            "id": opportunity.pk,
                            "score": match.score,
                            "reasons": list(match.reasons),
                        }
                    ],
                },
            )


def _opportunity_write(
    cleaned: dict, *, instance: DirectOpportunity | None, policy
) -> tuple[DirectOpportunity, bool]:
    lock_identity(
        Identity.from_raw(
            name=cleaned.get("account_name", instance.account_name if instance else ""),
            domain=cleaned.get("account_domain", instance.account_domain if instance else ""),
            country=cleaned.get("country", instance.country if instance else ""),
        )
    )
    created = instance is None
    opportunity = instance or DirectOpportunity()
    products = cleaned.pop("products", None)
    previous_status = None if created else opportunity.status
    for name, value in cleaned.items():
        setattr(opportunity, name, value)
    if opportunity.status == OpportunityStatus.WON and previous_status != OpportunityStatus.WON:
        opportunity.won_at = timezone_now()
    opportunity.save()
    if products is not None:
        opportunity.products.set(products)
    _index_opportunity(opportunity, policy)
    return opportunity, created


def opportunity_upsert(*, data: dict, actor=None) -> tuple[DirectOpportunity, bool]:
    """Create or update one direct opportunity by external_id."""
    cleaned, errors = opportunity_clean(data)
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        instance = (
            DirectOpportunity.objects.select_for_update()
            .filter(external_id=cleaned["external_id"])
            .first()
        )
        return _opportunity_write(cleaned, instance=instance, policy=policy_current())


def opportunity_update(
    *, opportunity: DirectOpportunity, data: dict, actor=None
) -> DirectOpportunity:
    cleaned, errors = opportunity_clean(data, partial=True)
    if "external_id" in cleaned and cleaned["external_id"] != opportunity.external_id:
        if DirectOpportunity.objects.filter(external_id=cleaned["external_id"]).exists():
            errors.add("external_id", "Another opportunity has this external id.")
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        instance = DirectOpportunity.objects.select_for_update().get(pk=opportunity.pk)
        opportunity, _ = _opportunity_write(cleaned, instance=instance, policy=policy_current())
    return opportunity


MAX_BULK_ROWS = 1000


def opportunities_bulk_upsert(
    *, rows: list, actor=None, max_rows: int = MAX_BULK_ROWS
) -> dict[str, int]:
    """Upsert up to `max_rows` (1,000 for the API) opportunities by external_id, all or
    nothing. Raises ValidationFailed(code invalid_rows) with per-row errors keyed by index."""
    if not isinstance(rows, list):
        raise ValidationFailed("Send a list of opportunities.", rows={})
    if len(rows) > max_rows:
        raise ValidationFailed(
            f"At most {max_rows} opportunities per call.",
            rows={str(max_rows): {"non_field_errors": ["Too many rows."]}},
        )
    row_errors: dict[str, dict] = {}
    cleaned_rows = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        cleaned, errors = opportunity_clean(row)
        external_id = cleaned.get("external_id")
        if external_id and external_id in seen:
            errors.add("external_id", f"Duplicate of row {seen[external_id]}.")
        elif external_id:
            seen[external_id] = index
        if errors:
            row_errors[str(index)] = dict(errors)
        cleaned_rows.append(cleaned)
    if row_errors:
        raise ValidationFailed("Some rows are not valid; nothing was written.", rows=row_errors)
    counts = {"created": 0, "updated": 0}
    with transaction.atomic(durable=True):
        policy = policy_current()
        existing = {
            o.external_id: o
            for o in DirectOpportunity.objects.select_for_update().filter(
                external_id__in=list(seen)
            )
        }
        for cleaned in cleaned_rows:
            _, created = _opportunity_write(
                cleaned, instance=existing.get(cleaned["external_id"]), policy=policy
            )
            counts["created" if created else "updated"] += 1
    return counts


def opportunity_delete(*, opportunity: DirectOpportunity, actor) -> None:
    """Delete an opportunity, leaving a snapshot event; conflicts that reference it keep their
    label so managers can still read them."""
    with transaction.atomic(durable=True):
        opportunity = DirectOpportunity.objects.select_for_update().get(pk=opportunity.pk)
        snapshot = {
            "external_id": opportunity.external_id,
            "account_name": opportunity.account_name,
            "account_domain": opportunity.account_domain,
            "country": opportunity.country,
            "owner_email": opportunity.owner_email,
            "amount": str(opportunity.amount),
            "currency": opportunity.currency,
            "status": opportunity.status,
            "products": list(opportunity.products.values_list("code", flat=True)),
        }
        event_record(
            chain=f"o:{opportunity.pk}",
            registration=None,
            actor=actor,
            action=EventAction.OPPORTUNITY_DELETED,
            details=snapshot,
            internal=True,
            notify=False,
        )
        from conflicts.index import index_remove

        index_remove(kind=RecordKind.DIRECT_OPPORTUNITY, record_id=opportunity.pk)
        opportunity.delete()


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- Catalog ------------------------------------------------------------------------------------


def product_create(
    *, actor, code: str, name: str, product_line: str, product_line_name: str = ""
) -> Product:
    """A manager adds a product; its product line is created when the code is new."""
    from deals.models import ProductLine

    _require_manager(actor)
    errors = Errors()
    code = check_text(errors, "code", code, 40, required=True)
    name = check_text(errors, "name", name, 120, required=True)
    line_code = check_text(errors, "product_line", product_line, 40, required=True)
    line_name = check_text(errors, "product_line_name", product_line_name, 100)
    if code and Product.objects.filter(code=code).exists():
        errors.add("code", "A product with this code already exists.")
    errors.raise_if_any()
    try:
        with transaction.atomic(durable=True):
            line, _ = ProductLine.objects.get_or_create(
                code=line_code,
                defaults={"name": line_name or line_code.replace("-", " ").title()},
            )
            return Product.objects.create(code=code, name=name, product_line=line)
    except IntegrityError:
        raise ValidationFailed(
            "A product with this code already exists.",
            fields={"code": ["A product with this code already exists."]},
        ) from None
