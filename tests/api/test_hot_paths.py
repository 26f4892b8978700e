"""The hot paths of the load targets (issue #4) keep the contract:

- registration_representation() (detail, list, transitions) renders byte for byte what
  RegistrationSerializer renders, for partners and managers, across states and null values;
- the narrowed fetch keeps the query counts constant (detail: row and product codes; the token
  lookup comes from the cache);
- the conflict engine's one-query candidate fetch (PostgreSQL) finds exactly the candidates of
  the per-probe path.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from conflicts import engine, retrieval
from conflicts.models import RecordKind
from conflicts.scoring import Identity
from deals.api import serializers as s
from deals.api.views import registrations_data, registrations_for_output
from deals.models import DealRegistration
from deals.registrations import selectors
from rewards.services import win_verify
from tests import factories
from tests.api.conftest import client_for


def _render(data) -> bytes:
    return JSONRenderer().render(data)


def _both_sides(registration_pk: int, user) -> list:
    """A registration's conflicts as API.md's "Conflicts that bind" states them, read here
    without the view's code: its own rows, plus the rows of later registrations that name it
    as `other_id`, seen from its side (the later registration becomes the `other`)."""
    visible = selectors.conflicts_visible_to(user)
    own = list(visible.filter(registration_id=registration_pk))
    mirrored = []
    for conflict in visible.filter(kind=RecordKind.REGISTRATION, other_id=registration_pk):
        later = DealRegistration.objects.get(pk=conflict.registration_id)
        mirrored.append(
            s.ConflictView(
                id=conflict.id,
                kind=conflict.kind,
                other_id=later.pk,
                other_label=f"{later.reference} · {later.customer_name}",
                score=conflict.score,
                reasons=conflict.reasons,
                severity=conflict.severity,
                status=conflict.status,
                resolution=conflict.resolution,
            )
        )
    return sorted(own + mirrored, key=lambda c: (-c.score, c.id))


def _reference(registration, *, manager: bool, user) -> bytes:
    """What the serializer renders (the code path before issue #4), from the selector's rows;
    for managers with the conflicts of both sides and the worst open one as conflict_status."""
    context = {"manager": manager}
    fresh = selectors.registrations_visible_to(user).get(pk=registration.pk)
    if manager:
        conflicts = _both_sides(registration.pk, user)
        context["conflicts"] = {registration.pk: conflicts}
        open_severities = {c.severity for c in conflicts if c.status == "open"}
        if open_severities:
            worst = "conflict" if "conflict" in open_severities else "potential_conflict"
            fresh.conflict_status = worst
    return _render(s.RegistrationSerializer(fresh, context=context).data)


@pytest.fixture
def registrations(alice, bob, manager, product, other_line_product):
    """Registrations in many states: nulls (draft), decimals, datetimes, several products on
    two lines, conflicts with another partner and with a direct opportunity, decisions."""
    made = [
        factories.make_registration(alice, status="draft", customer_address=""),
        factories.make_registration(alice, status="draft", products=[], stage="negotiation"),
        factories.make_registration(
            alice,
            products=[product.code, other_line_product.code],
            estimated_value="1234567.5",
            description="Line one\nline two — “quoted” ünïcode",
        ),
        factories.make_registration(alice, status="approved", manager=manager),
        factories.make_registration(alice, status="rejected", manager=manager),
        factories.make_registration(alice, status="info_requested", manager=manager),
        factories.make_registration(alice, status="won", manager=manager),
        factories.make_registration(alice, status="lost", manager=manager),
        factories.make_registration(alice, status="withdrawn"),
    ]
    factories.make_opportunity(account_name="Shared Direct Co", account_domain="shared-direct.com")
    made.append(
        factories.make_registration(
            alice, customer_name="Shared Direct Co", customer_domain="shared-direct.com"
        )
    )
    factories.make_registration(bob, customer_name="Twice Sold", customer_domain="twice-sold.com")
    made.append(
        factories.make_registration(
            alice, customer_name="Twice Sold", customer_domain="twice-sold.com"
        )
    )
    # A conflict raised by a later registration of another partner shows on alice's earlier
    # one too (issue 14: conflicts on both records).
    made.append(
        factories.make_registration(
            alice, customer_name="Held Earlier", customer_domain="held-earlier.com"
        )
    )
    factories.make_registration(
        bob, customer_name="Held Earlier", customer_domain="held-earlier.com"
    )
    # A value with microseconds and a sub-cent amount stored as written by the ORM.
    DealRegistration.objects.filter(pk=made[1].pk).update(
        actual_value=Decimal("10.05"),
        close_date=dt.date(2027, 1, 31),
        sla_due_at=timezone.now() - dt.timedelta(days=3, microseconds=17),
    )
    # Issue 19: a frozen benefit (non-null `benefit`) and a verified win (`win_verified_at`).
    tier = alice.membership.partner.tier
    tier.discount_percent = Decimal("12.50")
    tier.save()
    rewarded = factories.make_registration(alice, status="won", manager=manager)
    win_verify(registration=rewarded, actor=manager)
    made.append(rewarded)
    made.append(factories.make_registration(alice, status="approved", manager=manager))
    return made


@pytest.mark.parametrize("role", ["partner", "manager"])
def test_representation_renders_what_the_serializer_renders(role, registrations, alice, manager):
    user = alice if role == "partner" else manager
    # A draft is the partner's private work: managers never see one (issue 18 §6).
    registrations = [r for r in registrations if role == "partner" or r.status != "draft"]
    rows = list(
        registrations_for_output(selectors.registrations_visible_to(user), user).filter(
            pk__in=[r.pk for r in registrations]
        )
    )
    assert len(rows) == len(registrations)
    by_pk = {r.pk: r for r in registrations}
    page = registrations_data(rows, user)
    assert any(item.get("conflicts") for item in page) == (role == "manager")
    for row, item in zip(rows, page, strict=True):
        assert _render(item) == _reference(by_pk[row.pk], manager=role == "manager", user=user)
        assert _render(registrations_data(row, user, many=False)) == _render(item)


def test_representation_covers_every_serializer_field(registrations, manager):
    row = registrations_for_output(selectors.registrations_visible_to(manager), manager).get(
        pk=registrations[2].pk
    )
    data = s.registration_representation(row, manager=True, conflicts=[], products=[])
    assert list(data) == list(s.RegistrationSerializer().fields)
    partner = s.registration_representation(row, manager=False, products=[])
    assert tuple(partner) == s.PARTNER_REGISTRATION_FIELDS


@pytest.mark.parametrize("role", ["partner", "manager"])
def test_detail_answer_is_byte_identical_to_the_serializer(role, registrations, alice, manager):
    user = alice if role == "partner" else manager
    client = client_for(user)
    client.get("/api/v1/me/")  # token bookkeeping (last_used_at) happens on the first call
    for registration in registrations:
        response = client.get(f"/api/v1/registrations/{registration.pk}/")
        if role == "manager" and registration.status == "draft":
            assert response.status_code == 404  # a partner's private work
            continue
        assert response.status_code == 200
        assert response.content == _reference(registration, manager=role == "manager", user=user)


def test_products_keep_the_serializer_order(alice, product, other_line_product):
    """Product codes come in Product's Meta order (line name, then name), not insertion order."""
    extra = factories.ProductFactory(
        code="crm-addon", name="Add-on", product_line=product.product_line
    )
    registration = factories.make_registration(
        alice, products=[other_line_product.code, product.code, extra.code]
    )
    client = client_for(alice)
    codes = client.get(f"/api/v1/registrations/{registration.pk}/").json()["products"]
    reference = s.product_codes(selectors.registrations_visible_to(alice).get(pk=registration.pk))
    assert codes == reference
    assert len(codes) == 3


@pytest.mark.parametrize("role", ["partner", "manager"])
def test_detail_query_count_is_fixed(role, registrations, alice, manager):
    user = alice if role == "partner" else manager
    client = client_for(user)
    client.get("/api/v1/me/")  # the token lookup is now in the cache (prm.lib.hotcache)
    target = registrations[-1]  # has conflicts (seen by the manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/registrations/{target.pk}/")
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    # The token lookup (shared by the MFA-enrolment middleware and DRF) comes from the cache
    # (the tests' cache is local memory; with the database cache it would be one query): the
    # registration (partner and submitter joined) + its product codes (inside the
    # registration's query on PostgreSQL); managers: + their TOTP check + the review
    # permission (two queries, Django's permission cache) + the conflicts. (Issue 13: one
    # query fewer each than with the token read from the database.)
    expected = (2 if role == "partner" else 6) - (connection.vendor == "postgresql")
    assert len(sql) == expected, "\n".join(sql)
    assert sum("partners_apitoken" in q for q in sql) == 0
    assert sum("deals_dealregistration_products" in q for q in sql) == 1


def test_foreign_detail_is_still_a_404(registrations, bob):
    response = client_for(bob).get(f"/api/v1/registrations/{registrations[0].pk}/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


# --- Conflict engine: one-query candidates (PostgreSQL) ------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("postings", ["rare keys", "2 of the 3 rarest keys"])
def test_one_query_candidates_equal_the_per_probe_candidates(postings, alice, bob, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the one-query path is PostgreSQL's (SQLite uses the per-probe path)")
    if postings != "rare keys":
        monkeypatch.setattr(retrieval, "RAREST_KEY_DF", 0)  # every key counts as very common
    for n in range(6):
        factories.make_registration(
            bob if n % 2 else alice,
            customer_name=f"Globex Analytics {n}",
            customer_domain=f"globex{n}.com",
        )
        factories.make_opportunity(account_name=f"Globex Systems {n}", account_domain="globex.com")
    probes = [
        Identity.from_raw(name="Globex Analytics", domain="globex.com", country="US"),
        Identity.from_raw(name="Globex Analytics 3", domain="", country="US"),
        Identity.from_raw(name="Unseen Name Co", domain="unseen.example", country="DE"),
        Identity.from_raw(name="", domain="globex2.com", country="US"),
    ]
    now = timezone.now()
    for identity in probes:
        one = engine._candidates_in_one_query(identity, now)
        per_probe = engine._candidates_per_probe(identity, now)
        assert sorted(one, key=lambda c: c.id) == sorted(per_probe, key=lambda c: c.id)
    assert engine._candidates_in_one_query(probes[0], now)
