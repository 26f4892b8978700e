"""Issue 17 §4 in the manager workspace: the queue offers mine / my team / unassigned / all
with counts, claim (from the queue, a plain POST form) and reassign (from the review page);
delegation: a manager away routes their queue to a colleague for a period, in the workspace
too. Lists run a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from deals.models import ApprovalTeam, DealRegistration, Delegation, Notification, RoutingRule
from deals.registrations import routing
from deals.registrations.services import registration_approve, registration_create
from prm.exceptions import PermissionDeniedError, ValidationFailed
from tests import factories
from tests.portal.test_query_counts import assert_constant

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(db):
    return factories.manager_user(email="dana@vendor.example")


@pytest.fixture
def erik(db):
    return factories.manager_user(email="erik@vendor.example")


@pytest.fixture
def team(manager, dana):
    t = ApprovalTeam.objects.create(name="Enterprise")
    t.members.add(manager, dana)
    return t


def submit(actor, **overrides) -> DealRegistration:
    registration = registration_create(actor=actor, data=factories.registration_data(**overrides))
    return DealRegistration.objects.get(pk=registration.pk)


@pytest.fixture
def routed(alice, product, manager, dana, erik, team):
    """One registration each: mine (manager), dana's, the team's, erik's, unassigned."""
    RoutingRule.objects.create(order=1, name="DE", countries=["DE"], assign_manager=manager)
    RoutingRule.objects.create(order=2, name="FR", countries=["FR"], assign_manager=dana)
    RoutingRule.objects.create(order=3, name="IT", countries=["IT"], assign_team=team)
    RoutingRule.objects.create(order=4, name="ES", countries=["ES"], assign_manager=erik)
    return {
        country: submit(alice, customer_country=country, customer_name=f"Customer in {country}")
        for country in ("DE", "FR", "IT", "ES", "US")
    }


def queue_ids(client, **params) -> set[int]:
    response = client.get(reverse("manage_queue"), params)
    assert response.status_code == 200
    return {r.pk for r in response.context["rows"]}


def test_the_queue_offers_mine_team_unassigned_all_with_counts(client, manager, routed):
    client.force_login(manager)
    assert queue_ids(client, assigned="mine") == {routed["DE"].pk}
    assert queue_ids(client, assigned="team") == {routed["IT"].pk}
    assert queue_ids(client, assigned="unassigned") == {routed["US"].pk}
    assert queue_ids(client, assigned="all") == {r.pk for r in routed.values()}
    assert queue_ids(client) == {r.pk for r in routed.values()}  # all is the default
    response = client.get(reverse("manage_queue"))
    counts = {t["key"]: t["count"] for t in response.context["assignment_tabs"]}
    assert counts == {"mine": 1, "team": 1, "unassigned": 1, "all": 5}
    html = response.content.decode()
    assert 'data-testid="assigned-tab-mine"' in html
    assert client.get(reverse("manage_queue"), {"assigned": "everyone"}).status_code == 400


def test_a_claimed_team_item_leaves_my_team_for_mine(client, manager, routed):
    client.force_login(manager)
    html = client.get(reverse("manage_queue"), {"assigned": "team"}).content.decode()
    assert reverse("manage_claim", args=[routed["IT"].pk]) in html
    response = client.post(
        reverse("manage_claim", args=[routed["IT"].pk]), {"back": "queue"}, follow=True
    )
    assert response.status_code == 200
    assert "is yours to review" in response.content.decode()
    assert queue_ids(client, assigned="mine") == {routed["DE"].pk, routed["IT"].pk}
    assert queue_ids(client, assigned="team") == set()


def test_claim_needs_a_post_with_csrf(manager, routed):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    url = reverse("manage_claim", args=[routed["US"].pk])
    assert strict.get(url).status_code == 405
    assert strict.post(url).status_code == 403
    assert DealRegistration.objects.get(pk=routed["US"].pk).assigned_manager_id is None


