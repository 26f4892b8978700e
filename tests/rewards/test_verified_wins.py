"""Verified wins (issue 19, item 2): a partner's close as won goes to the manager for
verification; the CRM's closed-won verifies too; whichever comes first, recorded as an event.
A win reported after the protection lapsed is accepted and flagged late. Managers are told of
every close."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.models import Notification, RegistrationEvent
from deals.registrations import services
from prm.exceptions import InvalidTransition, StateConflict
from rewards.models import Accrual
from rewards.services import win_verify, win_verify_from_crm
from tests import factories
from tests.api.conftest import client_for


def test_managers_are_notified_of_every_close(alice, manager, product):
    won = factories.make_registration(alice, status="won", manager=manager)
    lost = factories.make_registration(alice, status="lost", manager=manager)
    for registration in (won, lost):
        assert Notification.objects.filter(
            registration=registration, recipient=manager, kind="registration_closed"
        ).exists()
    assert "Verify the win" in (
        Notification.objects.filter(registration=won, recipient=manager, kind="registration_closed")
        .first()
        .body
    )


def test_manager_verifies_a_win_through_the_api(alice, manager, product, gold_discount):
    registration = factories.make_registration(alice, status="won", manager=manager)
    response = client_for(manager).post(
        f"/api/v1/registrations/{registration.pk}/verify-win/", {}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["win_verified_at"] is not None
    accrual = Accrual.objects.get(registration=registration)
    assert (accrual.status, accrual.verification_source) == ("pending", "manager")
    event = RegistrationEvent.objects.filter(registration=registration).order_by("-seq").first()
    assert (event.action, event.details["source"]) == ("win_verified", "manager")
    assert Notification.objects.filter(
        registration=registration, recipient=alice, kind="win_verified"
    ).exists()


def test_a_second_verification_is_409(alice, manager, product):
    registration = factories.make_registration(alice, status="won", manager=manager)
    client = client_for(manager)
    url = f"/api/v1/registrations/{registration.pk}/verify-win/"
    assert client.post(url, {}, format="json").status_code == 200
    again = client.post(url, {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_verified"
    assert Accrual.objects.filter(registration=registration).count() == 1


@pytest.mark.parametrize("status", ["approved", "lost", "submitted"])
def test_only_a_won_registration_can_be_verified(status, alice, manager, product):
    registration = factories.make_registration(alice, status=status, manager=manager)
    response = client_for(manager).post(
        f"/api/v1/registrations/{registration.pk}/verify-win/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not Accrual.objects.exists()


def test_partners_cannot_verify_their_own_win(alice, bob, manager, product):
    registration = factories.make_registration(alice, status="won", manager=manager)
    url = f"/api/v1/registrations/{registration.pk}/verify-win/"
    assert client_for(alice).post(url, {}, format="json").status_code == 403
    assert client_for(bob).post(url, {}, format="json").status_code == 404


def test_the_crm_closed_won_verifies_an_open_registration(alice, manager, product, gold_discount):
    """An opportunity sync marking the deal won: the approved registration is closed as won
    with the CRM's value, and verified (source crm)."""
    registration = factories.make_registration(alice, status="approved", manager=manager)
    integration = factories.manager_user(email="crm-sync@vendor.example", mfa=False)
    accrual = win_verify_from_crm(
        registration=registration,
        actor=integration,
        actual_value="80000.00",
        close_date=timezone.now().date(),
        external_id="SF-0061",
    )
    registration.refresh_from_db()
    assert registration.status == "won"
    assert registration.win_verified_at is not None
    assert accrual.verification_source == "crm"
    assert accrual.amount == Decimal("9600.00")  # 12 % of 80,000.00
    event = RegistrationEvent.objects.get(registration=registration, action="win_verified")
    assert event.details == {
        "source": "crm",
        "actual_value": "80000.00",
        "late": False,
        "external_id": "SF-0061",
    }


def test_whichever_verification_comes_first_wins(alice, manager, product):
    registration = factories.make_registration(alice, status="won", manager=manager)
    first = win_verify(registration=registration, actor=manager)
    # The CRM's closed-won arrives later: idempotent, nothing new.
    again = win_verify_from_crm(registration=registration, actor=manager)
    assert again.pk == first.pk
    assert (
        RegistrationEvent.objects.filter(registration=registration, action="win_verified").count()
        == 1
    )
    with pytest.raises(StateConflict, match="already verified"):
        win_verify(registration=registration, actor=manager)


def test_a_win_reported_after_protection_lapsed_is_accepted_and_flagged_late(
    alice, manager, product
):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    assert services.registration_expire(
        registration=registration, now=timezone.now() + dt.timedelta(days=400)
    )
    response = client_for(alice).post(
        f"/api/v1/registrations/{registration.pk}/close/",
        {"outcome": "won", "close_date": timezone.now().date().isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "won"
    registration.refresh_from_db()
    assert registration.win_late is True
    manager_view = client_for(manager).get(f"/api/v1/registrations/{registration.pk}/").json()
    assert manager_view["win_late"] is True
    accrual = win_verify(registration=registration, actor=manager)
    assert accrual.late is True


def test_an_expired_registration_cannot_be_closed_as_lost(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    services.registration_expire(
        registration=registration, now=timezone.now() + dt.timedelta(days=400)
    )
    with pytest.raises(InvalidTransition):
        services.registration_close(
            registration=registration,
            actor=alice,
            outcome="lost",
            close_date=timezone.now().date().isoformat(),
        )


def test_a_win_within_protection_is_not_late(alice, manager, product):
    registration = factories.make_registration(alice, status="won", manager=manager)
    registration.refresh_from_db()
    assert registration.win_late is False


def test_an_opportunity_synced_as_won_verifies_its_co_sold_registration(
    alice, manager, product, gold_discount
):
    """The integrations layer's hook: after a CRM sync marks a direct opportunity won, the
    co-sold registration tied to it is closed won with the CRM's amount and verified, once."""
    from conflicts.models import Conflict
    from deals.opportunities.services import opportunity_upsert
    from deals.registrations.services import conflict_resolve
    from rewards.services import wins_verify_for_opportunity

    opportunity = factories.make_opportunity(
        account_name="Initech", account_domain="initech.com", amount="40000.00"
    )
    registration = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    conflict = Conflict.objects.get(registration_id=registration.pk)
    conflict_resolve(
        conflict=conflict,
        actor=manager,
        resolution="co_sell",
        co_sell={"lead": "partner", "partner_credit_percent": 50, "rep_credit_percent": 100},
    )
    services.registration_approve(registration=registration, actor=manager)
    opportunity, _ = opportunity_upsert(
        data={
            "external_id": opportunity.external_id,
            "account_name": "Initech",
            "account_domain": "initech.com",
            "country": "US",
            "amount": "40000.00",
            "currency": "USD",
            "status": "won",
            "close_date": timezone.now().date().isoformat(),
        }
    )
    crm = factories.manager_user(email="crm@vendor.example", mfa=False)
    [accrual] = wins_verify_for_opportunity(opportunity=opportunity, actor=crm)
    assert (accrual.verification_source, accrual.credit_percent) == ("crm", 50)
    assert accrual.amount == Decimal("2400.00")  # 40,000 × 12 % × 50 %
    assert [a.pk for a in wins_verify_for_opportunity(opportunity=opportunity, actor=crm)] == [
        accrual.pk
    ]
    registration.refresh_from_db()
    assert (registration.status, registration.actual_value) == ("won", Decimal("40000.00"))
