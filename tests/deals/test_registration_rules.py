"""One test per lifecycle rule of docs/product.md, named after the rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from conflicts.models import Conflict
from deals.models import DealRegistration, ExtensionRequest, RegistrationEvent
from deals.policy import policy_publish
from deals.registrations import services
from deals.registrations.extensions import extension_request_create, extension_request_decide
from deals.registrations.sweeps import registrations_expire_due
from partners.models import Tier
from prm.exceptions import (
    DuplicateRegistration,
    InvalidTransition,
    PermissionDeniedError,
    StateConflict,
    ValidationFailed,
)
from tests import factories


def _tier(code="custom", **fields) -> Tier:
    return Tier.objects.create(code=code, name=code.title(), rank=9, **fields)


def _user_in_tier(tier: Tier, name="Tiered Partner"):
    partner = factories.PartnerFactory(name=name, tier=tier)
    return factories.partner_user(partner)


# --- Protection window ----------------------------------------------------------------------------


def test_protection_window_from_tier(manager, product):
    owner = _user_in_tier(_tier(protection_days=45))
    registration = factories.make_registration(owner, status="approved", manager=manager)
    assert registration.expires_at - registration.approved_at == dt.timedelta(days=45)
    event = RegistrationEvent.objects.get(registration=registration, action="approved")
    assert event.details["protection_days"] == 45


def test_protection_window_defaults_to_policy_when_tier_blank(manager, product):
    owner = _user_in_tier(_tier(protection_days=None))
    policy_publish(actor=manager, protection_days=70)
    registration = factories.make_registration(owner, status="approved", manager=manager)
    assert registration.expires_at - registration.approved_at == dt.timedelta(days=70)


def test_approve_protection_days_override(alice, manager, product):
    registration = factories.make_registration(alice)
    services.registration_approve(registration=registration, actor=manager, protection_days=10)
    registration.refresh_from_db()
    assert registration.status == "approved"
    assert registration.expires_at - registration.approved_at == dt.timedelta(days=10)
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_approve(
            registration=factories.make_registration(alice), actor=manager, protection_days=0
        )
    assert "protection_days" in excinfo.value.fields


# --- Extensions -----------------------------------------------------------------------------------


def test_max_extensions(manager, product):
    owner = _user_in_tier(_tier(max_extensions=1))
    registration = factories.make_registration(owner, status="approved", manager=manager)
    first = extension_request_create(
        registration=registration, actor=owner, reason="Signature moved to Q3."
    )
    extension_request_decide(request=first, actor=manager, approve=True)
    registration.refresh_from_db()
    assert registration.extensions_used == 1
    with pytest.raises(StateConflict) as excinfo:
        extension_request_create(
            registration=registration, actor=owner, reason="Once more, please."
        )
    assert excinfo.value.code == "max_extensions_reached"
    assert ExtensionRequest.objects.filter(registration=registration).count() == 1


def test_max_extensions_zero_in_tier_refuses_every_request(manager, product):
    owner = _user_in_tier(_tier(max_extensions=0))
    registration = factories.make_registration(owner, status="approved", manager=manager)
    with pytest.raises(StateConflict, match="0 extension"):
        extension_request_create(registration=registration, actor=owner, reason="Please.")


def test_extension_approval_moves_expires_at_by_extension_length(alice, manager, product):
    policy_publish(actor=manager, extension_days=21)
    registration = factories.make_registration(alice, status="approved", manager=manager)
    before = registration.expires_at
    request = extension_request_create(
        registration=registration, actor=alice, reason="Procurement delay."
    )
    extension_request_decide(request=request, actor=manager, approve=True, note="OK")
    registration.refresh_from_db()
    request.refresh_from_db()
    assert registration.expires_at == before + dt.timedelta(days=21)
    assert request.status == "approved"
    assert request.previous_expires_at == before
    assert request.new_expires_at == registration.expires_at


def test_extension_rejection_keeps_expires_at(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    before = registration.expires_at
    request = extension_request_create(
        registration=registration, actor=alice, reason="Procurement delay."
    )
    extension_request_decide(request=request, actor=manager, approve=False)
    registration.refresh_from_db()
    assert registration.expires_at == before
    assert registration.extensions_used == 0


def test_one_pending_extension_request_at_a_time(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    extension_request_create(registration=registration, actor=alice, reason="One.")
    with pytest.raises(StateConflict, match="pending"):
        extension_request_create(registration=registration, actor=alice, reason="Two.")


def test_extension_only_for_approved_registrations(alice, product):
    registration = factories.make_registration(alice)
    with pytest.raises(InvalidTransition):
        extension_request_create(registration=registration, actor=alice, reason="Early.")


# --- Decisions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "because", None, "OTHER"])
def test_reject_reason_required(reason, alice, manager, product):
    registration = factories.make_registration(alice)
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_reject(registration=registration, actor=manager, reason=reason)
    assert "reason" in excinfo.value.fields
    registration.refresh_from_db()
    assert registration.status == "submitted"


def test_reject_reason_from_fixed_list(alice, manager, product):
    reasons = [
        "duplicate",
        "direct_opportunity",
        "partner_registration",
        "insufficient_information",
        "not_qualified",
        "outside_territory",
        "below_minimum",
    ]
    for reason in reasons:
        registration = factories.make_registration(alice)
        services.registration_reject(
            registration=registration, actor=manager, reason=reason, note="Seen."
        )
        registration.refresh_from_db()
        assert (registration.status, registration.rejection_reason) == ("rejected", reason)
        assert registration.decision_note == "Seen."


def test_reject_note_required_for_other(alice, manager, product):
    registration = factories.make_registration(alice)
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_reject(registration=registration, actor=manager, reason="other")
    assert "note" in excinfo.value.fields
    registration.refresh_from_db()
    assert registration.status == "submitted"
    services.registration_reject(
        registration=registration, actor=manager, reason="other", note="Customer went direct."
    )
    registration.refresh_from_db()
    assert registration.status == "rejected"
    event = RegistrationEvent.objects.get(registration=registration, action="rejected")
    assert event.details["reason"] == "other"
    assert event.details["note"] == "Customer went direct."


def test_approve_sets_approved_at_and_expires_at(alice, manager, product):
    registration = factories.make_registration(alice)
    assert registration.approved_at is None and registration.expires_at is None
    services.registration_approve(registration=registration, actor=manager, note="Welcome")
    registration.refresh_from_db()
    assert registration.approved_at is not None
    assert registration.expires_at > registration.approved_at
    assert registration.decided_by == manager
    assert registration.decision_note == "Welcome"


def test_only_channel_managers_decide(alice, alice_admin, product):
    registration = factories.make_registration(alice)
    for actor in (alice, alice_admin):
        with pytest.raises(PermissionDeniedError):
            services.registration_approve(registration=registration, actor=actor)
        with pytest.raises(PermissionDeniedError):
            services.registration_reject(
                registration=registration, actor=actor, reason="not_qualified"
            )
        with pytest.raises(PermissionDeniedError):
            services.registration_request_info(registration=registration, actor=actor, message="?")


def test_request_info_message_required(alice, manager, product):
    registration = factories.make_registration(alice)
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_request_info(registration=registration, actor=manager, message="")
    assert "message" in excinfo.value.fields


# --- Resubmission ---------------------------------------------------------------------------------


def test_resubmit_reruns_validation(alice, manager, product):
    registration = factories.make_registration(alice, status="info_requested", manager=manager)
    # Drafts and registrations awaiting information may be edited into an incomplete state;
    # submitting them again runs the submission rules again.
    services.registration_update(
        registration=registration, actor=alice, data={"estimated_value": "100.00"}
    )
    events = RegistrationEvent.objects.filter(registration=registration).count()
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_submit(registration=registration, actor=alice)
    assert "estimated_value" in excinfo.value.fields
    registration.refresh_from_db()
    assert registration.status == "info_requested"
    assert RegistrationEvent.objects.filter(registration=registration).count() == events
    services.registration_update(
        registration=registration, actor=alice, data={"estimated_value": "90000.00"}
    )
    services.registration_submit(registration=registration, actor=alice)
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert RegistrationEvent.objects.filter(
        registration=registration, action="resubmitted"
    ).exists()


def test_resubmit_reruns_the_conflict_check(alice, manager, product):
    registration = factories.make_registration(
        alice,
        status="info_requested",
        manager=manager,
        customer_name="Quillfeather Analytics",
        customer_domain="quillfeather.com",
    )
    assert registration.conflict_status == "clear"
    factories.make_opportunity(
        account_name="Quillfeather Analytics Inc", account_domain="quillfeather.com"
    )
    services.registration_submit(registration=registration, actor=alice)
    registration.refresh_from_db()
    assert registration.conflict_status == "conflict"
    assert Conflict.objects.filter(
        registration_id=registration.pk, kind="direct_opportunity"
    ).exists()


def test_only_drafts_and_info_requested_are_editable(alice, manager, product):
    registration = factories.make_registration(alice)
    with pytest.raises(InvalidTransition):
        services.registration_update(
            registration=registration, actor=alice, data={"description": "More"}
        )


# --- Withdrawal -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("draft", True),
        ("submitted", True),
        ("info_requested", True),
        ("approved", True),
        ("rejected", False),
        ("withdrawn", False),
        ("won", False),
        ("lost", False),
    ],
)
def test_withdraw_only_from_open_states(status, allowed, alice, manager, product):
    registration = factories.make_registration(alice, status=status, manager=manager)
    if allowed:
        services.registration_withdraw(registration=registration, actor=alice)
        registration.refresh_from_db()
        assert registration.status == "withdrawn"
    else:
        with pytest.raises(InvalidTransition):
            services.registration_withdraw(registration=registration, actor=alice)
        registration.refresh_from_db()
        assert registration.status == status


def test_withdraw_only_by_the_owning_partner(alice, bob, manager, product):
    registration = factories.make_registration(alice)
    with pytest.raises(PermissionDeniedError):
        services.registration_withdraw(registration=registration, actor=bob)


# --- Protection and conflicts -----------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["rejected", "withdrawn", "expired"])
def test_expired_rejected_or_withdrawn_no_longer_protect(ending, alice, bob, manager, product):
    customer = {"customer_name": "Halvorsen Maritime", "customer_domain": "halvorsen-maritime.com"}
    first = factories.make_registration(
        alice,
        status="approved" if ending == "expired" else "submitted",
        manager=manager,
        **customer,
    )
    if ending == "rejected":
        services.registration_reject(registration=first, actor=manager, reason="not_qualified")
    elif ending == "withdrawn":
        services.registration_withdraw(registration=first, actor=alice)
    else:
        assert services.registration_expire(
            registration=first, now=timezone.now() + dt.timedelta(days=400)
        )
    second = factories.make_registration(bob, **customer)
    assert second.conflict_status == "clear"


def test_an_active_registration_protects_the_customer(alice, bob, product):
    customer = {"customer_name": "Halvorsen Maritime", "customer_domain": "halvorsen-maritime.com"}
    factories.make_registration(alice, **customer)
    second = factories.make_registration(bob, **customer)
    assert second.conflict_status == "conflict"


def test_same_partner_duplicate_is_refused(alice, product):
    first = factories.make_registration(
        alice, customer_name="Orvieto Foods", customer_domain="orvieto-foods.it"
    )
    count = DealRegistration.objects.count()
    with pytest.raises(DuplicateRegistration) as excinfo:
        factories.make_registration(
            alice, customer_name="ORVIETO FOODS S.p.A.", customer_domain="www.orvieto-foods.it"
        )
    assert excinfo.value.extra["existing_id"] == first.pk
    assert DealRegistration.objects.count() == count


def test_partner_sees_a_redacted_conflict_message(alice, bob, product):
    first = factories.make_registration(
        alice,
        customer_name="Brightwater Logistics",
        customer_domain="brightwater-logistics.com",
        estimated_value="777777.00",
    )
    second = factories.make_registration(
        bob, customer_name="Brightwater Logistics Ltd", customer_domain="brightwater-logistics.com"
    )
    assert second.conflict_status == "conflict"
    message = second.conflict_message
    assert "already engaged" in message
    for secret in ("Acme", alice.email, first.reference, "777"):
        assert secret not in message


# --- Auto-approve -----------------------------------------------------------------------------------


def test_auto_approve_below_tier_ceiling(manager, product):
    owner = _user_in_tier(_tier(auto_approve_ceiling=Decimal("50000.00"), protection_days=30))
    small = factories.make_registration(owner, estimated_value="20000.00")
    assert small.status == "approved"
    assert small.expires_at - small.approved_at == dt.timedelta(days=30)
    assert RegistrationEvent.objects.filter(registration=small, action="auto_approved").exists()
    large = factories.make_registration(owner, estimated_value="60000.00")
    assert large.status == "submitted"


def test_auto_approve_never_for_a_conflict(manager, bob, product):
    owner = _user_in_tier(_tier(auto_approve_ceiling=Decimal("50000.00")))
    customer = {"customer_name": "Kestrel Aviation", "customer_domain": "kestrel-aviation.com"}
    factories.make_registration(bob, **customer)
    registration = factories.make_registration(owner, estimated_value="20000.00", **customer)
    assert registration.conflict_status == "conflict"
    assert registration.status == "submitted"


def test_auto_approve_off_by_policy(manager, product):
    owner = _user_in_tier(_tier(auto_approve_ceiling=Decimal("50000.00")))
    policy_publish(actor=manager, auto_approve_enabled=False)
    registration = factories.make_registration(owner, estimated_value="20000.00")
    assert registration.status == "submitted"


def test_no_auto_approve_without_a_tier_ceiling(alice, product):
    registration = factories.make_registration(alice, estimated_value="6000.00")
    assert registration.status == "submitted"


# --- SLA and expiry ---------------------------------------------------------------------------------


def test_sla_counts_business_days(alice, product):
    friday = dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(friday, tick=False):
        registration = factories.make_registration(alice)
    # Two business days after a Friday is the Tuesday.
    assert registration.sla_due_at == dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


def test_overdue_after_the_sla(alice, product):
    registration = factories.make_registration(alice)
    assert registration.is_overdue is False
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        registration.refresh_from_db()
        assert registration.is_overdue is True


def test_expiry_sweep_expires_only_past_due(alice, manager, product):
    due = factories.make_registration(alice, status="approved", manager=manager)
    services.registration_approve(
        registration=factories.make_registration(alice), actor=manager, protection_days=300
    )
    later = timezone.now() + dt.timedelta(days=200)
    assert registrations_expire_due(now=later) == 1
    due.refresh_from_db()
    assert due.status == "expired"
    assert registrations_expire_due(now=later) == 0
    assert RegistrationEvent.objects.filter(registration=due, action="expired").count() == 1


# --- Close ------------------------------------------------------------------------------------------


def test_close_won_records_outcome_and_actual_value(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    services.registration_close(
        registration=registration,
        actor=alice,
        outcome="won",
        close_date=timezone.now().date().isoformat(),
        actual_value="99000.00",
    )
    registration.refresh_from_db()
    assert (registration.status, registration.outcome) == ("won", "won")
    assert registration.actual_value == Decimal("99000.00")


def test_close_date_cannot_be_in_the_future(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    with pytest.raises(ValidationFailed) as excinfo:
        services.registration_close(
            registration=registration,
            actor=alice,
            outcome="lost",
            close_date=(timezone.now().date() + dt.timedelta(days=10)).isoformat(),
        )
    assert "close_date" in excinfo.value.fields
