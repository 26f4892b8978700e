"""Two managers decide one registration at the same moment (approve ∥ reject): exactly one
succeeds, the other gets InvalidTransition, and exactly one decision event is written
(docs/reliability.md CONC-05). Threads behind a barrier, each on its own database connection; on
SQLite the test database is a file in WAL mode with BEGIN IMMEDIATE, on PostgreSQL the row
lock (select_for_update) plus compare-and-set on the status."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from deals.events import events_verify_chain
from deals.models import DealRegistration, RegistrationEvent
from deals.registrations import services
from deals.registrations.extensions import extension_request_create, extension_request_decide
from prm.exceptions import InvalidTransition, StateConflict
from tests import factories

ROUNDS = 5


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", call())
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not t.is_alive() for t in threads), "a decision hung"
    return results


@pytest.fixture
def people(transactional_db):
    factories.ProductFactory(code="crm-pro", product_line__code="crm")
    partner = factories.PartnerFactory(name="Racing Resellers")
    owner = factories.partner_user(partner, email="owner@racing-resellers.example")
    managers = [factories.manager_user(email=f"judge{i}@vendor.example", mfa=False) for i in (1, 2)]
    return owner, managers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", range(ROUNDS))
def test_approve_and_reject_at_once_exactly_one_wins(people, round_no):
    owner, (first, second) = people
    registration = factories.make_registration(
        owner,
        customer_name=f"Contested Account {round_no}",
        customer_domain=f"contested{round_no}.com",
    )
    assert registration.status == "submitted"

    results = _race(
        lambda: services.registration_approve(
            registration=DealRegistration(pk=registration.pk), actor=first
        ),
        lambda: services.registration_reject(
            registration=DealRegistration(pk=registration.pk), actor=second, reason="not_qualified"
        ),
    )

    outcomes = [kind for kind, _ in results]
    assert sorted(outcomes) == ["error", "ok"], results
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, InvalidTransition), repr(error)

    registration.refresh_from_db()
    winner = "approved" if results[0][0] == "ok" else "rejected"
    assert registration.status == winner
    decisions = RegistrationEvent.objects.filter(
        registration_id=registration.pk, action__in=["approved", "rejected"]
    )
    assert decisions.count() == 1
    assert decisions.get().action == winner
    assert events_verify_chain(f"r:{registration.pk}") == []


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_write_one_event(people):
    owner, (first, second) = people
    registration = factories.make_registration(
        owner, customer_name="Twice Approved", customer_domain="twice-approved.com"
    )
    results = _race(
        *(
            (
                lambda m=m: services.registration_approve(
                    registration=DealRegistration(pk=registration.pk), actor=m
                )
            )
            for m in (first, second)
        )
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    assert (
        RegistrationEvent.objects.filter(registration_id=registration.pk, action="approved").count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_two_extension_decisions_at_once_one_wins(people):
    owner, (first, second) = people
    registration = factories.make_registration(
        owner,
        status="approved",
        manager=first,
        customer_name="Extended Co",
        customer_domain="extended-co.com",
    )
    request = extension_request_create(
        registration=registration, actor=owner, reason="Signature slipped."
    )
    results = _race(
        lambda: extension_request_decide(request=request, actor=first, approve=True),
        lambda: extension_request_decide(request=request, actor=second, approve=False),
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, StateConflict | InvalidTransition), repr(error)
    decided = RegistrationEvent.objects.filter(
        registration_id=registration.pk,
        action__in=["extension_approved", "extension_rejected"],
    )
    assert decided.count() == 1
