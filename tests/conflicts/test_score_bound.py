"""The engine's cheap bound (scoring._name_may_reach / score_reaching) never drops a pair that
reaches the threshold, and rules out most pairs that do not: it only saves time (issue 15)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.matching_eval import variants
from conflicts.normalize import normalize_name, shares_blocking_key
from conflicts.scoring import Identity, _name_may_reach, name_score, score, score_reaching

FLOORS = (1, 50, 70, 85, 89, 90, 95, 100)


def _variant_pairs() -> list[tuple[str, str]]:
    """Spellings of one company and look-alikes (bench.matching_eval's generator), every pair
    the index could hand to the scorer (sharing a blocking key)."""
    indexed, probes = variants.mixed(seed=7, companies=60)
    registry = variants.registry(seed=8, companies=20)
    names = sorted({normalize_name(r.raw["name"]) for r in [*indexed, *probes, *registry]} - {""})
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if shares_blocking_key(a, b)
    ]


PAIRS = _variant_pairs()


def test_the_bound_never_drops_a_pair_that_reaches_the_floor():
    assert len(PAIRS) > 2000
    reaching = 0
    for a, b in PAIRS:
        value = name_score(a, b)
        for floor in FLOORS:
            if value >= floor:
                reaching += 1
                assert _name_may_reach(a, b, floor), (a, b, value, floor)
                assert _name_may_reach(b, a, floor), (b, a, value, floor)
    assert reaching > 1000


def test_the_bound_rules_out_most_pairs_below_review():
    below = [(a, b) for a, b in PAIRS if name_score(a, b) < 60]
    passed = sum(_name_may_reach(a, b, 85) for a, b in below)
    assert len(below) > 500
    assert passed / len(below) < 0.25


def test_score_reaching_is_score_above_the_floor_and_none_below():
    for a, b in PAIRS[:3000]:
        left, right = Identity(name=a, country="US"), Identity(name=b, country="US")
        full = score(left, right)
        for floor in (70, 85, 95):
            got = score_reaching(left, right, floor)
            assert got == (full if full.value >= floor else None)


def test_domain_evidence_is_never_ruled_out_by_the_name():
    a = Identity(name="zantrix", domain="zantrix.com")
    b = Identity(name="completely other", domain="zantrix.com")
    assert score_reaching(a, b, 85).value == 100
    mail = Identity(name="nothing alike", email_domain="zantrix.com")
    assert score_reaching(a, mail, 85).value == 95


_WORDS = st.sampled_from(
    "acme akme acne group holdings global systems zantrix zantriks tech technologies "
    "mueller muller studio 54 55 i ii ab abb a b c international de la bank royal".split()
)


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(_WORDS, min_size=1, max_size=4),
    st.lists(_WORDS, min_size=1, max_size=4),
    st.sampled_from(FLOORS),
)
def test_the_bound_is_sound_on_generated_names(ta, tb, floor):
    a, b = normalize_name(" ".join(ta)), normalize_name(" ".join(tb))
    if name_score(a, b) >= floor:
        assert _name_may_reach(a, b, floor)


@pytest.mark.parametrize("floor", [85, 95])
def test_numbered_siblings_are_ruled_out_cheaply(floor):
    assert not _name_may_reach("customer 1034 holdings", "customer 1035 holdings", floor)