def test_claiming_someone_elses_item_shows_a_message(client, manager, routed):
    client.force_login(manager)
    response = client.post(reverse("manage_claim", args=[routed["FR"].pk]), follow=True)
    assert "assigned to someone else" in response.content.decode()


def test_reassign_from_the_review_page(client, manager, erik, team, routed):
    client.force_login(manager)
    page = client.get(reverse("manage_registration", args=[routed["DE"].pk])).content.decode()
    assert 'id="assignee-select"' in page and f'value="m:{erik.pk}"' in page
    client.post(reverse("manage_assign", args=[routed["DE"].pk]), {"assignee": f"m:{erik.pk}"})
    assert DealRegistration.objects.get(pk=routed["DE"].pk).assigned_manager_id == erik.pk
    client.post(reverse("manage_assign", args=[routed["DE"].pk]), {"assignee": f"t:{team.pk}"})
    registration = DealRegistration.objects.get(pk=routed["DE"].pk)
    assert (registration.assigned_manager_id, registration.assigned_team_id) == (None, team.pk)
    client.post(reverse("manage_assign", args=[routed["DE"].pk]), {"assignee": ""})
    registration = DealRegistration.objects.get(pk=routed["DE"].pk)
    assert (registration.assigned_manager_id, registration.assigned_team_id) == (None, None)
    response = client.post(
        reverse("manage_assign", args=[routed["DE"].pk]), {"assignee": "m:999999"}, follow=True
    )
    assert "Assignee: Unknown assignee." in response.content.decode()


def test_partners_cannot_reach_claim_or_reassign(client, alice, routed):
    client.force_login(alice)
    assert client.post(reverse("manage_claim", args=[routed["US"].pk])).status_code == 403
    assert client.post(reverse("manage_assign", args=[routed["US"].pk])).status_code == 403
    page = client.get(reverse("registration_detail", args=[routed["DE"].pk])).content.decode()
    assert "carol@vendor.example" not in page and "Assigned" not in page


@pytest.mark.parametrize("assigned", ["all", "mine", "team", "unassigned"])
def test_the_queue_runs_constant_queries(
    client, alice, bob, manager, dana, team, product, assigned
):
    RoutingRule.objects.create(order=1, name="DE", countries=["DE"], assign_manager=dana)
    RoutingRule.objects.create(order=2, name="FR", countries=["FR"], assign_team=team)
    Delegation.objects.create(
        manager=dana,
        delegate=manager,
        starts_at=timezone.now() - dt.timedelta(days=1),
        ends_at=timezone.now() + dt.timedelta(days=1),
    )
    client.force_login(manager)

    def grow(n):
        # n more in each bucket: dana's (the manager covers her), the team's, unassigned.
        for i in range(n):
            for country in ("DE", "FR", "US"):
                factories.make_registration(alice if i % 2 else bob, customer_country=country)

    assert_constant(client, lambda: reverse("manage_queue") + f"?assigned={assigned}", grow)


# --- Delegation -----------------------------------------------------------------------------


def test_a_delegate_sees_the_delegators_items_as_mine_during_the_period(
    client, manager, dana, routed
):
    now = timezone.now()
    routing.delegation_create(
        actor=dana,
        manager=dana,
        delegate=manager,
        starts_at=now + dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=8),
    )
    client.force_login(manager)
    assert queue_ids(client, assigned="mine") == {routed["DE"].pk}  # not yet
    with time_machine.travel(now + dt.timedelta(days=2)):
        client.force_login(manager)  # sessions expire after 30 idle minutes
        assert queue_ids(client, assigned="mine") == {routed["DE"].pk, routed["FR"].pk}
    with time_machine.travel(now + dt.timedelta(days=9)):
        client.force_login(manager)
        assert queue_ids(client, assigned="mine") == {routed["DE"].pk}  # over


def test_during_a_delegation_the_delegate_hears_the_review_notices(alice, product, manager, dana):
    RoutingRule.objects.create(order=1, name="all", assign_manager=dana)
    now = timezone.now()
    routing.delegation_create(
        actor=dana,
        manager=dana,
        delegate=manager,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(days=3),
    )
    registration = submit(alice)
    to = set(
        Notification.objects.filter(registration=registration, kind="submission_received")
        .exclude(recipient=alice)
        .values_list("recipient_id", flat=True)
    )
    assert to == {dana.pk, manager.pk}


