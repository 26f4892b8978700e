"""Issue 17 §4, routing rules: ordered, first match wins, by the partner's channel manager,
customer country/region, product line and deal size, to a manager or a team; a registration
lands assigned (or unassigned when no rule matches); claim and reassign check permissions;
partners never see the internal assignment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from deals.models import ApprovalTeam, DealRegistration, EventAction, Notification, RoutingRule
from deals.registrations import routing
from deals.registrations.services import registration_create
from prm.exceptions import PermissionDeniedError, StateConflict
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def emea(db):
    return factories.manager_user(email="emea@vendor.example")


@pytest.fixture
def amer(db):
    return factories.manager_user(email="amer@vendor.example")


@pytest.fixture
def big_deals_team(emea, amer):
    team = ApprovalTeam.objects.create(name="Big deals")
    team.members.add(emea, amer)
    return team


def rule(order, *, lines=(), **fields) -> RoutingRule:
    r = RoutingRule.objects.create(order=order, name=f"rule {order}", **fields)
    if lines:
        r.product_lines.set(lines)
    return r


def submit(actor, **overrides) -> DealRegistration:
    registration = registration_create(actor=actor, data=factories.registration_data(**overrides))
    return DealRegistration.objects.get(pk=registration.pk)


def test_a_registration_no_rule_matches_lands_unassigned(alice, product):
    registration = submit(alice)
    assert registration.assigned_manager_id is None
    assert registration.assigned_team_id is None
    assert registration.approval_steps == 1
    # No routing event when nothing was routed (the history stays as it was).
    assert not registration.events.filter(action=EventAction.ASSIGNED).exists()


def test_routing_by_customer_country_region(alice, product, emea, amer):
    rule(10, countries=["DE", "AT", "CH"], assign_manager=emea)
    rule(20, countries=["US", "CA"], assign_manager=amer)
    assert submit(alice, customer_country="AT").assigned_manager_id == emea.pk
    assert submit(alice, customer_country="US").assigned_manager_id == amer.pk
    assert submit(alice, customer_country="FR").assigned_manager_id is None


def test_routing_first_match_wins_in_order(alice, product, emea, amer):
    rule(20, countries=["US"], assign_manager=amer)
    rule(10, assign_manager=emea)  # matches everything, and runs first
    assert submit(alice, customer_country="US").assigned_manager_id == emea.pk


def test_an_inactive_rule_is_skipped(alice, product, emea, amer):
    rule(10, active=False, assign_manager=emea)
    rule(20, assign_manager=amer)
    assert submit(alice).assigned_manager_id == amer.pk


def test_routing_by_the_partners_channel_manager(partner_a, alice, bob, product, emea, amer):
    partner_a.channel_manager = emea
    partner_a.save()
    rule(10, channel_manager=emea, assign_manager=amer)
    assert submit(alice).assigned_manager_id == amer.pk
    assert submit(bob).assigned_manager_id is None


def test_routing_by_product_line(alice, product, other_line_product, emea, amer):
    rule(10, lines=[other_line_product.product_line], assign_manager=emea)
    rule(20, assign_manager=amer)
    assert submit(alice, products=["erp-core"]).assigned_manager_id == emea.pk
    assert submit(alice, products=["crm-pro", "erp-core"]).assigned_manager_id == emea.pk
    assert submit(alice, products=["crm-pro"]).assigned_manager_id == amer.pk


def test_routing_by_deal_size_in_its_currency(alice, product, emea, amer, big_deals_team):
    rule(10, currency="USD", min_value=Decimal("100000"), assign_team=big_deals_team)
    rule(20, currency="USD", max_value=Decimal("99999.99"), assign_manager=emea)
    big = submit(alice, estimated_value="100000.00")
    assert (big.assigned_team_id, big.assigned_manager_id) == (big_deals_team.pk, None)
    assert submit(alice, estimated_value="99999.99").assigned_manager_id == emea.pk
    # Another currency matches neither range.
    euros = submit(alice, estimated_value="500000.00", currency="EUR")
    assert (euros.assigned_team_id, euros.assigned_manager_id) == (None, None)


def test_all_conditions_of_a_rule_must_hold(alice, product, other_line_product, emea):
    rule(
        10,
        countries=["DE"],
        lines=[other_line_product.product_line],
        currency="USD",
        min_value=Decimal("1000"),
        assign_manager=emea,
    )
    assert submit(alice, customer_country="DE", products=["erp-core"]).assigned_manager_id == (
        emea.pk
    )
    assert submit(alice, customer_country="DE", products=["crm-pro"]).assigned_manager_id is None
    assert submit(alice, customer_country="US", products=["erp-core"]).assigned_manager_id is None


def test_routing_records_one_internal_event(alice, product, emea):
    matched = rule(10, assign_manager=emea)
    registration = submit(alice)
    event = registration.events.get(action=EventAction.ASSIGNED)
    assert event.internal is True
    assert event.details["how"] == "routed"
    assert event.details["rule"] == matched.pk
    assert event.details["to"] == {"manager": emea.pk, "team": None}


def test_the_new_submission_notice_goes_to_the_assignee_not_all_managers(
    alice, product, emea, amer, manager
):
    rule(10, assign_manager=emea)
    registration = submit(alice)
    to = set(
        Notification.objects.filter(registration=registration, kind="submission_received")
        .exclude(recipient=alice)
        .values_list("recipient_id", flat=True)
    )
    assert to == {emea.pk}


def test_a_team_assignment_notifies_the_team_members(alice, product, emea, amer, big_deals_team):
    rule(10, assign_team=big_deals_team)
    registration = submit(alice)
    to = set(
        Notification.objects.filter(registration=registration, kind="submission_received")
        .exclude(recipient=alice)
        .values_list("recipient_id", flat=True)
    )
    assert to == {emea.pk, amer.pk}


def test_a_resubmission_keeps_the_assignment(alice, product, emea, amer):
    rule(10, assign_manager=emea)
    registration = submit(alice)
    from deals.registrations.services import registration_request_info, registration_submit

    registration_request_info(registration=registration, actor=amer, message="Which team?")
    RoutingRule.objects.all().delete()
    rule(10, assign_manager=amer)
    registration_submit(registration=DealRegistration.objects.get(pk=registration.pk), actor=alice)
    assert DealRegistration.objects.get(pk=registration.pk).assigned_manager_id == emea.pk


# --- Claim and reassign ---------------------------------------------------------------------------


def test_claim_takes_an_unassigned_registration(alice, product, emea):
    registration = submit(alice)
    routing.registration_claim(registration=registration, actor=emea)
    registration.refresh_from_db()
    assert registration.assigned_manager_id == emea.pk
    event = registration.events.get(action=EventAction.ASSIGNED)
    assert (event.internal, event.details["how"], event.actor_id) == (True, "claimed", emea.pk)


def test_claim_refuses_someone_elses_registration(alice, product, emea, amer):
    rule(10, assign_manager=emea)
    registration = submit(alice)
    with pytest.raises(StateConflict, match="assigned to someone else"):
        routing.registration_claim(registration=registration, actor=amer)


def test_only_team_members_claim_a_teams_registration(alice, product, big_deals_team, emea):
    rule(10, assign_team=big_deals_team)
    registration = submit(alice)
    outsider = factories.manager_user(email="outsider@vendor.example")
    with pytest.raises(PermissionDeniedError, match="team's members"):
        routing.registration_claim(registration=registration, actor=outsider)
    routing.registration_claim(registration=registration, actor=emea)
    registration.refresh_from_db()
    assert (registration.assigned_manager_id, registration.assigned_team_id) == (
        emea.pk,
        big_deals_team.pk,
    )


def test_partners_can_neither_claim_nor_reassign(alice, alice_admin, product, emea):
    registration = submit(alice)
    with pytest.raises(PermissionDeniedError):
        routing.registration_claim(registration=registration, actor=alice_admin)
    with pytest.raises(PermissionDeniedError):
        routing.registration_assign(registration=registration, actor=alice_admin, manager=emea)


def test_reassign_to_a_manager_notifies_them(alice, product, emea, amer):
    rule(10, assign_manager=emea)
    registration = submit(alice)
    routing.registration_assign(registration=registration, actor=emea, manager=amer)
    registration.refresh_from_db()
    assert registration.assigned_manager_id == amer.pk
    notice = Notification.objects.get(
        registration=registration, kind="approval_needed", channel="in_app"
    )
    assert notice.recipient_id == amer.pk
    assert "assigned to you" in notice.body


def test_reassign_refuses_a_partner_user_as_assignee(alice, bob, product, emea):
    registration = submit(alice)
    from prm.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed, match="channel manager"):
        routing.registration_assign(registration=registration, actor=emea, manager=bob)


def test_a_decided_registration_cannot_be_claimed(alice, product, emea):
    registration = factories.make_registration(alice, status="approved")
    from prm.exceptions import InvalidTransition

    with pytest.raises(InvalidTransition):
        routing.registration_claim(registration=registration, actor=emea)


def test_partners_never_see_the_assignment(alice, product, emea):
    rule(10, assign_manager=emea)
    registration = submit(alice)
    from deals.api.serializers import registration_representation

    partner_view = registration_representation(registration, manager=False)
    assert "approval" not in partner_view
    manager_view = registration_representation(registration, manager=True)
    assert manager_view["approval"] == {
        "step": 1,
        "steps": 1,
        "assigned_manager_id": emea.pk,
        "assigned_team_id": None,
    }
    assert not registration.events.visible_to_partner().filter(action="assigned").exists()


# --- The admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(factories.manager_user(email="root@vendor.example", superuser=True))
    return client


def test_the_admin_takes_rules_as_text_and_checks_them(admin_client, emea, product):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:deals_routingrule_add"),
        {
            "order": "5",
            "name": "DACH",
            "active": "on",
            "countries": "de, AT\nch",
            "currency": "EUR",
            "min_value": "1000",
            "max_value": "",
            "assign_manager": emea.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = RoutingRule.objects.get(name="DACH")
    assert created.countries == ["DE", "AT", "CH"]
    # Both assignees, an unknown country, a range without its currency: refused.
    team = ApprovalTeam.objects.create(name="T")
    response = admin_client.post(
        reverse("admin:deals_routingrule_add"),
        {
            "order": "6",
            "name": "Bad",
            "countries": "XX",
            "min_value": "5",
            "assign_manager": emea.pk,
            "assign_team": team.pk,
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a two-letter country code" in html
    assert "needs its currency" in html
    assert "exactly one" in html


def test_the_admin_takes_second_step_thresholds_per_currency(admin_client, emea):
    from django.urls import reverse

    from deals.models import SecondStepRule

    response = admin_client.post(
        reverse("admin:deals_secondsteprule_add"),
        {
            "order": "1",
            "name": "Director",
            "active": "on",
            "thresholds": "USD 250000\nEUR 200,000.00",
            "approver_manager": emea.pk,
            "sla_business_days": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SecondStepRule.objects.get(name="Director").thresholds == {
        "USD": "250000.00",
        "EUR": "200000.00",
    }


def test_an_assignee_who_lost_the_role_does_not_swallow_the_notice(
    partner_a, alice, product, emea, amer
):
    partner_a.channel_manager = amer
    partner_a.save()
    rule(10, assign_manager=emea)
    emea.user_permissions.clear()
    emea.is_staff = False
    emea.save()
    registration = submit(alice)
    to = set(
        Notification.objects.filter(registration=registration, kind="submission_received")
        .exclude(recipient=alice)
        .values_list("recipient_id", flat=True)
    )
    assert to == {amer.pk}
