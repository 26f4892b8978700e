"""Two managers act on the two sides of one conflict at the same moment (issue 14): exactly one
outcome, and never two approved registrations with an open conflict between them. Threads
behind a barrier on their own connections (tests/deals/test_concurrent_decisions.py): SQLite
serialises writers at BEGIN IMMEDIATE; PostgreSQL takes the row locks of both registrations
in id order (deals.registrations.services._locked_with_counterparts)."""

from __future__ import annotations

import pytest

from conflicts.models import Conflict
from deals.events import events_verify_chain
from deals.models import DealRegistration
from deals.registrations import services
from prm.exceptions import InvalidTransition, StateConflict
from tests import factories
from tests.deals.test_concurrent_decisions import _race

ROUNDS = 3


@pytest.fixture
def cast(transactional_db):
    factories.ProductFactory(code="crm-pro", product_line__code="crm")
    alice = factories.partner_user(
        factories.PartnerFactory(name="Race A"), email="a@race-a.example"
    )
    bob = factories.partner_user(factories.PartnerFactory(name="Race B"), email="b@race-b.example")
    managers = [factories.manager_user(email=f"m{i}@vendor.example", mfa=False) for i in (1, 2)]
    return alice, bob, managers


def _pair(alice, bob, round_no, *, approve_first=None):
    first = factories.make_registration(
        alice, customer_name=f"Contested Pair {round_no}", customer_domain=f"pair{round_no}.com"
    )
    if approve_first is not None:
        services.registration_approve(registration=first, actor=approve_first)
    second = factories.make_registration(
        bob, customer_name=f"Contested Pair {round_no} Inc", customer_domain=f"pair{round_no}.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk, other_id=first.pk)
    return first, second, conflict


def _no_approved_pair_with_an_open_conflict(first, second, conflict):
    first.refresh_from_db()
    second.refresh_from_db()
    conflict.refresh_from_db()
    both_approved = first.status == second.status == "approved"
    assert not (both_approved and conflict.status == "open"), (first.status, second.status)
    for registration in (first, second):
        assert events_verify_chain(f"r:{registration.pk}") == []


def _refused(value) -> bool:
    return isinstance(value, InvalidTransition | StateConflict)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_approving_both_sides_at_once_approves_one(cast, round_no):
    alice, bob, (m1, m2) = cast
    first, second, conflict = _pair(alice, bob, round_no)
    results = _race(
        lambda: services.registration_approve(registration=DealRegistration(pk=first.pk), actor=m1),
        lambda: services.registration_approve(
            registration=DealRegistration(pk=second.pk), actor=m2
        ),
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, StateConflict) and error.code == "unresolved_conflict", repr(error)
    _no_approved_pair_with_an_open_conflict(first, second, conflict)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_resolve_against_the_later_one_while_it_is_approved(cast, round_no):
    alice, bob, (m1, m2) = cast
    first, second, conflict = _pair(alice, bob, round_no, approve_first=m1)
    results = _race(
        lambda: services.conflict_resolve(
            conflict=Conflict.objects.get(pk=conflict.pk),
            actor=m1,
            resolution="first_registration_wins",
        ),
        lambda: services.registration_approve(
            registration=DealRegistration(pk=second.pk), actor=m2
        ),
    )
    assert results[0][0] == "ok", results
    assert results[1][0] == "error" and _refused(results[1][1]), results
    second.refresh_from_db()
    assert second.status == "rejected"
    _no_approved_pair_with_an_open_conflict(first, second, conflict)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_partner_wins_while_the_later_one_is_approved(cast, round_no):
    alice, bob, (m1, m2) = cast
    first, second, conflict = _pair(alice, bob, round_no, approve_first=m1)
    results = _race(
        lambda: services.conflict_resolve(
            conflict=Conflict.objects.get(pk=conflict.pk), actor=m1, resolution="partner_wins"
        ),
        lambda: services.registration_approve(
            registration=DealRegistration(pk=second.pk), actor=m2
        ),
    )
    assert results[0][0] == "ok", results
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "revoked"
    # The approval either came after the resolution (allowed) or before it (refused).
    assert (second.status == "approved") is (results[1][0] == "ok")
    if results[1][0] == "error":
        assert _refused(results[1][1]), results
    _no_approved_pair_with_an_open_conflict(first, second, conflict)