def test_a_delegate_approves_the_second_step_for_the_approver(alice, product, manager, dana, erik):
    from deals.models import SecondStepRule

    SecondStepRule.objects.create(name="big", thresholds={"USD": "1000.00"}, approver_manager=dana)
    now = timezone.now()
    routing.delegation_create(
        actor=dana,
        manager=dana,
        delegate=erik,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(days=3),
    )
    registration = submit(alice, estimated_value="5000.00")
    registration_approve(registration=registration, actor=manager)
    assert registration_approve(registration=registration, actor=erik).status == "approved"


def test_delegation_rules(manager, dana, alice):
    now = timezone.now()
    with pytest.raises(ValidationFailed, match="not valid"):
        routing.delegation_create(
            actor=dana, manager=dana, delegate=dana, starts_at=now, ends_at=now + dt.timedelta(1)
        )
    with pytest.raises(ValidationFailed):
        routing.delegation_create(
            actor=dana, manager=dana, delegate=alice, starts_at=now, ends_at=now + dt.timedelta(1)
        )
    with pytest.raises(ValidationFailed):
        routing.delegation_create(
            actor=dana, manager=dana, delegate=manager, starts_at=now, ends_at=now
        )
    with pytest.raises(PermissionDeniedError, match="your own queue"):
        routing.delegation_create(
            actor=manager,
            manager=dana,
            delegate=manager,
            starts_at=now,
            ends_at=now + dt.timedelta(1),
        )
    with pytest.raises(PermissionDeniedError):
        routing.delegation_create(
            actor=alice, manager=alice, delegate=dana, starts_at=now, ends_at=now + dt.timedelta(1)
        )


def test_a_manager_manages_their_delegation_in_the_workspace(client, manager, dana):
    client.force_login(dana)
    today = timezone.localdate()
    response = client.post(
        reverse("manage_delegation"),
        {
            "delegate": manager.pk,
            "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=6)).isoformat(),
            "note": "Holiday",
        },
        follow=True,
    )
    assert "covers your queue" in response.content.decode()
    delegation = Delegation.objects.get(manager=dana)
    assert delegation.delegate_id == manager.pk
    assert delegation.starts_at <= timezone.now() < delegation.ends_at
    bad = client.post(
        reverse("manage_delegation"),
        {"delegate": "", "starts_on": "soon", "ends_on": today.isoformat()},
    )
    assert bad.status_code == 400
    # The colleague sees whom they cover; only the delegator ends it.
    client.force_login(manager)
    page = client.get(reverse("manage_delegation")).content.decode()
    assert "You cover" in page
    assert client.post(reverse("manage_delegation_end", args=[delegation.pk])).status_code == 404
    client.force_login(dana)
    client.post(reverse("manage_delegation_end", args=[delegation.pk]))
    assert Delegation.objects.get(pk=delegation.pk).ends_at <= timezone.now()


def test_the_api_claims_and_assigns_for_managers_only(alice, manager, erik, routed):
    from tests.api.conftest import client_for

    api = client_for(manager)
    url = f"/api/v1/registrations/{routed['US'].pk}/claim/"
    response = api.post(url, {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["approval"]["assigned_manager_id"] == manager.pk
    response = api.post(
        f"/api/v1/registrations/{routed['US'].pk}/assign/", {"manager_id": erik.pk}, format="json"
    )
    assert response.json()["approval"] == {
        "step": 1,
        "steps": 1,
        "assigned_manager_id": erik.pk,
        "assigned_team_id": None,
    }
    partner = client_for(alice)
    assert partner.post(url, {}, format="json").status_code == 403
    detail = partner.get(f"/api/v1/registrations/{routed['US'].pk}/").json()
    assert "approval" not in detail and detail["status"] == "submitted"
