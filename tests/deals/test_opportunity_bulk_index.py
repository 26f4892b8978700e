"""The batch write path of direct opportunities (deals.opportunities.services._write_opportunities
with conflicts.index.index_upsert_many / index_deactivate_many and conflicts.engine.check_many):
the index it leaves is the one the rules define, a batch finds the registrations it collides
with, and its statement count does not grow with the batch (issue 16: CRM pulls of 100,000)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conflicts.index import name_key
from conflicts.models import CandidateKey, Conflict, IdentityEntry, KeyFrequency, RecordKind
from conflicts.normalize import blocking_keys
from deals.identity import _opportunity_identity
from deals.models import (
    DirectOpportunity,
    EventAction,
    Product,
    RegistrationEvent,
    RulesOfEngagement,
)
from deals.opportunities.services import opportunities_bulk_upsert
from tests import factories

NAMES = [
    "Initech Corporation",
    "Globex Holdings GmbH",
    "Umbrella Pharmaceuticals",
    "Cyberdyne Systems",
    "Soylent Foods",
    "Wayne Aerospace",
    "Stark Industries",
    "Tyrell Corp",
    "Hooli Inc",
    "Vandelay Industries",
]


def _row(n: int, **overrides) -> dict:
    data = {
        "external_id": f"BULK-{n:05d}",
        "account_name": f"{NAMES[n % len(NAMES)]} {n}",
        "account_domain": f"bulk{n}-direct.com",
        "country": "US",
        "owner_email": "rep@vendor.example",
        "products": ["crm-pro"],
        "amount": "1000.00",
        "currency": "USD",
        "stage": "discovery",
        "status": "open",
    }
    data.update(overrides)
    return data


def _assert_index_is_what_the_rules_say():
    """Every open opportunity's entry carries its identity and exactly its blocking keys, a lost
    one's entry is inactive with no keys; every key's frequency is the number of entries that carry it."""
    entries = {
        e.record_id: e for e in IdentityEntry.objects.filter(kind=RecordKind.DIRECT_OPPORTUNITY)
    }
    postings: dict[int, set[str]] = {}
    for entry_id, key in CandidateKey.objects.values_list("entry_id", "key"):
        postings.setdefault(entry_id, set()).add(key)
    for opportunity in DirectOpportunity.objects.prefetch_related("products__product_line"):
        identity = _opportunity_identity(opportunity)
        entry = entries[opportunity.pk]
        expected = set(blocking_keys(identity.name)) if opportunity.status == "open" else set()
        assert entry.active == (opportunity.status == "open")
        assert postings.get(entry.pk, set()) == expected, opportunity.external_id
        if not entry.active:
            continue  # an entry that stopped protecting keeps what it was (history)
        assert entry.name_norm == identity.name
        assert entry.name_key == name_key(identity.name)
        assert entry.domain == identity.domain
        lines = sorted({p.product_line.code for p in opportunity.products.all()})
        assert entry.product_lines == ("|" + "|".join(lines) + "|" if lines else "")
    counts = Counter(CandidateKey.objects.values_list("key", flat=True))
    frequencies = dict(KeyFrequency.objects.filter(df__gt=0).values_list("key", "df"))
    assert frequencies == dict(counts)


def test_bulk_upsert_index_matches_the_rules_through_creates_renames_and_losses(db, product):
    factories.ProductFactory(code="erp-core", product_line__code="erp")
    counts = opportunities_bulk_upsert(rows=[_row(n) for n in range(40)])
    assert counts == {"created": 40, "updated": 0}
    _assert_index_is_what_the_rules_say()

    changes = [_row(n, account_name=f"Renamed Customer {n} Ltd") for n in range(0, 10)]
    changes += [_row(n, status="lost") for n in range(10, 20)]
    changes += [_row(n, products=["crm-pro", "erp-core"]) for n in range(20, 25)]
    changes += [_row(n, products=[]) for n in range(25, 30)]
    changes += [_row(n) for n in range(40, 50)]  # new ones in the same batch
    counts = opportunities_bulk_upsert(rows=changes)
    assert counts == {"created": 10, "updated": 30}
    _assert_index_is_what_the_rules_say()
    assert not CandidateKey.objects.filter(entry__record_id__in=_ids(range(10, 20))).exists()
    assert set(
        DirectOpportunity.objects.get(external_id="BULK-00020").products.values_list(
            "code", flat=True
        )
    ) == {"crm-pro", "erp-core"}

    # Lost opportunities that re-open protect again; won ones keep protecting (look-back).
    counts = opportunities_bulk_upsert(
        rows=[_row(n, status="open") for n in range(10, 15)]
        + [_row(n, status="won") for n in range(30, 35)]
    )
    assert counts == {"created": 0, "updated": 10}
    won = DirectOpportunity.objects.filter(external_id__in=[f"BULK-{n:05d}" for n in range(30, 35)])
    assert all(o.won_at is not None for o in won)
    entries = IdentityEntry.objects.filter(
        kind=RecordKind.DIRECT_OPPORTUNITY, record_id__in=[o.pk for o in won]
    )
    assert all(e.active and e.active_until is not None for e in entries)
    assert CandidateKey.objects.filter(entry__record_id__in=_ids(range(10, 15))).exists()


def _ids(numbers) -> list[int]:
    return list(
        DirectOpportunity.objects.filter(
            external_id__in=[f"BULK-{n:05d}" for n in numbers]
        ).values_list("pk", flat=True)
    )


def test_bulk_upsert_records_the_conflict_with_a_registration_once(db, alice, product):
    registration = factories.make_registration(
        alice, customer_name="Massive Dynamic", customer_domain="massivedynamic.com"
    )
    rows = [_row(n) for n in range(30)]
    rows[7] = _row(7, account_name="MASSIVE DYNAMIC Inc.", account_domain="massivedynamic.com")
    opportunities_bulk_upsert(rows=rows)
    direct = DirectOpportunity.objects.get(external_id="BULK-00007")
    conflicts = Conflict.objects.filter(registration_id=registration.pk)
    assert list(conflicts.values_list("kind", "other_id")) == [
        (RecordKind.DIRECT_OPPORTUNITY, direct.pk)
    ]
    detected = RegistrationEvent.objects.filter(
        registration=registration, action=EventAction.CONFLICT_DETECTED
    )
    before = detected.count()
    assert before >= 1
    # The same batch again: the conflict is refreshed, not duplicated, and not re-announced.
    opportunities_bulk_upsert(rows=rows)
    assert conflicts.count() == 1
    assert detected.count() == before


def test_bulk_upsert_statements_do_not_grow_with_its_rows(db, product):
    """PostgreSQL: the same statements for 20 rows as for 80 (lists travel as arrays). SQLite:
    long lists are split (at most 999 parameters a statement, ~500 postings an insert), so a
    few more for 80 rows than for 20, far from the ~14 a row the per-row path ran."""
    opportunities_bulk_upsert(rows=[_row(n) for n in range(5)])  # the catalogue cached

    def statements(rows):
        with CaptureQueriesContext(connection) as captured:
            opportunities_bulk_upsert(rows=rows)
        # The catalogue and the policy are read through the hot cache, which the other test
        # processes clear at any time when it is the shared Redis (PostgreSQL run): those reads
        # come and go, and are not the batch's own statements.
        cached = tuple(
            f'SELECT "{model._meta.db_table}"."id"' for model in (Product, RulesOfEngagement)
        )
        return len([q for q in captured.captured_queries if not q["sql"].startswith(cached)])

    slack = 0 if connection.vendor == "postgresql" else 12
    created_20 = statements([_row(n) for n in range(100, 120)])
    created_80 = statements([_row(n) for n in range(200, 280)])
    assert created_20 <= created_80 <= created_20 + slack
    renamed_20 = statements([_row(n, account_name=f"Other {n} AG") for n in range(100, 120)])
    renamed_80 = statements([_row(n, account_name=f"Other {n} AG") for n in range(200, 280)])
    assert renamed_20 <= renamed_80 <= renamed_20 + slack
    assert created_80 < 80 and renamed_80 < 80


def test_bulk_upsert_of_1000_rows_fits_in_one_transaction(db, product):
    """A batch locks once, not once per blocking key: 1,000 rows locking ~30 keys each ran
    PostgreSQL's shared lock table out ("out of shared memory", CI of 2026-12-03)."""
    counts = opportunities_bulk_upsert(rows=[_row(n) for n in range(1000)])
    assert counts == {"created": 1000, "updated": 0}
    assert IdentityEntry.objects.filter(kind=RecordKind.DIRECT_OPPORTUNITY).count() == 1000


@pytest.mark.parametrize("status", ["lost", "open"])
def test_single_upsert_keeps_the_same_index_as_the_batch(db, product, status):
    from deals.opportunities.services import opportunity_upsert

    opportunity_upsert(data=_row(1))
    opportunity_upsert(data=_row(1, account_name="Globex Holdings", status=status))
    _assert_index_is_what_the_rules_say()
