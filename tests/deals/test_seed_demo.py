"""`manage.py seed_demo`: the demo data set, created through the services, and idempotent."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from conflicts.models import Conflict, IdentityEntry
from deals.events import events_verify_all
from deals.identity import registration_identity
from deals.models import (
    DealRegistration,
    DirectOpportunity,
    Product,
    ProductLine,
    RegistrationEvent,
    RulesOfEngagement,
)
from deals.policy import _engine_policy
from deals.registrations import services
from partners.models import Membership, Partner, Tier, User
from partners.roles import is_manager

STATUSES = {
    "draft",
    "submitted",
    "info_requested",
    "approved",
    "rejected",
    "withdrawn",
    "won",
    "lost",
    "expired",
}


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "partners": Partner.objects.count(),
        "memberships": Membership.objects.count(),
        "tiers": Tier.objects.count(),
        "lines": ProductLine.objects.count(),
        "products": Product.objects.count(),
        "opportunities": DirectOpportunity.objects.count(),
        "registrations": DealRegistration.objects.count(),
        "events": RegistrationEvent.objects.count(),
        "conflicts": Conflict.objects.count(),
        "index": IdentityEntry.objects.count(),
        "policies": RulesOfEngagement.objects.count(),
        **{f"status:{s}": DealRegistration.objects.filter(status=s).count() for s in STATUSES},
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module (about 150 registrations through the services)."""
    with django_db_blocker.unblock():
        from django.db import transaction

        # Module-scoped data inside one rolled-back transaction, like a TestCase class.
        atomic = transaction.atomic()
        atomic.__enter__()
        atomic._from_testcase = True
        # The function-scoped _fresh_cache runs after this module fixture: a policy version
        # cached by the previous test file (rolled back since) would make the seed skip its
        # policy change.
        from django.core.cache import cache

        cache.clear()
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        first = _counts()
        yield out.getvalue(), first
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def test_seed_demo_twice_gives_the_same_counts(seeded, db):
    _, first = seeded
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert _counts() == first
    assert "already seeded" in out.getvalue()


def test_seed_demo_creates_the_demo_set(seeded, db):
    output, counts = seeded
    assert counts["partners"] == 4
    assert counts["lines"] == 3 and counts["products"] == 6
    assert counts["opportunities"] == 300
    assert counts["registrations"] == 150
    for status in STATUSES:
        assert counts[f"status:{status}"] > 0, status
    for partner in Partner.objects.all():
        assert 2 <= partner.memberships.count() <= 3
        assert partner.memberships.filter(role="admin").exists()
        assert partner.channel_manager is not None
    staff = User.objects.filter(is_staff=True)
    assert sum(1 for u in staff if is_manager(u) and not u.is_superuser) == 2
    assert User.objects.filter(is_superuser=True).count() == 1
    assert Tier.objects.get(code="platinum").auto_approve_ceiling is not None
    assert counts["policies"] == 2
    # Approval routing (issue 17 §4): each manager reviews their partners' registrations.
    from deals.models import RoutingRule, SecondStepRule

    assert RoutingRule.objects.count() == 2 and SecondStepRule.objects.count() == 1
    waiting = DealRegistration.objects.filter(status="submitted")
    assert waiting.exists()
    assert not waiting.filter(assigned_manager__isnull=True).exists()


def test_seed_demo_goes_through_the_services(seeded, db):
    # Every registration has its history, the chains verify, the index is populated.
    assert not DealRegistration.objects.filter(events__isnull=True).exists()
    chains, problems = events_verify_all()
    assert chains >= 150 and problems == []
    for registration in DealRegistration.objects.filter(status="approved")[:10]:
        assert registration.events.filter(action__in=["approved", "auto_approved"]).exists()
        assert registration.expires_at > registration.approved_at
    assert IdentityEntry.objects.filter(kind="registration", active=True).exists()
    assert IdentityEntry.objects.filter(kind="direct_opportunity", active=True).exists()
    # Decisions before and after the policy change record different versions.
    versions = set(
        DealRegistration.objects.exclude(decision_policy_version=None).values_list(
            "decision_policy_version", flat=True
        )
    )
    assert versions == {1, 2}


def test_seed_demo_includes_deliberate_conflicts(seeded, db):
    globex = DealRegistration.objects.get(customer_name="GLOBEX Corp.")
    assert (globex.status, globex.conflict_status) == ("submitted", "conflict")
    assert Conflict.objects.filter(registration_id=globex.pk, kind="registration").exists()
    contoso = DealRegistration.objects.get(customer_name="Contoso Limited")
    assert contoso.conflict_status == "conflict"
    assert Conflict.objects.filter(registration_id=contoso.pk, kind="direct_opportunity").exists()
    tailspin = DealRegistration.objects.get(customer_name="Tailspin Toys")
    assert tailspin.co_sell is True and tailspin.status == "approved"
    loser = DealRegistration.objects.get(customer_name="Northwind Traders")
    assert (loser.status, loser.rejection_reason) == ("rejected", "partner_registration")
    # Spread over time so the reports have a history.
    dates = DealRegistration.objects.exclude(submitted_at=None).values_list(
        "submitted_at", flat=True
    )
    assert (max(dates) - min(dates)).days > 90


def test_seed_demo_prints_the_logins(seeded, db):
    output, _ = seeded
    assert "admin@dealbridge.example" in output
    assert "maria.chen@dealbridge.example" in output
    assert "olivia.hart@northbridge-solutions.com" in output
    assert "cosell-demo-2026" in output
    user = User.objects.get(email="olivia.hart@northbridge-solutions.com")
    assert user.check_password("cosell-demo-2026")


