"""prm.frozen: hot-path querysets compiled once per connection, run with new values.

The suite runs with FROZEN_QUERIES_CHECK on (every frozen call is compared with a fresh
compile); these tests pin the runner itself (check off: only the cached SQL runs), the
refusals, and that the ISO-07 guard sees the real values behind the sentinels."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from deals.access import access_registration_for_user
from deals.api.views import registration_for_output
from deals.models import DealRegistration
from deals.registrations import selectors
from partners.authentication import token_for_key
from partners.services import token_create
from prm.exceptions import NotFound
from prm.frozen import FrozenQueryError, frozen_first, frozen_list
from tests import factories
from tests.security.guard import UnscopedQueryError

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


@pytest.fixture
def registrations(alice, bob):
    return [factories.make_registration(alice) for _ in range(3)] + [
        factories.make_registration(bob)
    ]


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_runner_builds_the_same_objects_as_the_orm(registrations, alice):
    """Fields, select_related objects and annotations equal the ORM's, for every value."""
    partner_id = alice.membership.partner_id

    def build(partner_id, pk):
        return (
            selectors.registrations_in_scope("partner", partner_id=partner_id)
            .select_related(None)
            .select_related("partner", "submitted_by")
            .prefetch_related(None)
            .filter(pk=pk)[:1]
        )

    for registration in registrations:
        values = {"partner_id": partner_id, "pk": registration.pk}
        got = frozen_first(("test", "runner"), build, values)
        expected = build(**values).first()
        if expected is None:  # bob's: outside alice's scope
            assert got is None
            continue
        assert _fields(got) == _fields(expected)
        assert _fields(got.partner) == _fields(expected.partner)
        assert _fields(got.submitted_by) == _fields(expected.submitted_by)


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_second_call_does_not_rebuild(registrations, alice):
    calls = []

    def build(pk):
        calls.append(pk)
        return DealRegistration.objects.filter(pk=pk).order_by()[:1]

    for registration in registrations:
        assert frozen_first(("test", "once"), build, {"pk": registration.pk}).pk == registration.pk
    assert len(calls) == 1  # the compile, with a sentinel
    assert calls[0] < 0


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_frozen_list_keeps_every_row(registrations, alice):
    partner_id = alice.membership.partner_id
    rows = frozen_list(
        ("test", "list"),
        lambda partner_id: DealRegistration.objects.filter(partner_id=partner_id).order_by("pk"),
        {"partner_id": partner_id},
    )
    assert [r.pk for r in rows] == [r.pk for r in registrations[:3]]


def test_check_mode_catches_a_value_hidden_in_the_builder(registrations):
    hidden = {"floor": registrations[0].pk}

    def build(pk):  # `pk` is declared, the floor is not
        return DealRegistration.objects.filter(pk=pk, id__gte=hidden["floor"])[:1]

    assert frozen_first(("test", "hidden"), build, {"pk": registrations[1].pk})
    hidden["floor"] = registrations[1].pk  # the frozen SQL still carries the old floor
    with pytest.raises(FrozenQueryError, match="differs from a fresh compile"):
        frozen_first(("test", "hidden"), build, {"pk": registrations[1].pk})


def test_values_that_sql_transforms_are_refused(registrations):
    with pytest.raises(FrozenQueryError):
        frozen_first(
            ("test", "icontains"),
            lambda name: DealRegistration.objects.filter(customer_name__icontains=name)[:1],
            {"name": "acme"},
        )
    with pytest.raises(FrozenQueryError, match="booleans"):
        frozen_first(
            ("test", "bool"),
            lambda flag: DealRegistration.objects.filter(co_sell=flag)[:1],
            {"flag": True},
        )


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_detail_fetch_scoped_per_partner_with_the_cache_warm(registrations, alice, bob, manager):
    """The same compiled shape serves every partner with its own id: never another's row."""
    mine, theirs = registrations[0], registrations[-1]
    assert registration_for_output(alice, mine.pk).pk == mine.pk
    with pytest.raises(NotFound):
        registration_for_output(alice, theirs.pk)
    assert registration_for_output(bob, theirs.pk).pk == theirs.pk
    with pytest.raises(NotFound):
        registration_for_output(bob, mine.pk)
    # Managers have their own shape (no partner filter, the decider joined).
    assert {registration_for_output(manager, r.pk).pk for r in registrations} == {
        r.pk for r in registrations
    }
    # The plain accessor agrees.
    assert access_registration_for_user(alice, mine.pk).pk == mine.pk


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_token_lookup_is_one_query_and_answers_per_key(alice, bob):
    _, raw_a = token_create(user=alice)
    _, raw_b = token_create(user=bob)
    assert token_for_key(raw_a).user == alice
    with CaptureQueriesContext(connection) as queries:
        token = token_for_key(raw_b)
        assert token.user == bob
        assert token.user.membership.partner == bob.membership.partner
    assert len(queries.captured_queries) == 1
    assert token_for_key(raw_a + "x") is None


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_iso07_guard_sees_the_real_values_of_a_frozen_query(
    alice, registrations, unscoped_query_guard
):
    """The compiled query carries sentinels; the guard checks the values bound for the run."""
    from prm.security_log import current_request

    class FakeRequest:
        method, path, user = "GET", "/probe", alice

    bob_partner_id = registrations[-1].partner_id

    def build(partner_id):
        return DealRegistration.objects.filter(partner_id=partner_id).order_by("pk")

    token = current_request.set(FakeRequest())
    try:
        own = frozen_list(("test", "guard"), build, {"partner_id": alice.membership.partner_id})
        assert len(own) == 3
        with pytest.raises(UnscopedQueryError):
            frozen_list(("test", "guard"), build, {"partner_id": bob_partner_id})
    finally:
        current_request.reset(token)
    assert len(unscoped_query_guard) == 1


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_values_list_querysets_come_back_as_tuples(registrations, alice):
    partner_id = alice.membership.partner_id

    def build(partner_id):
        return (
            DealRegistration.objects.filter(partner_id=partner_id)
            .order_by("pk")
            .values_list("pk", "customer_name")
        )

    for _ in range(2):  # the compile, then the cached run
        rows = frozen_list(("test", "values_list"), build, {"partner_id": partner_id})
        assert rows == list(build(partner_id))
        assert len(rows) == 3 and all(isinstance(row, tuple) for row in rows)


@override_settings(FROZEN_QUERIES_CHECK=False)
def test_engine_key_frequencies_equal_the_orm(db):
    from conflicts.engine import _key_frequencies
    from conflicts.models import KeyFrequency

    KeyFrequency.objects.bulk_create(
        [KeyFrequency(key="n:acme", df=3), KeyFrequency(key="p:acme", df=7)]
        + [KeyFrequency(key="n:gone", df=0)]
    )
    keys = ["n:acme", "p:acme", "n:gone", "n:absent"]
    expected = sorted(KeyFrequency.objects.filter(key__in=keys, df__gt=0).values_list("df", "key"))
    assert sorted(_key_frequencies(keys)) == expected == [(3, "n:acme"), (7, "p:acme")]
    assert sorted(_key_frequencies(list(reversed(keys)))) == expected
