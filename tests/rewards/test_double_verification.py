"""Two verifications of one win at the same moment (two managers, or a manager and the CRM's
closed-won): exactly one succeeds, exactly one accrual and one WIN_VERIFIED event exist, the
other gets StateConflict `already_verified`. Threads behind a barrier, each on its own
connection: on PostgreSQL the registration's row lock plus the compare-and-set on a null
win_verified_at (the accrual's unique registration behind both); on SQLite the write lock that
BEGIN IMMEDIATE takes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from deals.events import events_verify_chain
from deals.models import DealRegistration, RegistrationEvent
from deals.registrations import services
from prm.exceptions import StateConflict
from rewards.models import Accrual
from rewards.services import win_verify, win_verify_from_crm
from tests import factories
from tests.deals.test_concurrent_decisions import _race

ROUNDS = 4


@pytest.fixture
def people(transactional_db):
    factories.ProductFactory(code="crm-pro", product_line__code="crm")
    partner = factories.PartnerFactory(name="Winning Resellers")
    owner = factories.partner_user(partner, email="owner@winning-resellers.example")
    managers = [
        factories.manager_user(email=f"verifier{i}@vendor.example", mfa=False) for i in (1, 2)
    ]
    return owner, managers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_double_verification_creates_exactly_one_accrual(people, round_no):
    owner, (first, second) = people
    registration = factories.make_registration(
        owner,
        status="approved",
        manager=first,
        customer_name=f"Won Account {round_no}",
        customer_domain=f"won{round_no}.com",
    )
    services.registration_close(
        registration=registration,
        actor=owner,
        outcome="won",
        close_date=timezone.now().date().isoformat(),
    )
    if round_no % 2:
        other = lambda: win_verify_from_crm(  # noqa: E731
            registration=DealRegistration(pk=registration.pk), actor=second
        )
    else:
        other = lambda: win_verify(  # noqa: E731
            registration=DealRegistration(pk=registration.pk), actor=second
        )
    results = _race(
        lambda: win_verify(registration=DealRegistration(pk=registration.pk), actor=first),
        other,
    )
    assert Accrual.objects.filter(registration_id=registration.pk).count() == 1
    assert (
        RegistrationEvent.objects.filter(
            registration_id=registration.pk, action="win_verified"
        ).count()
        == 1
    )
    errors = [value for kind, value in results if kind == "error"]
    if round_no % 2:
        # The CRM path is idempotent: it answers the existing accrual instead of failing.
        assert len(errors) <= 1
    else:
        assert len(errors) == 1, results
    for error in errors:
        assert isinstance(error, StateConflict), repr(error)
    assert events_verify_chain(f"r:{registration.pk}") == []