def _index_snapshot():
    """The effective index: entries that protect now, and their blocking keys."""
    from conflicts.index import active_filter
    from conflicts.models import CandidateKey

    # Won direct deals are left out: the rebuild applies the current policy's look-back to them
    # (checked separately), while their entries were written under the policy of their day.
    won = DirectOpportunity.objects.filter(status="won").values_list("pk", flat=True)
    live = IdentityEntry.objects.filter(active_filter(timezone.now())).exclude(
        kind="direct_opportunity", record_id__in=list(won)
    )
    entries = set(
        live.values_list("kind", "record_id", "name_key", "domain", "product_lines", "partner_id")
    )
    keys = set(
        CandidateKey.objects.filter(entry__in=live).values_list(
            "key", "entry__kind", "entry__record_id"
        )
    )
    return entries, keys


def test_rebuild_identity_index_restores_the_index(seeded, db):
    from django.db.models import Count

    from conflicts.models import CandidateKey, KeyFrequency

    before = _index_snapshot()
    conflicts = Conflict.objects.count()
    CandidateKey.objects.all().delete()  # drift: the blocking keys are gone
    IdentityEntry.objects.filter(kind="direct_opportunity").delete()
    out = io.StringIO()
    call_command("rebuild_identity_index", stdout=out)
    assert "Index rebuilt" in out.getvalue()
    assert _index_snapshot() == before
    lookback = services.policy_current().direct_won_lookback_days
    for opportunity in DirectOpportunity.objects.filter(status="won"):
        entry = IdentityEntry.objects.filter(
            kind="direct_opportunity", record_id=opportunity.pk
        ).first()
        expected_until = opportunity.won_at + dt.timedelta(days=lookback)
        if expected_until > timezone.now():
            assert entry.active_until == expected_until
        else:
            assert entry is None or not entry.active
    assert Conflict.objects.count() == conflicts
    # Key frequencies agree with the postings again.
    postings = dict(
        CandidateKey.objects.values("key").annotate(n=Count("id")).values_list("key", "n")
    )
    assert dict(KeyFrequency.objects.filter(df__gt=0).values_list("key", "df")) == postings
    # The engine finds the demo's conflicts again.
    globex = DealRegistration.objects.get(customer_name="Globex Corporation")
    outcome = services.engine.check(
        registration_identity(globex),
        ["crm"],
        policy=_engine_policy(services.policy_current()),
        partner_id=None,
    )
    assert globex.pk in {m.record_id for m in outcome.matches}


def test_seed_demo_timeline_is_stamped_on_the_demo_clock(seeded, db):
    """The seed plays six months through the project clock (prm.lib.time.clock_source), not by
    patching Django: the models' own timestamps (created_at, updated_at) follow the timeline,
    in the order of the registrations' submissions."""
    now = timezone.now()
    registrations = DealRegistration.objects.exclude(submitted_at=None)
    oldest = min(r.created_at for r in registrations)
    assert oldest < now - dt.timedelta(days=90)
    for registration in registrations:
        assert registration.created_at <= registration.first_submitted_at
        assert registration.updated_at < now - dt.timedelta(seconds=1) or (
            registration.updated_at >= registration.created_at
        )
    ordered = list(registrations.order_by("created_at").values_list("pk", flat=True))
    assert ordered == sorted(ordered)  # created in timeline order, stamped in timeline order
    first_event = RegistrationEvent.objects.order_by("at").first()
    assert first_event is not None and first_event.at < now - dt.timedelta(days=90)


def test_entries_of_another_normalizer_version_are_rebuilt_after_migrate(seeded, db):
    """A NORMALIZER_VERSION bump rebuilds the index after `migrate` (deals.apps): entries
    carrying another version get the names, keys and location of the current normaliser."""
    from conflicts.models import CandidateKey
    from conflicts.normalize import NORMALIZER_VERSION
    from deals.apps import rebuild_stale_identity_index

    before = _index_snapshot()
    rebuild_stale_identity_index(sender=None)  # nothing stale: nothing happens
    assert _index_snapshot() == before
    IdentityEntry.objects.update(normalizer_version=NORMALIZER_VERSION - 1, name_norm="stale")
    CandidateKey.objects.all().delete()
    rebuild_stale_identity_index(sender=None)
    assert _index_snapshot() == before
    assert not IdentityEntry.objects.exclude(normalizer_version=NORMALIZER_VERSION).exists()


def test_seed_rewards_verifies_demo_wins(seeded, db):
    """rewards' seed_rewards (make seed runs it after seed_demo), on the seeded data (one seed
    per module: on PostgreSQL a seed holds thousands of advisory locks in its transaction)."""
    from deals.models import DealRegistration as Registration
    from rewards.models import Accrual

    out = io.StringIO()
    call_command("seed_rewards", stdout=out)
    assert "Rewards ready" in out.getvalue()
    assert set(Accrual.objects.values_list("status", flat=True)) == {"pending", "approved", "paid"}
    assert Registration.objects.filter(status="won", win_verified_at__isnull=True).exists()
    assert Accrual.objects.exclude(amount=0).exists()  # the demo tiers give discounts
    count = Accrual.objects.count()
    call_command("seed_rewards", stdout=io.StringIO())
    assert Accrual.objects.count() == count


def test_policy_versions_read_in_date_order(seeded, db):
    """Issue 18 §6.10: the default policy (made by a migration when the database was created)
    is dated where the demo's timeline starts, before the policy change it seeds."""
    versions = list(RulesOfEngagement.objects.order_by("version"))
    assert len(versions) >= 2
    dates = [v.created_at for v in versions]
    assert dates == sorted(dates)
