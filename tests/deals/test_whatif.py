"""What-if thresholds: how many recent submissions a new threshold or conflict scope would
change, before the administrator saves it (deals.policy.policy_what_if)."""

from __future__ import annotations

import datetime as dt

from conflicts import engine
from deals.models import RulesOfEngagement
from deals.policy import classify, policy_publish, policy_what_if
from tests import factories


def _near_pair(first_user, second_user, word="Zephyrine"):
    """Two registrations by name only, scored in the review band (potential conflict): a name
    and the same name with "Holdings" (a parent and its subsidiary; since issue 15 a
    descriptive word such as "Industries" beside a distinctive name is certain)."""
    first = factories.make_registration(
        first_user, customer_name=f"{word}, Inc.", customer_domain=""
    )
    second = factories.make_registration(
        second_user, customer_name=f"{word} Holdings", customer_domain=""
    )
    assert second.conflict_status == "potential_conflict"
    return first, second


def test_no_change_changes_nothing(alice, bob, product):
    _near_pair(alice, bob)
    result = policy_what_if({})
    assert result["evaluated"] == 2
    assert result["changed"] == 0
    assert result["examples"] == []


def test_raising_the_review_threshold_clears_near_matches(alice, bob, product):
    first, second = _near_pair(alice, bob)
    result = policy_what_if({"review_threshold": 95, "certain_threshold": 99})
    assert result["changed"] == 1
    assert result["transitions"] == {"potential_conflict→clear": 1}
    [example] = result["examples"]
    assert example["id"] == second.pk
    assert example["reference"] == second.reference
    assert (example["stored"], example["current"], example["proposed"]) == (
        "potential_conflict",
        "potential_conflict",
        "clear",
    )


def test_lowering_the_certain_threshold_turns_near_matches_into_conflicts(alice, bob, product):
    _near_pair(alice, bob)
    result = policy_what_if({"review_threshold": 60, "certain_threshold": 80})
    assert result["transitions"] == {"potential_conflict→conflict": 1}


def test_widening_the_scope_to_any_product(alice, bob, product, other_line_product):
    customer = {"customer_name": "Quasar Freight", "customer_domain": "quasar-freight.com"}
    factories.make_registration(alice, products=[product.code], **customer)
    other = factories.make_registration(bob, products=[other_line_product.code], **customer)
    assert other.conflict_status == "clear"  # different product lines: no conflict by default
    result = policy_what_if({"conflict_scope": "any_product"})
    assert result["changed"] == 1
    assert result["examples"][0]["id"] == other.pk
    assert result["examples"][0]["proposed"] == "conflict"
    assert result["proposed"]["conflict_scope"] == "any_product"
    assert result["current"]["conflict_scope"] == "product_line"


def test_only_records_active_at_submission_count(alice, bob, product):
    """First come, first served: the earlier registration is not judged against a later one."""
    first, _ = _near_pair(alice, bob)
    result = policy_what_if({"review_threshold": 60, "certain_threshold": 80})
    assert first.pk not in {e["id"] for e in result["examples"]}


def test_last_n_limits_the_sample(alice, bob, product):
    _near_pair(alice, bob)
    for index in range(3):
        factories.make_registration(alice, customer_name=f"Unrelated {index} Ventures")
    assert policy_what_if({}, last_n=2)["evaluated"] == 2
    assert policy_what_if({}, last_n=200)["evaluated"] == 5
    # The near pair is older than the last two submissions: out of the sample.
    assert (
        policy_what_if({"review_threshold": 95, "certain_threshold": 99}, last_n=2)["changed"] == 0
    )


def test_drafts_are_not_evaluated(alice, product):
    factories.make_registration(alice, status="draft")
    assert policy_what_if({})["evaluated"] == 0


def test_what_if_writes_nothing(alice, bob, product, manager):
    _near_pair(alice, bob)
    versions = RulesOfEngagement.objects.count()
    policy_what_if(
        {"review_threshold": 50, "certain_threshold": 60, "conflict_scope": "any_product"}
    )
    assert RulesOfEngagement.objects.count() == versions
    policy_publish(actor=manager, review_threshold=90)
    assert policy_what_if({})["current"]["review_threshold"] == 90


def test_classify_follows_the_engine_rule():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def match(score, kind="registration", partner_id=2, overlap=True):
        return engine.Match(
            kind=kind,
            record_id=1,
            partner_id=partner_id,
            label="x",
            score=score,
            reasons=("name_similarity",) + (("product_overlap",) if overlap else ()),
            severity="",
            since=now,
        )

    policy = engine.Policy(review=85, certain=95, scope="product_line")
    assert classify([], policy, partner_id=1) == "clear"
    assert classify([match(80)], policy, partner_id=1) == "clear"
    assert classify([match(90)], policy, partner_id=1) == "potential_conflict"
    assert classify([match(97)], policy, partner_id=1) == "conflict"
    assert classify([match(97, overlap=False)], policy, partner_id=1) == "clear"
    wide = engine.Policy(review=85, certain=95, scope="any_product")
    assert classify([match(97, overlap=False)], wide, partner_id=1) == "conflict"
    # A certain match with the partner's own registration is not a conflict (it is a duplicate).
    assert classify([match(97, partner_id=1)], policy, partner_id=1) == "potential_conflict"
    assert (
        classify([match(97, kind="direct_opportunity", partner_id=None)], policy, partner_id=1)
        == "conflict"
    )
