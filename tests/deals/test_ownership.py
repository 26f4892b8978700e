"""Issue 17 §3: owners and handover (services). Every registration has a partner-side owner
(the submitter by default); partner admins and managers reassign one or many, each change an
event; deactivating a user hands their open registrations over, so nothing is orphaned."""

from __future__ import annotations

import pytest

from deals.models import DealRegistration, EventAction, RegistrationEvent
from deals.registrations import ownership
from partners import services as partner_services
from prm.exceptions import PermissionDeniedError, StateConflict, ValidationFailed
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def carl(partner_a):
    return factories.partner_user(partner_a, email="carl@acme-resellers.example")


def _reassigned_events(registration):
    return list(
        RegistrationEvent.objects.filter(
            registration=registration, action=EventAction.REASSIGNED
        ).order_by("seq")
    )


def test_the_submitter_owns_a_new_registration(alice, product):
    registration = factories.make_registration(alice)
    assert registration.owner_id == alice.pk
    draft = factories.make_registration(alice, status="draft")
    assert DealRegistration.objects.get(pk=draft.pk).owner_id == alice.pk


def test_partner_admin_reassigns_and_the_change_is_one_event(alice, alice_admin, carl, product):
    registration = factories.make_registration(alice)
    ownership.registration_reassign(registration=registration, actor=alice_admin, owner_id=carl.pk)
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk
    (event,) = _reassigned_events(registration)
    assert event.actor_id == alice_admin.pk
    assert event.details["from"]["id"] == alice.pk
    assert event.details["to"]["id"] == carl.pk
    # The same owner again changes nothing and records nothing.
    ownership.registration_reassign(registration=registration, actor=alice_admin, owner_id=carl.pk)
    assert len(_reassigned_events(registration)) == 1


def test_a_manager_can_reassign(alice, carl, manager, product):
    registration = factories.make_registration(alice)
    ownership.registration_reassign(registration=registration, actor=manager, owner_id=carl.pk)
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk


def test_a_partner_member_cannot_reassign(alice, carl, product):
    registration = factories.make_registration(alice)
    with pytest.raises(PermissionDeniedError):
        ownership.registration_reassign(registration=registration, actor=alice, owner_id=carl.pk)
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_another_partners_admin_cannot_reassign(alice, bob_admin_b, product, carl):
    registration = factories.make_registration(alice)
    with pytest.raises(PermissionDeniedError):
        ownership.registration_reassign(
            registration=registration, actor=bob_admin_b, owner_id=carl.pk
        )


@pytest.fixture
def bob_admin_b(partner_b):
    return factories.partner_user(partner_b, role="admin", email="bea@bravo-solutions.example")


@pytest.mark.parametrize("who", ["other_partner", "inactive", "unknown", "manager"])
def test_the_new_owner_must_be_an_active_user_of_the_partner(
    who, alice, alice_admin, bob, carl, manager, product
):
    registration = factories.make_registration(alice)
    if who == "inactive":
        partner_services.partner_user_deactivate(
            actor=alice_admin, partner=registration.partner, user=carl
        )
    owner_id = {
        "other_partner": bob.pk,
        "inactive": carl.pk,
        "unknown": 10**12,
        "manager": manager.pk,
    }[who]
    with pytest.raises(ValidationFailed) as exc:
        ownership.registration_reassign(
            registration=registration, actor=alice_admin, owner_id=owner_id
        )
    assert "owner_id" in exc.value.fields
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk
    assert _reassigned_events(registration) == []


def test_bulk_reassign_is_all_or_nothing_per_partner(alice, alice_admin, bob, carl, product):
    mine = [factories.make_registration(alice) for _ in range(3)]
    assert ownership.registrations_reassign(registrations=mine, actor=alice_admin, owner_id=carl.pk)
    assert set(
        DealRegistration.objects.filter(pk__in=[r.pk for r in mine]).values_list(
            "owner_id", flat=True
        )
    ) == {carl.pk}
    foreign = factories.make_registration(bob)
    with pytest.raises(ValidationFailed):
        ownership.registrations_reassign(
            registrations=[mine[0], foreign], actor=alice_admin, owner_id=alice.pk
        )
    assert DealRegistration.objects.get(pk=mine[0].pk).owner_id == carl.pk


def test_deactivation_hands_open_registrations_to_the_chosen_colleague(
    alice, alice_admin, carl, manager, product
):
    open_ones = [
        factories.make_registration(alice),
        factories.make_registration(alice, status="approved", manager=manager),
        factories.make_registration(alice, status="draft"),
    ]
    closed = factories.make_registration(alice, status="rejected", manager=manager)
    partner_services.partner_user_deactivate(
        actor=alice_admin, partner=alice.membership.partner, user=alice, new_owner_id=carl.pk
    )
    for registration in open_ones:
        assert DealRegistration.objects.get(pk=registration.pk).owner_id == carl.pk
        (event,) = _reassigned_events(registration)
        assert event.details["reason"] == "user_deactivated"
    # A closed registration keeps its history as it was.
    assert DealRegistration.objects.get(pk=closed.pk).owner_id == alice.pk


def test_deactivation_without_a_choice_falls_back_to_a_partner_admin(
    alice, alice_admin, manager, product
):
    registration = factories.make_registration(alice)
    # A manager deactivates through the API: nobody named, so the company's admin takes over.
    partner_services.partner_user_deactivate(
        actor=manager, partner=alice.membership.partner, user=alice
    )
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice_admin.pk


def test_a_refused_handover_leaves_the_user_active(alice, alice_admin, bob, product):
    registration = factories.make_registration(alice)
    with pytest.raises(ValidationFailed):
        partner_services.partner_user_deactivate(
            actor=alice_admin, partner=alice.membership.partner, user=alice, new_owner_id=bob.pk
        )
    alice.refresh_from_db()
    assert alice.is_active
    assert DealRegistration.objects.get(pk=registration.pk).owner_id == alice.pk


def test_the_user_leaving_cannot_be_their_own_successor(alice, alice_admin, product):
    factories.make_registration(alice)
    with pytest.raises(ValidationFailed):
        partner_services.partner_user_deactivate(
            actor=alice_admin, partner=alice.membership.partner, user=alice, new_owner_id=alice.pk
        )
    alice.refresh_from_db()
    assert alice.is_active


def test_deactivating_yourself_is_still_refused(alice_admin):
    with pytest.raises(StateConflict):
        partner_services.partner_user_deactivate(
            actor=alice_admin, partner=alice_admin.membership.partner, user=alice_admin
        )


def test_watching_is_for_the_partners_users_and_idempotent(alice, carl, bob, manager, product):
    registration = factories.make_registration(alice)
    assert ownership.registration_watch(registration=registration, actor=carl) is True
    assert ownership.registration_watch(registration=registration, actor=carl) is False
    assert ownership.is_watching(carl, registration.pk)
    with pytest.raises(PermissionDeniedError):
        ownership.registration_watch(registration=registration, actor=bob)
    with pytest.raises(PermissionDeniedError):
        ownership.registration_watch(registration=registration, actor=manager)
    assert ownership.registration_unwatch(registration=registration, actor=carl) is True
    assert not ownership.is_watching(carl, registration.pk)
