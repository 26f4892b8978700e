"""Every resolution's effect on both records and the events it writes (docs/product.md), and the
partner-visible message, identical for every kind of conflict (ISO-04)."""

from __future__ import annotations

import pytest

from conflicts.models import Conflict
from deals.models import DealRegistration, RegistrationEvent
from deals.registrations import services
from prm.exceptions import InvalidTransition, ValidationFailed
from tests import factories


@pytest.fixture
def pair(alice, bob, product):
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk, other_id=first.pk)
    return first, second, conflict


@pytest.fixture
def direct(bob, product):
    opportunity = factories.make_opportunity(
        account_name="Contoso Ltd", account_domain="contoso.com"
    )
    registration = factories.make_registration(
        bob, customer_name="Contoso", customer_domain="contoso.com"
    )
    conflict = Conflict.objects.get(registration_id=registration.pk, kind="direct_opportunity")
    return opportunity, registration, conflict


def actions(registration):
    return list(
        RegistrationEvent.objects.filter(registration=registration).values_list("action", flat=True)
    )


def test_first_registration_wins_rejects_the_later_one(pair, manager):
    first, second, conflict = pair
    services.conflict_resolve(
        conflict=conflict, actor=manager, resolution="first_registration_wins"
    )
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, second.rejection_reason) == ("rejected", "partner_registration")
    assert first.status == "submitted"
    assert actions(second)[-2:] == ["conflict_resolved", "rejected"]


def test_partner_wins_rejects_the_competing_registration(pair, manager):
    first, second, conflict = pair
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="partner_wins")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.rejection_reason) == ("rejected", "partner_registration")
    assert second.status == "submitted"
    assert second.conflict_status == "clear"


def test_direct_wins_rejects_with_direct_opportunity(direct, manager):
    _, registration, conflict = direct
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="direct_wins")
    registration.refresh_from_db()
    assert (registration.status, registration.rejection_reason) == (
        "rejected",
        "direct_opportunity",
    )


def test_direct_wins_only_applies_to_direct_conflicts(pair, manager):
    with pytest.raises(ValidationFailed):
        services.conflict_resolve(conflict=pair[2], actor=manager, resolution="direct_wins")


def test_co_sell_keeps_both_and_allows_approval(direct, manager):
    opportunity, registration, conflict = direct
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    registration.refresh_from_db()
    assert registration.co_sell is True
    assert registration.conflict_status == "clear"
    approved = services.registration_approve(registration=registration, actor=manager)
    assert approved.status == "approved"
    opportunity.refresh_from_db()
    assert opportunity.status == "open"  # the direct rep keeps the deal and its credit


def test_duplicate_rejects_with_duplicate(pair, manager):
    _, second, conflict = pair
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="duplicate")
    second.refresh_from_db()
    assert (second.status, second.rejection_reason) == ("rejected", "duplicate")


def test_not_a_conflict_clears_and_records_the_pair(pair, manager):
    _, second, conflict = pair
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="not_a_conflict")
    second.refresh_from_db()
    assert second.status == "submitted"
    assert second.conflict_status == "clear"


def test_a_conflict_is_resolved_once(pair, manager):
    """A resolved conflict → InvalidTransition (409 `invalid_transition`, API.md v1.1; it was
    StateConflict before the contract fixed the code)."""
    services.conflict_resolve(conflict=pair[2], actor=manager, resolution="co_sell")
    with pytest.raises(InvalidTransition):
        services.conflict_resolve(conflict=pair[2], actor=manager, resolution="duplicate")


def test_resolution_events_are_internal(pair, manager):
    _, second, conflict = pair
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell", note="agreed")
    event = RegistrationEvent.objects.get(registration=second, action="conflict_resolved")
    assert event.internal is True
    assert event.details["resolution"] == "co_sell"


def test_partner_message_is_identical_for_every_kind_of_conflict(alice, bob, product, partner_a):
    """ISO-04: against partner B, against partner C, against a direct opportunity."""
    carol = factories.partner_user(factories.PartnerFactory(name="Charlie Integrators"))
    messages = set()
    factories.make_registration(bob, customer_name="Tyrell Corp", customer_domain="tyrell.com")
    messages.add(
        factories.make_registration(
            alice, customer_name="Tyrell", customer_domain="tyrell.com"
        ).conflict_message
    )
    factories.make_registration(carol, customer_name="Oscorp", customer_domain="oscorp.com")
    messages.add(
        factories.make_registration(
            alice, customer_name="Oscorp", customer_domain="oscorp.com"
        ).conflict_message
    )
    factories.make_opportunity(account_name="Wayne Enterprises", account_domain="wayne.com")
    messages.add(
        factories.make_registration(
            alice, customer_name="Wayne", customer_domain="wayne.com"
        ).conflict_message
    )
    assert len(messages) == 1
    message = messages.pop()
    for secret in ("Bravo", "Charlie", "rep@vendor.example", "Wayne Enterprises", "CRM-"):
        assert secret not in message
    assert DealRegistration.objects.filter(conflict_status="conflict").count() == 3
