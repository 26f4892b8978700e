"""Issue 17 §4 in a real browser: a registration above the second-step threshold is routed to a
team, a member claims it from "My team" and approves step 1 of 2; the partner sees "In review"
(no approver, no step); the sales director finds it under "Mine" as step 2 of 2 and gives the
final approval, which alone starts the protection."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from deals.models import (
    ApprovalTeam,
    DealRegistration,
    EventAction,
    RoutingRule,
    SecondStepRule,
)
from tests import factories
from tests.browser.test_deal_registration_journey import CSP_ERROR

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_registration_above_the_threshold_goes_through_two_approvers(
    open_session, partner_a, product
):
    partner_user = factories.partner_user(partner_a, email="paula@acme-resellers.example")
    reviewer = factories.manager_user(email="rita@vendor.example")
    reviewer.name = "Rita Reviewer"
    reviewer.save()
    director = factories.manager_user(email="dirk@vendor.example")
    director.name = "Dirk Director"
    director.save()
    team = ApprovalTeam.objects.create(name="Enterprise desk")
    team.members.add(reviewer)
    RoutingRule.objects.create(order=1, name="Everything", assign_team=team)
    SecondStepRule.objects.create(
        name="Sales director above 250k",
        thresholds={"USD": "250000.00"},
        approver_manager=director,
        sla_business_days=3,
    )
    registration = factories.make_registration(
        partner_user, customer_name="Colossal Dynamics", estimated_value="400000.00"
    )

    # Step 1: a team member claims it from "My team" and approves the first step.
    rita = open_session()
    rita.sign_in_as(reviewer)
    page = rita.page
    page.goto("/manage/")
    page.get_by_test_id("assigned-tab-team").click()
    row = page.get_by_test_id("queue-row").filter(has_text="Colossal Dynamics")
    expect(row).to_contain_text("Enterprise desk")
    expect(row.get_by_test_id("queue-step")).to_have_text("Step 1 of 2")
    rita.screenshot("17-queue-my-team")
    row.get_by_test_id("queue-claim").click()
    expect(page.locator("body")).to_contain_text("is yours to review")
    expect(page.get_by_test_id("assigned-tab-mine")).to_contain_text("1")
    page.get_by_test_id("queue-row").filter(has_text="Colossal Dynamics").get_by_role(
        "link", name="Colossal Dynamics"
    ).click()
    expect(page.get_by_test_id("approval-step")).to_have_text("Step 1 of 2")
    expect(page.get_by_test_id("assignee")).to_contain_text("Rita Reviewer")
    rita.screenshot("17-step-1-of-2")
    page.get_by_test_id("approve").click()
    expect(page.locator("body")).to_contain_text("Step 1 of 2 approved")
    expect(page.get_by_test_id("approval-step")).to_have_text("Step 2 of 2")
    expect(page.get_by_test_id("step-approver-only")).to_be_visible()
    registration.refresh_from_db()
    assert registration.status == "submitted" and registration.expires_at is None

    # The partner sees "In review", nothing of the steps or who approves.
    paula = open_session()
    paula.sign_in_as(partner_user)
    paula.page.goto(f"/registrations/{registration.pk}/")
    expect(paula.page.get_by_test_id("status")).to_have_text("In review")
    body = paula.page.locator("body").inner_text()
    assert "Dirk" not in body and "Rita" not in body and "Step" not in body

    # Step 2: the director finds it under "Mine" and gives the final approval.
    dirk = open_session()
    dirk.sign_in_as(director)
    page = dirk.page
    page.goto("/manage/?assigned=mine")
    row = page.get_by_test_id("queue-row").filter(has_text="Colossal Dynamics")
    expect(row.get_by_test_id("queue-step")).to_have_text("Step 2 of 2")
    expect(row.get_by_test_id("queue-assignee")).to_contain_text("Dirk Director")
    row.get_by_role("link", name="Colossal Dynamics").click()
    dirk.screenshot("17-step-2-of-2")
    page.get_by_test_id("approve").click()
    expect(page.locator("body")).to_contain_text("approved; protected until")

    registration.refresh_from_db()
    assert registration.status == "approved" and registration.expires_at is not None
    assert registration.decided_by_id == director.pk
    actions = list(
        DealRegistration.objects.get(pk=registration.pk)
        .events.order_by("seq")
        .values_list("action", "actor_id")
    )
    assert (EventAction.STEP_APPROVED, reviewer.pk) in actions
    assert (EventAction.APPROVED, director.pk) in actions

    paula.page.reload()
    expect(paula.page.get_by_test_id("status")).to_have_text("Approved")
    for session in (rita, paula, dirk):
        assert [t for t in session.console_errors if CSP_ERROR.search(t)] == []
