"""The transition table against docs/product.md's diagram: every (status, action) pair, legal and
illegal, first as data (deals.lifecycle), then through the real services (status, events).

    draft ──submit──▶ submitted ──approve──▶ approved ──close(won)──▶ won
                         │  ▲                    │  └──close(lost)──▶ lost
              request_info│  │resubmit           └──(expires_at passes)──▶ expired ──close(won)──▶ won
                         ▼  │                    └──revoke──▶ revoked      (a late win, flagged)
                   info_requested
    submitted/info_requested ──reject──▶ rejected      any open state ──withdraw──▶ withdrawn
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from deals import lifecycle
from deals.models import DealRegistration, RegistrationEvent
from deals.registrations import services
from prm.exceptions import InvalidTransition
from tests import factories

STATUSES = [
    "draft",
    "submitted",
    "info_requested",
    "approved",
    "rejected",
    "withdrawn",
    "won",
    "lost",
    "expired",
    "revoked",  # issue 14: a manager ends an approved registration's protection
]
ACTIONS = [
    "submit",
    "resubmit",
    "approve",
    "reject",
    "request_info",
    "withdraw",
    "close_won",
    "close_lost",
    "expire",
    "revoke",
]

# Expectations derived from PRODUCT.md's rules ("Registration lifecycle"), not a copy of
# deals.lifecycle.TRANSITIONS: each rule is one line of the product text.
OPEN = {"draft", "submitted", "info_requested", "approved"}  # may still change or protect
TERMINAL = set(STATUSES) - OPEN  # rejected, withdrawn, won, lost, expired, revoked: final
# What each action does when it is allowed: an action always leads to the same status.
OUTCOME = {
    "submit": "submitted",
    "resubmit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "request_info": "info_requested",
    "withdraw": "withdrawn",
    "close_won": "won",
    "close_lost": "lost",
    "expire": "expired",
    "revoke": "revoked",
}
# Where each action is allowed, by the product rules.
ALLOWED_FROM = {
    "submit": {"draft"},  # a draft is submitted for review
    "resubmit": {"info_requested"},  # the partner answers a request for information
    "approve": {"submitted"},  # a manager decides on a submitted registration
    "request_info": {"submitted"},  # ... or asks the partner for more information
    "reject": {"submitted", "info_requested"},  # "submitted/info_requested ──reject──▶"
    "withdraw": OPEN,  # "any open state ──withdraw──▶ withdrawn"
    "close_won": {"approved"},  # only a protected (approved) deal is closed won or lost
    "close_lost": {"approved"},
    "expire": {"approved"},  # "a periodic job expires approved registrations"
    "revoke": {"approved"},  # "revoke it when it is already approved (new status revoked)"
}


# Issue 19: "a win reported after protection lapsed is accepted for review (flagged as late),
# not refused": the one move out of a final status.
LATE_WIN = ("expired", "close_won")


def expected_status(status: str, action: str) -> str | None:
    """The status `action` leads to from `status` by the product rules; None if refused."""
    if (status, action) == LATE_WIN:
        return OUTCOME[action]
    if status in TERMINAL:
        return None
    return OUTCOME[action] if status in ALLOWED_FROM[action] else None


DIAGRAM = {
    (status, action): expected_status(status, action)
    for status in STATUSES
    for action in ACTIONS
    if expected_status(status, action) is not None
}


def test_product_rules_are_consistent():
    """Sanity of the rules themselves: nothing leads back to draft or out of a final status,
    every open status can be left, and approval (protection) only follows a review."""
    assert "draft" not in OUTCOME.values()
    assert all(frm <= OPEN for frm in ALLOWED_FROM.values())
    for status in OPEN:
        assert any(status in frm for frm in ALLOWED_FROM.values()), status
    assert {s for (s, a) in DIAGRAM if OUTCOME[a] == "approved"} == {"submitted"}


PAIRS = [(status, action) for status in STATUSES for action in ACTIONS]


def test_the_table_has_exactly_the_diagrams_transitions():
    table = {(status, action): to for (action, status), to in lifecycle.TRANSITIONS.items()}
    assert table == DIAGRAM
    assert set(lifecycle.STATUSES) == set(STATUSES)
    assert set(lifecycle.ACTIONS) == set(ACTIONS)


@pytest.mark.parametrize(("status", "action"), PAIRS)
def test_every_status_action_pair(status, action):
    expected = DIAGRAM.get((status, action))
    assert lifecycle.can(action, status) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition, match="You cannot"):
            lifecycle.target_status(action, status)
        assert action not in lifecycle.allowed_actions(status)
    else:
        assert lifecycle.target_status(action, status) == expected
        assert action in lifecycle.allowed_actions(status)


def test_terminal_statuses_allow_nothing():
    for status in ("rejected", "withdrawn", "won", "lost", "revoked"):
        assert lifecycle.allowed_actions(status) == []
    # The late win (issue 19) is the one move out of expired.
    assert lifecycle.allowed_actions("expired") == ["close_won"]


# --- The same table through the services ------------------------------------------------------


def _reach(status: str, owner, manager) -> DealRegistration:
    if status == "expired":
        registration = factories.make_registration(owner, status="approved", manager=manager)
        assert services.registration_expire(
            registration=registration, now=timezone.now() + dt.timedelta(days=400)
        )
        registration.refresh_from_db()
        return registration
    if status == "revoked":
        registration = factories.make_registration(owner, status="approved", manager=manager)
        return services.registration_revoke(
            registration=registration, actor=manager, reason="not_qualified"
        )
    return factories.make_registration(owner, status=status, manager=manager)


def _perform(action: str, registration, owner, manager):
    today = timezone.now().date().isoformat()
    if action in ("submit", "resubmit"):
        return services.registration_submit(registration=registration, actor=owner)
    if action == "approve":
        return services.registration_approve(registration=registration, actor=manager)
    if action == "reject":
        return services.registration_reject(
            registration=registration, actor=manager, reason="not_qualified"
        )
    if action == "request_info":
        return services.registration_request_info(
            registration=registration, actor=manager, message="Which department?"
        )
    if action == "withdraw":
        return services.registration_withdraw(registration=registration, actor=owner)
    if action == "close_won":
        return services.registration_close(
            registration=registration, actor=owner, outcome="won", close_date=today
        )
    if action == "close_lost":
        return services.registration_close(
            registration=registration, actor=owner, outcome="lost", close_date=today
        )
    if action == "revoke":
        return services.registration_revoke(
            registration=registration, actor=manager, reason="outside_territory"
        )
    raise AssertionError(action)


SERVICE_ACTIONS = [a for a in ACTIONS if a not in ("resubmit", "expire")]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", SERVICE_ACTIONS)
def test_services_follow_the_diagram(status, action, alice, manager, product):
    registration = _reach(status, alice, manager)
    assert registration.status == status
    # registration_submit is the entry point of both submit and resubmit.
    effective = "resubmit" if (action == "submit" and status == "info_requested") else action
    expected = DIAGRAM.get((status, effective))
    events_before = RegistrationEvent.objects.filter(registration=registration).count()
    if expected is None:
        with pytest.raises(InvalidTransition):
            _perform(action, registration, alice, manager)
        registration.refresh_from_db()
        assert registration.status == status
        assert RegistrationEvent.objects.filter(registration=registration).count() == events_before
    else:
        _perform(action, registration, alice, manager)
        registration.refresh_from_db()
        assert registration.status == expected
        last = RegistrationEvent.objects.filter(registration=registration).order_by("-seq")
        transition_events = last.exclude(action="conflict_detected")
        assert transition_events.first().from_status == status
        assert transition_events.first().to_status == expected


@pytest.mark.parametrize("status", STATUSES)
def test_expire_only_from_approved(status, alice, manager, product):
    registration = _reach(status, alice, manager)
    later = timezone.now() + dt.timedelta(days=800)
    expired = services.registration_expire(registration=registration, now=later)
    registration.refresh_from_db()
    if status == "approved":
        assert expired is True
        assert registration.status == "expired"
    else:
        assert expired is False
        assert registration.status == status


def test_expire_not_before_expires_at(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    assert services.registration_expire(registration=registration) is False
    registration.refresh_from_db()
    assert registration.status == "approved"
