"""Variant classes of company names (issue 15), one table per class, with invented names.

Each class is a rule of normalisation, blocking or scoring: a spelling of the class normalises to
the same name as the reference, shares a blocking key with it, or scores at least review/certain.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conflicts.normalize import name_location, normalize_name, shares_blocking_key
from conflicts.scoring import DEFAULT_CERTAIN, DEFAULT_REVIEW, Identity, score

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _score(a: str, b: str, ca: str = "", cb: str = "") -> int:
    return score(Identity.from_raw(name=a, country=ca), Identity.from_raw(name=b, country=cb)).value


# -- legal forms with spaces or dots in odd places ---------------------------------------------


@pytest.mark.parametrize(
    ("variant", "reference"),
    [
        ("Ovelind N V", "Ovelind N.V."),
        ("Ovelind B. V.", "Ovelind BV"),
        ("OVELIND N. V.,", "Ovelind"),
        ("Ovelind B V.", "Ovelind B.V."),
        ("Ovelind G m b H", "Ovelind GmbH"),
        ("Ovelind S. A.", "Ovelind SA"),
        ("Ovelind A / S", "Ovelind A/S"),
        ("Ovelind CO.,LTD", "Ovelind Co., Ltd."),
        ("Ovelind sp. z o. o.", "Ovelind Sp. z o.o."),
    ],
)
def test_oddly_spaced_or_dotted_legal_forms_normalise_away(variant: str, reference: str) -> None:
    assert normalize_name(variant) == normalize_name(reference) == "ovelind"


# -- legal forms spelled out in the local language ----------------------------------------------


@pytest.mark.parametrize(
    "spelled",
    [
        "Naamloze Vennootschap",
        "NAAMLOOZE VENNOOTSCHAP",
        "BESLOTEN VENNOOTSCHAP",
        "Gesellschaft mit beschränkter Haftung",
        "GESELLSCHAFT MIT BESCHRAENKTER HAFTUNG",
        "Aktiengesellschaft",
        "SOCIETE ANONYME",
        "Società per Azioni",
        "Sociedad Anónima de Capital Variable",
        "Sociedade Anônima",
        "Aktiebolaget",
        "Osakeyhtiö",
        "Aktieselskab",
        "Spółka z ograniczoną odpowiedzialnością",
        "Company Limited",
        "Public Limited Company",
    ],
)
def test_spelled_out_legal_forms_normalise_away(spelled: str) -> None:
    assert normalize_name(f"Tramvik Optics {spelled}") == "tramvik optics"


@pytest.mark.parametrize("foreign", ["Co., Ltd.", "SA", "GmbH", "Inc.", "S.r.l.", "Oy", "PLC"])
def test_a_foreign_entitys_legal_form_on_the_same_company_is_certain(foreign: str) -> None:
    assert _score(f"Tramvik Optics {foreign}", "Tramvik Optics B.V.") >= DEFAULT_CERTAIN


# -- spaced initials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "reference"),
    [
        ("K T V Holding", "KTV Holding"),
        ("K.T.V. Holding", "KTV Holding"),
        ("K. T. V. Holding", "KTV Holding"),
        ("Drammel A B C Services", "Drammel ABC Services"),
        ("3 M X", "3MX"),
    ],
)
def test_runs_of_single_letters_are_joined(variant: str, reference: str) -> None:
    assert normalize_name(variant) == normalize_name(reference)


def test_a_single_letter_alone_is_not_joined_to_a_word() -> None:
    assert normalize_name("Vorsk X Systems") == "vorsk x systems"


@PROFILE
@given(
    st.text("bcdfghklmnpqrstvwxz", min_size=2, max_size=6),
    st.sampled_from(["Holding", "Logistics", "Pharma", "Vorsk", ""]),
)
def test_spacing_out_an_acronym_never_changes_the_name(letters: str, word: str) -> None:
    assert normalize_name(f"{' '.join(letters)} {word}") == normalize_name(f"{letters} {word}")
    assert normalize_name(f"{'. '.join(letters)}. {word}") == normalize_name(f"{letters} {word}")


# -- a location appended ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "location"),
    [
        ("Kemper Velt B.V., UTRECHT, NL", "utrecht ~nl"),
        ("Kemper Velt B.V. te Delft", "delft"),
        ("Kemper Velt GmbH - Berlin", "berlin"),
        ("Kemper Velt GmbH in Hamburg", "hamburg"),
        ("Kemper Velt Ltd (UK)", "~gb"),
        ("Kemper Velt (Netherlands)", "~nl"),
        ("Kemper Velt, Germany", "~de"),
        ("KEMPER VELT SA, LYON", "lyon"),
    ],
)
def test_a_trailing_location_is_split_off_the_name(variant: str, location: str) -> None:
    assert normalize_name(variant) == "kemper velt"
    assert name_location(variant) == location


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Brandt, Kessler", "brandt kessler"),  # two partners' names, not a place
        ("Lindqvist Centre - Donholm", "lindqvist center donholm"),  # a site, no legal form
        ("Women in Tech Ltd", "women in technologies"),  # "in" inside the name
        ("Kemper, Inc.", "kemper"),  # a legal form after the comma
    ],
)
def test_a_tail_that_is_not_a_location_stays_in_the_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected
    assert name_location(raw) == ""


def test_a_location_supports_but_never_decides() -> None:
    assert _score("Kemper Velt GmbH - Berlin", "Kemper Velt GmbH") >= DEFAULT_CERTAIN
    assert _score("Kemper Velt GmbH - Berlin", "KEMPER VELT GMBH, BERLIN") >= DEFAULT_CERTAIN
    other_place = _score("Kemper Velt GmbH - Berlin", "Kemper Velt GmbH - Hamburg")
    assert DEFAULT_REVIEW <= other_place < DEFAULT_CERTAIN
    other_country = _score("Kemper Velt Ltd (UK)", "Kemper Velt Ltd (DE)")
    assert DEFAULT_REVIEW <= other_country < DEFAULT_CERTAIN


def test_a_country_in_the_name_stands_in_for_a_missing_country() -> None:
    assert Identity.from_raw(name="Kemper Velt Ltd (UK)").country == "GB"
    assert Identity.from_raw(name="Kemper Velt Ltd (UK)", country="IE").country == "IE"


def test_same_name_in_another_country_is_never_certain_even_with_a_location() -> None:
    s = _score("Kemper Velt B.V. te Delft", "Kemper Velt B.V.", "NL", "BE")
    assert DEFAULT_REVIEW <= s < DEFAULT_CERTAIN


@PROFILE
@given(
    st.text("aeiouklmnrstvz", min_size=4, max_size=10),
    st.sampled_from(["GmbH", "B.V.", "Ltd", "S.A.", "AB", "Oy"]),
    st.sampled_from([", {c}", " - {c}", " te {c}", " in {c}", ", {c}, NL", " ({c})"]),
    st.text("aeioubdfglmnprstw", min_size=3, max_size=10),
)
def test_a_place_after_a_legal_form_never_changes_the_name(
    word: str, form: str, pattern: str, city: str
) -> None:
    reference = f"Vorsk {word.capitalize()} {form}"
    assert normalize_name(reference + pattern.format(c=city.capitalize())) == normalize_name(
        reference
    )


# -- blocking: one typo (the first letters too), glued / split words, descriptive words ----------


@pytest.mark.parametrize(
    ("variant", "reference"),
    [
        ("Vramholt Kessing", "Framholt Kessing"),  # the first letter
        ("Rvamholtkessing", "Vramholtkessing"),  # the first letters of a long single word
        ("Vramhollt", "Vramholt"),  # a doubled letter
        ("Vramhot", "Vramholt"),  # a dropped letter
        ("Vramholtz Logistiks", "Framholtz Logistics"),  # one typo at each end of the name
        ("Dortmueller", "Dortmüller"),  # a transliteration
        ("Northwest Kessing", "North/West Kessing"),  # glued
        ("Vram Holt", "Vramholt Industries"),  # split, and a descriptive word
        ("Kessing Vramholt", "Vram Holt Kessing"),  # split and moved
        ("Zantrix", "Zantrix Electronics International"),  # descriptive words on one side
    ],
)
def test_variants_share_a_blocking_key(variant: str, reference: str) -> None:
    assert shares_blocking_key(normalize_name(variant), normalize_name(reference))


# -- scoring: certain where a careful reader would be, review where not ----------------------------


@pytest.mark.parametrize(
    ("variant", "reference"),
    [
        ("Vramholtz Kessing GmbH", "Framholtz Kessing GmbH"),  # the first letter, long name
        ("VRAMHOLLTZ B.V.", "Vramholtz B.V."),  # a doubled letter
        ("Vramholz", "Vramholtz"),  # a dropped letter
        ("Dortmueller Optik AG", "Dortmüller Optik AG"),  # a transliteration
        ("NORTH / WEST KESSING", "North/West Kessing"),  # split around a slash
        ("Vramholtz Kessing", "Vramholtzkessing"),  # glued
        ("Zantrix Electronics", "Zantrix"),  # a descriptive word on one side
        ("ZANTRIX INDUSTRIES INTERNATIONAL", "Zantrix N.V."),
        ("Zantrex Electronics Ltd", "Zantrix Ltd"),  # descriptive word and a typo
        ("K T V Holding", "KTV Holding GmbH"),
        ("Zantrix N V, Utrecht, NL", "Zantrix Naamlooze Vennootschap"),
    ],
)
def test_variant_spellings_are_certain(variant: str, reference: str) -> None:
    assert _score(variant, reference) >= DEFAULT_CERTAIN


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Burley", "Hurley"),  # a short name, the first letter differs: two names
        ("Kessing Touch II", "Kessing Touch I"),  # numbered sites
        ("Studio 54 Kessing", "Studio 55 Kessing"),
        ("Zantrix Holding", "Zantrix"),  # parent vs subsidiary: review at most
        ("Zantrix Group", "Zantrix Electronics"),
        ("Delta Electronics", "Delta"),  # an ordinary word is not distinctive
        ("Zantrix Electronics", "Zantrix Industries"),  # a descriptive word on both sides
        ("Zantrix Software", "Zantrix"),  # a business word is not descriptive
    ],
)
def test_look_alikes_are_never_certain(a: str, b: str) -> None:
    assert _score(a, b) < DEFAULT_CERTAIN


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Zantrix Holding", "Zantrix"),
        ("Vramholtz Crane", "Vramholtz Craine"),
        ("Vramholt", "Vramhotl"),
    ],
)
def test_hard_variants_still_reach_review(a: str, b: str) -> None:
    assert _score(a, b) >= DEFAULT_REVIEW


def test_a_variant_in_another_country_is_review_not_certain() -> None:
    s = _score("Vramholtz Kessing GmbH", "Framholtz Kessing GmbH", "DE", "AT")
    assert DEFAULT_REVIEW <= s < DEFAULT_CERTAIN


@pytest.mark.parametrize(
    ("acronym", "expansion"),
    [("KTV", "Kessing Tramvik Venlo"), ("KTV", "Kessing Tramvik Venlo Holding B.V.")],
)
def test_acronym_vs_expansion_is_found_but_never_certain(acronym: str, expansion: str) -> None:
    assert shares_blocking_key(normalize_name(acronym), normalize_name(expansion))
    assert DEFAULT_REVIEW <= _score(acronym, expansion) < DEFAULT_CERTAIN
