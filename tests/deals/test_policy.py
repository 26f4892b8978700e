"""Policy as versioned data: every change is a new version, decisions and conflict outcomes record
the version they applied, and a past version is never edited."""

from __future__ import annotations

import datetime as dt

import pytest

from conflicts.models import Conflict
from deals.models import RegistrationEvent, RulesOfEngagement
from deals.policy import policy_current, policy_publish
from deals.registrations import services
from prm.exceptions import ValidationFailed
from tests import factories


def test_publish_creates_a_new_version_and_keeps_the_old(manager):
    v1 = policy_current()
    v2 = policy_publish(actor=manager, change_note="Longer protection", protection_days=120)
    assert v2.version == v1.version + 1
    assert v2.protection_days == 120
    assert v2.created_by == manager
    assert v2.change_note == "Longer protection"
    v1.refresh_from_db()
    assert v1.protection_days == 90
    assert policy_current() == v2
    # Everything not changed is carried over.
    assert v2.min_deal_values == v1.min_deal_values
    assert v2.review_threshold == v1.review_threshold


def test_a_decision_before_and_after_a_policy_edit_records_different_versions(
    alice, manager, product
):
    before = factories.make_registration(alice, status="approved", manager=manager)
    old_version = policy_current().version
    policy_publish(actor=manager, protection_days=30)
    after = factories.make_registration(alice, status="approved", manager=manager)
    new_version = policy_current().version
    assert new_version == old_version + 1
    assert before.decision_policy_version == old_version
    assert after.decision_policy_version == new_version
    assert before.policy_version == old_version
    assert after.policy_version == new_version
    event_versions = [
        RegistrationEvent.objects.get(registration=r, action="approved").policy_version
        for r in (before, after)
    ]
    assert event_versions == [old_version, new_version]
    # Changes apply to new decisions only: the earlier window is untouched.
    before.refresh_from_db()
    assert before.expires_at - before.approved_at == dt.timedelta(days=90)
    assert after.expires_at - after.approved_at == dt.timedelta(days=30)


def test_rejection_records_the_policy_version(alice, manager, product):
    registration = factories.make_registration(alice)
    policy_publish(actor=manager, sla_business_days=3)
    services.registration_reject(registration=registration, actor=manager, reason="not_qualified")
    registration.refresh_from_db()
    assert registration.policy_version == policy_current().version - 1
    assert registration.decision_policy_version == policy_current().version


def test_conflicts_record_the_policy_version(alice, bob, manager, product):
    policy_publish(actor=manager, review_threshold=80)
    customer = {"customer_name": "Tessellate Robotics", "customer_domain": "tessellate.io"}
    factories.make_registration(alice, **customer)
    second = factories.make_registration(bob, **customer)
    conflict = Conflict.objects.get(registration_id=second.pk)
    assert conflict.policy_version == policy_current().version


def test_thresholds_apply_to_new_submissions(alice, bob, manager, product):
    customer = {"customer_name": "Tessellate Robotics", "customer_domain": ""}
    factories.make_registration(alice, **customer)
    policy_publish(actor=manager, review_threshold=99, certain_threshold=100)
    later = factories.make_registration(bob, customer_name="Tesselate Robotic", customer_domain="")
    assert later.conflict_status == "clear"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"protection_days": 0}, "protection_days"),
        ({"review_threshold": 96, "certain_threshold": 95}, "__all__"),
        ({"conflict_scope": "everything"}, "conflict_scope"),
        ({"not_a_field": 1}, "not_a_field"),
    ],
)
def test_invalid_policy_is_refused_and_nothing_is_published(changes, field, manager):
    versions = RulesOfEngagement.objects.count()
    with pytest.raises(ValidationFailed) as excinfo:
        policy_publish(actor=manager, **changes)
    assert field in excinfo.value.fields
    assert RulesOfEngagement.objects.count() == versions
