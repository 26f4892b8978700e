"""Rewards' writes: verifying a win (manager or CRM) with the accrual it creates, approving
accruals (one or many) and marking them paid.

The app sits above deals (pyproject.toml's layers): it calls deals' services and reads its
models; deals never imports it. Each service owns its transaction; the accrual's state moves by
compare-and-set on its status, and every move records an event on the registration's chain
(deals.events), so the partner's timeline and the audit export show it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from deals.events import event_record
from deals.models import BenefitKind, CoSellAgreement, DealRegistration, EventAction
from deals.permissions import _require_manager
from deals.registrations.services import registration_close
from deals.registrations.wins import registration_mark_win_verified
from partners.roles import is_manager
from prm.exceptions import InvalidTransition, PermissionDeniedError, StateConflict
from prm.lib.time import timezone_now
from prm.lib.validation import Errors, check_text
from rewards.models import Accrual, AccrualKind, AccrualStatus
from rewards.money import HUNDRED, format_money, round_money


@dataclass(frozen=True)
class Figures:
    kind: str
    basis: Decimal
    rate: Decimal
    credit_percent: int
    amount: Decimal
    currency: str


def accrual_figures(registration: DealRegistration, *, credit_percent: int = 100) -> Figures:
    """What a won registration earns: its frozen benefit applied to the won value.

    - discount_percent / percent_of_won: basis = won value, rate = the percentage, in the
      registration's currency;
    - fixed: basis = the fixed incentive, rate = 100, in the incentive's currency;
    - no benefit: basis = won value, rate 0, amount 0 (the verification still leaves its row);
    then × the partner's co-sell credit %, rounded once to the currency's minor units."""
    won = registration.actual_value or Decimal(0)
    value = registration.benefit_value or Decimal(0)
    kind = registration.benefit_kind or AccrualKind.NONE
    if kind == BenefitKind.FIXED:
        basis, rate, currency = value, HUNDRED, registration.benefit_currency
    elif kind in (BenefitKind.DISCOUNT_PERCENT, BenefitKind.PERCENT_OF_WON):
        basis, rate, currency = won, value, registration.currency
    else:
        basis, rate, currency = won, Decimal(0), registration.currency
    amount = round_money(basis * rate / HUNDRED * Decimal(credit_percent) / HUNDRED, currency)
    return Figures(kind, basis, rate, credit_percent, amount, currency)


def _partner_credit_percent(registration: DealRegistration) -> int:
    """The partner's credit under the registration's latest co-sell agreement (100 without)."""
    agreement = (
        CoSellAgreement.objects.filter(registration_id=registration.pk)
        .order_by("-created_at", "-id")
        .values_list("partner_credit_percent", flat=True)
        .first()
    )
    return 100 if agreement is None else int(agreement)


def win_verify(
    *, registration: DealRegistration, actor, source: str = "manager", details: dict | None = None
) -> Accrual:
    """Verify a won registration's win and create its accrual, in one transaction.

    Managers verify (`source="manager"`); the CRM's closed-won does too (`win_verify_from_crm`).
    Whichever comes first wins: a second verification is StateConflict `already_verified`
    (409), and two at once create exactly one accrual (the registration's row lock and the
    compare-and-set in deals.registrations.wins, backed by the accrual's unique registration)."""
    if source == "manager":
        _require_manager(actor)
    credit = _partner_credit_percent(registration)
    try:
        with transaction.atomic(durable=True):
            registration = registration_mark_win_verified(
                registration=registration, actor=actor, source=source, details=details
            )
            figures = accrual_figures(registration, credit_percent=credit)
            accrual = Accrual.objects.create(
                registration=registration,
                partner_id=registration.partner_id,
                kind=figures.kind,
                basis=figures.basis,
                rate=figures.rate,
                credit_percent=figures.credit_percent,
                amount=figures.amount,
                currency=figures.currency,
                policy_version=registration.benefit_policy_version,
                late=registration.win_late,
                verification_source=source,
                verified_by=actor,
            )
    except IntegrityError:
        # Only reachable if the compare-and-set were bypassed: the unique registration holds.
        raise StateConflict("This win was already verified.", code="already_verified") from None
    return accrual


def win_verify_from_crm(
    *,
    registration: DealRegistration,
    actor,
    actual_value=None,
    close_date: dt.date | str | None = None,
    external_id: str = "",
) -> Accrual:
    """The CRM's closed-won for a registration (called by the integrations layer when an
    opportunity sync marks the deal won). Idempotent: the accrual of an already verified win is
    returned unchanged.

    A registration the partner has not closed yet (approved, or expired: then flagged late) is
    first closed as won with the CRM's value and date, by `actor` (the integration account's
    user, manager role). Then the win is verified with source "crm"."""
    if not is_manager(actor):
        raise PermissionDeniedError("Only an integration or a manager can report a CRM win.")
    registration = DealRegistration.objects.get(pk=registration.pk)
    if registration.status in ("approved", "expired"):
        registration = registration_close(
            registration=registration,
            actor=actor,
            outcome="won",
            actual_value=actual_value,
            close_date=close_date or timezone_now().date().isoformat(),
        )
    existing = Accrual.objects.filter(registration_id=registration.pk).first()
    if existing is not None:
        return existing
    try:
        return win_verify(
            registration=registration,
            actor=actor,
            source="crm",
            details={"external_id": external_id} if external_id else None,
        )
    except StateConflict:
        return Accrual.objects.get(registration_id=registration.pk)


# --- Approving and paying -----------------------------------------------------------------------


def _move(accrual: Accrual, *, actor, expected: str, to: str, updates: dict, action: str, details):
    """Compare-and-set the accrual's status from `expected` to `to` and record the event on the
    registration's chain (under the registration's row lock, as every chain writer holds)."""
    registration = (
        DealRegistration.objects.select_for_update(of=("self",))
        .select_related("partner", "submitted_by")
        .get(pk=accrual.registration_id)
    )
    changed = Accrual.objects.filter(pk=accrual.pk, status=expected).update(status=to, **updates)
    if changed != 1:
        current = Accrual.objects.filter(pk=accrual.pk).values_list("status", flat=True).first()
        raise InvalidTransition(
            f"Only a {expected} accrual can be {'approved' if to == 'approved' else 'paid'} "
            f"(this one is {current})."
        )
    accrual.refresh_from_db()
    event_record(
        chain=f"r:{registration.pk}",
        registration=registration,
        actor=actor,
        action=action,
        from_status=registration.status,
        to_status=registration.status,
        details={
            "accrual": accrual.pk,
            "amount": format_money(accrual.amount, accrual.currency),
            "currency": accrual.currency,
            **details,
        },
    )
    return accrual


def accrual_approve(*, accrual: Accrual, actor) -> Accrual:
    """pending -> approved (managers). Anything else: InvalidTransition (409)."""
    _require_manager(actor)
    with transaction.atomic(durable=True):
        return _approve_one(accrual, actor, timezone_now())


def _approve_one(accrual: Accrual, actor, now) -> Accrual:
    return _move(
        accrual,
        actor=actor,
        expected=AccrualStatus.PENDING,
        to=AccrualStatus.APPROVED,
        updates={"approved_at": now, "approved_by": actor},
        action=EventAction.ACCRUAL_APPROVED,
        details={},
    )


def accruals_approve(*, accrual_ids, actor) -> int:
    """Approve many pending accruals at once (the managers' bulk action), in one transaction;
    those no longer pending are skipped. Returns how many were approved. Rows are taken in
    registration id order: the registrations' row locks are taken in the order every other
    multi-registration service takes them (deals: _locked_group), so no deadlock."""
    _require_manager(actor)
    approved = 0
    now = timezone_now()
    with transaction.atomic(durable=True):
        rows = Accrual.objects.filter(
            pk__in=list(accrual_ids), status=AccrualStatus.PENDING
        ).order_by("registration_id")
        for accrual in list(rows):
            try:
                _approve_one(accrual, actor, now)
            except InvalidTransition:
                continue
            approved += 1
    return approved


def accrual_mark_paid(*, accrual: Accrual, actor, reference) -> Accrual:
    """approved -> paid with the payout reference (required, up to 100 characters)."""
    _require_manager(actor)
    errors = Errors()
    reference = check_text(errors, "reference", reference, 100, required=True)
    errors.raise_if_any()
    with transaction.atomic(durable=True):
        return _move(
            accrual,
            actor=actor,
            expected=AccrualStatus.APPROVED,
            to=AccrualStatus.PAID,
            updates={"paid_at": timezone_now(), "paid_by": actor, "reference": reference},
            action=EventAction.ACCRUAL_PAID,
            details={"reference": reference},
        )


def wins_verify_for_opportunities(*, opportunities, actor) -> list[Accrual]:
    """wins_verify_for_opportunity for each won opportunity of the queryset `opportunities`
    that is tied to a registration (a co-sell agreement or a partner-led resolution): most won
    deals of a CRM sync are the vendor's alone, and are not read one by one."""
    tied = Q(partner_led_registration__isnull=False) | Q(co_sell_agreements__isnull=False)
    accruals = []
    for opportunity in opportunities.filter(status="won").filter(tied).distinct():
        accruals += wins_verify_for_opportunity(opportunity=opportunity, actor=actor)
    return accruals


def wins_verify_for_opportunity(*, opportunity, actor) -> list[Accrual]:
    """After a CRM sync marked `opportunity` won: verify the wins of the registrations tied to
    it — its co-sell agreements' registrations and the registration a `partner_wins` resolution
    made it partner-led for — each through `win_verify_from_crm` (idempotent, so a sync that
    runs twice verifies once). Registrations no longer approved, expired or won (withdrawn,
    lost, revoked…) are left alone. Returns the accruals of the verified wins."""
    if opportunity.status != "won":
        return []
    ids = set(
        CoSellAgreement.objects.filter(opportunity_id=opportunity.pk).values_list(
            "registration_id", flat=True
        )
    )
    if opportunity.partner_led_registration_id:
        ids.add(opportunity.partner_led_registration_id)
    accruals = []
    for registration in DealRegistration.objects.filter(
        pk__in=ids, status__in=("approved", "expired", "won")
    ).order_by("pk"):
        accruals.append(
            win_verify_from_crm(
                registration=registration,
                actor=actor,
                actual_value=opportunity.amount if registration.status != "won" else None,
                close_date=opportunity.close_date,
                external_id=opportunity.external_id,
            )
        )
    return accruals
