"""Issue 17 §4, the second approval step: above a value threshold (per currency) or for chosen
product lines; "step 2 of 2" for managers and "In review" for partners; each step has its own
SLA and escalation; every step is an event; only the final approval starts protection."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from deals.models import (
    ApprovalTeam,
    DealRegistration,
    EventAction,
    Notification,
    SecondStepRule,
)
from deals.registrations.services import (
    registration_approve,
    registration_create,
    registration_reject,
)
from deals.registrations.sweeps import sla_escalate_due
from prm.exceptions import PermissionDeniedError
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def director(db):
    return factories.manager_user(email="director@vendor.example")


@pytest.fixture
def second_step(director):
    return SecondStepRule.objects.create(
        name="Sales director above 250k",
        thresholds={"USD": "250000.00", "EUR": "200000.00"},
        approver_manager=director,
        sla_business_days=3,
    )


def submit(actor, **overrides) -> DealRegistration:
    registration = registration_create(actor=actor, data=factories.registration_data(**overrides))
    return DealRegistration.objects.get(pk=registration.pk)


def test_below_the_threshold_one_step(alice, product, second_step):
    assert submit(alice, estimated_value="249999.99").approval_steps == 1


def test_the_threshold_is_per_currency(alice, product, second_step):
    assert submit(alice, estimated_value="250000.00").approval_steps == 2
    assert submit(alice, estimated_value="200000.00", currency="EUR").approval_steps == 2
    assert submit(alice, estimated_value="199999.00", currency="EUR").approval_steps == 1
    # A currency without a threshold never needs the second step by value.
    assert submit(alice, estimated_value="9000000.00", currency="GBP").approval_steps == 1


def test_chosen_product_lines_need_the_second_step(alice, product, other_line_product, director):
    rule = SecondStepRule.objects.create(name="ERP always", approver_manager=director)
    rule.product_lines.set([other_line_product.product_line])
    assert submit(alice, products=["erp-core"], estimated_value="10000.00").approval_steps == 2
    assert submit(alice, products=["crm-pro"], estimated_value="10000.00").approval_steps == 1


def test_step_one_records_an_event_and_starts_no_protection(
    alice, product, manager, director, second_step
):
    registration = submit(alice, estimated_value="300000.00")
    registration = registration_approve(registration=registration, actor=manager, note="ok")
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert (registration.approval_step, registration.approval_steps) == (2, 2)
    assert registration.approved_at is None and registration.expires_at is None
    assert registration.decided_at is None
    assert registration.assigned_manager_id == director.pk
    event = registration.events.get(action=EventAction.STEP_APPROVED)
    assert (event.internal, event.actor_id, event.details["step"]) == (True, manager.pk, 1)
    assert not registration.events.filter(action=EventAction.APPROVED).exists()


def test_only_the_final_approval_starts_protection(alice, product, manager, director, second_step):
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    registration = registration_approve(registration=registration, actor=director)
    registration.refresh_from_db()
    assert registration.status == "approved"
    assert registration.approved_at is not None and registration.expires_at is not None
    assert registration.decided_by_id == director.pk
    actions = list(registration.events.order_by("seq").values_list("action", flat=True))
    assert actions.index("step_approved") < actions.index("approved")
    assert actions.count("approved") == 1


def test_step_two_is_the_second_approvers_not_the_first(
    alice, product, manager, director, second_step
):
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    bystander = factories.manager_user(email="bystander@vendor.example")
    with pytest.raises(PermissionDeniedError, match="assigned approver"):
        registration_approve(registration=registration, actor=bystander)
    # Even reassigned to themselves, step 1's approver cannot approve step 2 (four eyes).
    from deals.registrations import routing

    routing.registration_assign(registration=registration, actor=manager, manager=manager)
    with pytest.raises(PermissionDeniedError):
        registration_approve(registration=registration, actor=manager)
    assert DealRegistration.objects.get(pk=registration.pk).status == "submitted"


def test_a_team_approves_the_second_step(alice, product, manager, director):
    team = ApprovalTeam.objects.create(name="Directors")
    team.members.add(director)
    SecondStepRule.objects.create(
        name="Directors", thresholds={"USD": "1000.00"}, approver_team=team
    )
    registration = submit(alice, estimated_value="5000.00")
    registration_approve(registration=registration, actor=manager)
    registration.refresh_from_db()
    assert (registration.assigned_team_id, registration.assigned_manager_id) == (team.pk, None)
    assert registration_approve(registration=registration, actor=director).status == "approved"


def test_step_two_can_still_be_rejected(alice, product, manager, director, second_step):
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    registration = registration_reject(
        registration=registration, actor=director, reason="not_qualified"
    )
    assert registration.status == "rejected"


def test_the_second_approver_is_notified(alice, product, manager, director, second_step):
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    notice = Notification.objects.get(
        registration=registration, kind="approval_needed", channel="in_app"
    )
    assert notice.recipient_id == director.pk
    assert "step 2 of 2" in notice.title
    # The partner hears nothing about the internal step.
    assert not Notification.objects.filter(
        registration=registration, recipient=alice, kind="approval_needed"
    ).exists()


def test_auto_approve_never_skips_the_second_step(alice, partner_a, product, director):
    partner_a.tier.auto_approve_ceiling = 1_000_000
    partner_a.tier.save()
    SecondStepRule.objects.create(
        name="All big", thresholds={"USD": "1000.00"}, approver_manager=director
    )
    registration = submit(alice, estimated_value="5000.00")
    assert registration.status == "submitted"


def test_each_step_has_its_own_sla_and_escalation(alice, product, manager, director, second_step):
    start = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    while start.weekday() != 0:  # a Monday: no weekend inside the windows
        start += dt.timedelta(days=1)
    with time_machine.travel(start, tick=False):
        registration = submit(alice, estimated_value="300000.00")
    registration.refresh_from_db()
    step_one_due = registration.sla_due_at
    assert step_one_due == start + dt.timedelta(days=2)  # the policy's 2 business days
    with time_machine.travel(step_one_due + dt.timedelta(hours=1), tick=False):
        assert sla_escalate_due() == 1
        registration_approve(registration=registration, actor=manager)
        approved_step_at = timezone.now()
    registration.refresh_from_db()
    # Step 2's own SLA (3 business days) starts when step 1 is approved (Wednesday + 3
    # business days = the next Monday).
    assert approved_step_at.weekday() == 2
    assert registration.sla_due_at == approved_step_at + dt.timedelta(days=5)
    with time_machine.travel(registration.sla_due_at + dt.timedelta(hours=1), tick=False):
        assert sla_escalate_due() == 1
        assert sla_escalate_due() == 0  # once per breach
    breaches = list(
        registration.events.filter(action=EventAction.SLA_BREACHED)
        .order_by("seq")
        .values_list("details", flat=True)
    )
    assert [(b["step"], b["steps"]) for b in breaches] == [(1, 2), (2, 2)]
    overdue = Notification.objects.filter(
        registration=registration, kind="sla_overdue", recipient=director, channel="in_app"
    )
    assert any("step 2 of 2" in n.title for n in overdue)


def test_managers_see_step_2_of_2_and_partners_in_review(
    client, alice, product, manager, director, second_step
):
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    from django.urls import reverse

    client.force_login(director)
    page = client.get(reverse("manage_registration", args=[registration.pk])).content.decode()
    assert "Step 2 of 2" in page
    # The managers' timeline says who approved step 1 and who approves next.
    assert "Step 1 of 2 approved; next approver: " in page
    client.force_login(alice)
    page = client.get(reverse("registration_detail", args=[registration.pk])).content.decode()
    assert "In review" in page
    assert "Step 2" not in page and "step 2" not in page
    assert director.email not in page
    listing = client.get(reverse("registration_list")).content.decode()
    assert "In review" in listing


def test_the_approved_webhook_fires_only_at_the_final_approval(
    alice, product, manager, director, second_step
):
    from integrations.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", events=["registration.approved"], secret="whsec_x"
    )
    registration = submit(alice, estimated_value="300000.00")
    registration_approve(registration=registration, actor=manager)
    assert not WebhookDelivery.objects.filter(event="registration.approved").exists()
    registration_approve(registration=registration, actor=director)
    assert WebhookDelivery.objects.filter(event="registration.approved").count() == 1


def test_bulk_approve_does_step_one_and_offers_step_two_only_to_its_approver(
    client, alice, product, manager, director, second_step
):
    from django.urls import reverse

    registration = submit(alice, estimated_value="300000.00")
    client.force_login(manager)
    response = client.post(reverse("manage_bulk_approve"), {"ids": [registration.pk]}, follow=True)
    assert "First approval step done for 1" in response.content.decode()
    registration.refresh_from_db()
    assert (registration.status, registration.approval_step) == ("submitted", 2)
    rows = client.get(reverse("manage_queue")).context["rows"]
    assert [r.approvable_now for r in rows if r.pk == registration.pk] == [False]
    client.force_login(director)
    rows = client.get(reverse("manage_queue")).context["rows"]
    assert [r.approvable_now for r in rows if r.pk == registration.pk] == [True]
    client.post(reverse("manage_bulk_approve"), {"ids": [registration.pk]})
    assert DealRegistration.objects.get(pk=registration.pk).status == "approved"
