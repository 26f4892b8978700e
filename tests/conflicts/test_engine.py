"""The conflict engine on real index entries: every outcome, activity windows, scope, exclusion,
not_a_conflict, and the partner-facing message (docs/product.md "Conflict rules")."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from conflicts import engine
from conflicts.models import Conflict, IdentityEntry
from conflicts.scoring import Identity
from deals.policy import policy_current
from deals.registrations import services
from deals.registrations.sweeps import registrations_expire_due
from tests import factories

POLICY = engine.Policy(review=85, certain=95, scope="product_line")


def check(name, domain="", *, lines=("crm",), partner_id=None, exclude=None, policy=POLICY):
    return engine.check(
        Identity.from_raw(name=name, domain=domain, country="US"),
        lines,
        policy=policy,
        partner_id=partner_id,
        exclude=exclude,
    )


def test_clear_when_nothing_matches(db, product):
    assert check("Brand New Customer Ltd").status == "clear"


def test_conflict_with_another_partners_active_registration(alice, bob, product):
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    outcome = check(
        "GLOBEX Corp., Inc.", "https://www.globex.com/", partner_id=bob.membership.partner_id
    )
    assert outcome.status == "conflict"
    assert "domain" in outcome.matches[0].reasons
    assert "product_overlap" in outcome.matches[0].reasons


def test_potential_conflict_in_the_review_band(alice, bob, product):
    factories.make_registration(alice, customer_name="Schlumberger Holdings", customer_domain="")
    outcome = check("Schlumberger Limited", partner_id=bob.membership.partner_id)
    assert outcome.status == "potential_conflict"
    assert 85 <= outcome.matches[0].score < 95


def test_duplicate_of_own_active_registration(alice, product):
    first = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    outcome = check("Initech LLC", "initech.com", partner_id=alice.membership.partner_id)
    assert outcome.duplicate_of == first.pk


def test_direct_opportunity_is_a_conflict(db, bob, product):
    factories.make_opportunity(account_name="Umbrella Corporation", account_domain="umbrella.com")
    outcome = check("Umbrella Corp", "umbrella.com", partner_id=bob.membership.partner_id)
    assert outcome.status == "conflict"
    assert outcome.matches[0].is_direct


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "lost", "won"])
def test_closed_registrations_do_not_protect(alice, bob, manager, product, status):
    factories.make_registration(
        alice, status=status, manager=manager, customer_name="Hooli", customer_domain="hooli.com"
    )
    assert check("Hooli Inc", "hooli.com", partner_id=bob.membership.partner_id).status == "clear"


def test_expired_registration_stops_protecting_even_before_the_sweep(alice, bob, manager, product):
    registration = factories.make_registration(
        alice,
        status="approved",
        manager=manager,
        customer_name="Vandelay Industries",
        customer_domain="vandelay.com",
    )
    assert (
        check("Vandelay", "vandelay.com", partner_id=bob.membership.partner_id).status == "conflict"
    )
    with time_machine.travel(registration.expires_at + dt.timedelta(seconds=1)):
        assert (
            check("Vandelay", "vandelay.com", partner_id=bob.membership.partner_id).status
            == "clear"
        )
        registrations_expire_due()
    entry = IdentityEntry.objects.get(kind="registration", record_id=registration.pk)
    assert entry.active is False


def test_scope_by_product_line(alice, bob, product, other_line_product):
    factories.make_registration(
        alice, customer_name="Wonka Industries", customer_domain="wonka.com"
    )
    assert check("Wonka", "wonka.com", lines=("erp",)).status == "clear"
    wide = engine.Policy(review=85, certain=95, scope="any_product")
    assert check("Wonka", "wonka.com", lines=("erp",), policy=wide).status == "conflict"


def test_a_record_never_matches_itself(alice, product):
    registration = factories.make_registration(
        alice, customer_name="Soylent", customer_domain="soylent.com"
    )
    outcome = check("Soylent", "soylent.com", exclude=("registration", registration.pk))
    assert outcome.status == "clear"


def test_won_direct_deal_protects_for_the_lookback_only(db, bob, product):
    opportunity = factories.make_opportunity(
        account_name="Cyberdyne Systems", account_domain="cyberdyne.com", status="won"
    )
    assert check("Cyberdyne", "cyberdyne.com").status == "conflict"
    lookback = policy_current().direct_won_lookback_days
    with time_machine.travel(opportunity.won_at + dt.timedelta(days=lookback, seconds=1)):
        assert check("Cyberdyne", "cyberdyne.com").status == "clear"


def test_not_a_conflict_never_flags_again(alice, bob, manager, product):
    first = factories.make_registration(
        alice, customer_name="Stark Industries", customer_domain="stark.com"
    )
    second = factories.make_registration(
        bob, customer_name="Stark Industries Inc", customer_domain="stark.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk, other_id=first.pk)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="not_a_conflict")
    outcome = check(
        "Stark Industries Inc",
        "stark.com",
        partner_id=bob.membership.partner_id,
        exclude=("registration", second.pk),
    )
    assert outcome.status == "clear"


def test_first_come_first_served_keeps_the_earlier_registration_clear(alice, bob, product):
    first = factories.make_registration(
        alice, customer_name="Acme Rockets", customer_domain="acmerockets.com"
    )
    second = factories.make_registration(bob, customer_name="ACME Rockets Inc.", customer_domain="")
    first.refresh_from_db()
    assert first.conflict_status == "clear"
    assert second.conflict_status == "conflict"
    assert first.submitted_at < second.submitted_at


def test_free_mail_domain_never_identifies_a_customer(alice, bob, product):
    factories.make_registration(
        alice, customer_name="Pied Piper", customer_domain="", contact_email="richard@gmail.com"
    )
    outcome = check("Totally Different Co", "", partner_id=bob.membership.partner_id)
    assert outcome.status == "clear"


def test_check_uses_only_index_lookups(alice, product, django_assert_max_num_queries):
    for n in range(30):
        factories.make_registration(
            alice, customer_name=f"Filler {n} Widgets", customer_domain=f"filler{n}.com"
        )
    with django_assert_max_num_queries(8):
        check("Filler 7 Widgets", "filler7.com")
    assert timezone.now()
