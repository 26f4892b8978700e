"""Benefit frozen at approval (issue 19, item 1): the registration stores the benefit in force
when it is approved, with the policy version; later tier or rule changes never change it."""

from __future__ import annotations

from decimal import Decimal

from deals.models import IncentiveRule
from deals.policy import policy_current, policy_publish
from tests import factories
from tests.api.conftest import client_for
from tests.rewards.conftest import incentive_rule, logged_in


def test_approval_freezes_the_tiers_discount_with_the_policy_version(
    alice, manager, product, gold_discount
):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    registration.refresh_from_db()
    assert registration.benefit_kind == "discount_percent"
    assert registration.benefit_value == Decimal("12.00")
    assert registration.benefit_currency == ""
    assert registration.benefit_policy_version == policy_current().version
    assert registration.benefit_label == "12 % discount"


def test_changing_the_tier_after_approval_leaves_the_benefit_unchanged(
    alice, manager, product, gold_discount
):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    gold_discount.discount_percent = Decimal("30.00")
    gold_discount.save()
    policy_publish(actor=manager, change_note="new rules", protection_days=30)
    registration.refresh_from_db()
    assert (registration.benefit_kind, registration.benefit_value) == (
        "discount_percent",
        Decimal("12.00"),
    )
    later = factories.make_registration(alice, status="approved", manager=manager)
    later.refresh_from_db()
    assert later.benefit_value == Decimal("30.00")
    assert later.benefit_policy_version == registration.benefit_policy_version + 1


def test_changing_the_incentive_rules_after_approval_leaves_the_benefit_unchanged(
    alice, manager, product, gold_discount
):
    incentive_rule(gold_discount, kind="percent_of_won", value="5.00")
    registration = factories.make_registration(alice, status="approved", manager=manager)
    policy_publish(
        actor=manager,
        incentive_rules=[
            {
                "tier_id": gold_discount.pk,
                "product_line_id": None,
                "kind": "fixed",
                "value": Decimal("900.00"),
                "currency": "USD",
            }
        ],
    )
    registration.refresh_from_db()
    assert (registration.benefit_kind, registration.benefit_value) == (
        "percent_of_won",
        Decimal("5.00"),
    )
    later = factories.make_registration(alice, status="approved", manager=manager)
    later.refresh_from_db()
    assert (later.benefit_kind, later.benefit_value, later.benefit_currency) == (
        "fixed",
        Decimal("900.00"),
        "USD",
    )


def test_incentive_rules_are_versioned_with_the_policy(manager, gold_discount):
    incentive_rule(gold_discount, kind="percent_of_won", value="5.00")
    before = policy_current().version
    policy_publish(actor=manager, change_note="carry the rules forward", protection_days=60)
    assert IncentiveRule.objects.filter(policy_version=before).count() == 1
    assert IncentiveRule.objects.filter(policy_version=before + 1).count() == 1


def test_a_product_line_rule_wins_over_the_tier_wide_rule(
    alice, manager, product, other_line_product, gold_discount
):
    incentive_rule(gold_discount, kind="percent_of_won", value="3.00")
    incentive_rule(
        gold_discount,
        kind="fixed",
        value="2500.00",
        currency="EUR",
        product_line=product.product_line,
    )
    crm = factories.make_registration(
        alice, status="approved", manager=manager, products=[product.code]
    )
    erp = factories.make_registration(
        alice, status="approved", manager=manager, products=[other_line_product.code]
    )
    crm.refresh_from_db()
    erp.refresh_from_db()
    assert (crm.benefit_kind, crm.benefit_value, crm.benefit_currency) == (
        "fixed",
        Decimal("2500.00"),
        "EUR",
    )
    assert (erp.benefit_kind, erp.benefit_value) == ("percent_of_won", Decimal("3.00"))


def test_no_discount_and_no_rule_means_no_benefit(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    body = client_for(alice).get(f"/api/v1/registrations/{registration.pk}/").json()
    assert body["benefit"] is None
    assert body["win_verified_at"] is None


def test_partners_and_managers_see_the_benefit_in_the_api_and_on_the_pages(
    alice, manager, product, gold_discount
):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    version = policy_current().version
    for user in (alice, manager):
        body = client_for(user).get(f"/api/v1/registrations/{registration.pk}/").json()
        assert body["benefit"] == {
            "kind": "discount_percent",
            "value": "12.00",
            "currency": None,
            "policy_version": version,
        }
    page = logged_in(alice).get(f"/registrations/{registration.pk}/").content.decode()
    assert "Registered-deal benefit" in page and "12 % discount" in page
    review = logged_in(manager).get(f"/manage/registrations/{registration.pk}/").content.decode()
    assert "12 % discount" in review


def test_adding_an_incentive_rule_in_the_admin_publishes_a_new_policy_version(
    alice, manager, product, gold_discount
):
    superuser = factories.manager_user(email="root@vendor.example", superuser=True)
    approved = factories.make_registration(alice, status="approved", manager=manager)
    before = policy_current().version
    client = logged_in(superuser)
    response = client.post(
        "/admin/deals/incentiverule/add/",
        {
            "tier": gold_discount.pk,
            "product_line": "",
            "kind": "fixed",
            "value": "750.00",
            "currency": "USD",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert policy_current().version == before + 1
    rule = IncentiveRule.objects.get(policy_version=before + 1)
    assert (rule.kind, rule.value, rule.currency) == ("fixed", Decimal("750.00"), "USD")
    refused = client.post(
        "/admin/deals/incentiverule/add/",
        {
            "tier": gold_discount.pk,
            "product_line": "",
            "kind": "fixed",
            "value": "1.00",
            "currency": "",
        },
    )
    assert refused.status_code == 200 and policy_current().version == before + 1
    approved.refresh_from_db()
    assert approved.benefit_kind == "discount_percent"  # frozen before the rule existed
