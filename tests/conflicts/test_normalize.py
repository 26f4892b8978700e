"""Name / domain / e-mail normalisation (pure, no database)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conflicts.freemail import EXPLICIT_FREE_MAIL_DOMAINS, FREE_MAIL_DOMAINS
from conflicts.normalize import company_domain, is_free_mail, name_tokens, normalize_name
from conflicts.scoring import Identity, score
from prm.lib.domains import registrable_domain

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- names: table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Globex Corp.", "GLOBEX Corporation, Inc."),
        ("Procter & Gamble", "Procter and Gamble"),
        ("The Boeing Company", "Boeing"),
        ("Müller GmbH", "MULLER AG"),
        ("Société Générale S.A.", "Societe Generale"),
        ("Société Générale S.A.", "SOCIÉTÉ GÉNÉRALE, société anonyme"),
        ("Nestlé S.A.", "Nestle"),
        ("Siemens Aktiengesellschaft", "Siemens AG"),
        ("株式会社トヨタ", "Toyota Kabushiki Kaisha"),
        ("Toyota K.K.", "Toyota KK"),
        ("Bosch GmbH & Co. KG", "Bosch"),
        ("Acme Sp. z o.o.", "ACME"),
        ("Acme S.à r.l.", "Acme SARL"),
        ("Novo Nordisk A/S", "Novo Nordisk AS"),
        ("AB Volvo (publ)", "Volvo AB"),
        ("Grupo Bimbo, S.A.B. de C.V.", "Grupo Bimbo"),
        ("Acme Pty Ltd", "Acme Limited"),
        ("Acme Sdn. Bhd.", "Acme Berhad"),
        ("Acme Pte. Ltd.", "Acme"),
        ("Acme Limited Liability Company", "Acme L.L.C."),
        ("Acme Intl Tech Svcs", "Acme International Technologies Services"),
        ("Acme Mfg Co", "Acme Manufacturing Company"),
        ("ACME Labs", "Acme Laboratories"),
        ("Acme Centre", "Acme Center"),
        ("Smith Bros", "Smith Brothers"),
        ("AT&amp;T Inc.", "AT&T"),
        ("J.P. Morgan", "JP Morgan"),
        ("McDonald's Corporation", "McDonalds"),
        ("ООО Ромашка", "Romashka"),
        ("Straße GmbH", "Strasse"),
    ],
)
def test_variants_normalise_equal(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b) != ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Globex Corp.", "globex"),
        ("Müller GmbH", "muller"),
        ("Société Générale S.A.", "societe generale"),
        ("Nestlé S.A.", "nestle"),
        ("Siemens Aktiengesellschaft", "siemens"),
        ("株式会社トヨタ", "toyota"),
        ("Procter & Gamble", "procter gamble"),
        ("The Boeing Company", "boeing"),
        ("Forbes LLC", "forbes"),
        ("3M Company", "3m"),
        ("SCHLUMBERGER HOLDINGS", "schlumberger holdings"),
        ("Schlumberger Limited", "schlumberger"),
        ("", ""),
        ("   ", ""),
        ("\t\n", ""),
    ],
)
def test_normalize_name_table(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["The Co", "The", "Limited", "Inc.", "LLC", "GmbH & Co. KG", "de la"]
)
def test_never_reduced_to_nothing(raw: str) -> None:
    assert normalize_name(raw) != ""


def test_forbes_llc_keeps_its_name() -> None:
    assert normalize_name("Forbes LLC") == "forbes"
    assert normalize_name("The Co") == "co"


def test_name_tokens() -> None:
    assert name_tokens(normalize_name("The Acme Widgets, Inc.")) == ["acme", "widgets"]
    assert name_tokens("") == []


# -- names: properties -----------------------------------------------------------------------

_LEGALISH = st.sampled_from(
    [
        "Inc.",
        "GmbH & Co. KG",
        "S.A.",
        "Sp. z o.o.",
        "the",
        "de",
        "&",
        "and",
        "Co",
        "Ltd",
        "A/S",
        "S.à r.l.",
        "株式会社",
        "intl",
        "tech",
        "K.K.",
        "AB",
        "Oy",
        "holding",
        "&amp;",
        "J.P.",
        "B. V.",
        "ß",
        "Ø",
        "'s",
        "-",
        ".",
        "te",
        "in",
        "(UK)",
        ", NL",
        " - ",
        "N V",
        "Germany",
    ]
)
_WORDISH = st.text(
    alphabet=st.sampled_from(list("abcdeßøæéü ÅÉ.&'/-+,;()株式会社Ωж北京0123456789")), max_size=20
)
_NAMEISH = st.lists(st.one_of(_LEGALISH, _WORDISH), max_size=8).map(" ".join)


@PROFILE
@given(st.one_of(st.text(max_size=60), _NAMEISH))
def test_normalize_name_is_idempotent(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert once.isascii()
    if raw.strip() and once:
        assert once == " ".join(name_tokens(once))


_BASE_WORDS = st.sampled_from(
    [
        "Globex",
        "Initech",
        "Umbrella",
        "Hooli",
        "Wayne",
        "Stark",
        "Cyberdyne",
        "Soylent",
        "Tyrell",
        "Wonka",
        "Müller",
        "Société",
        "Nordström",
        "Łukasiewicz",
        "Ørsted",
        "Zürich",
    ]
)
_TAIL_WORDS = st.sampled_from(
    ["Widgets", "Dynamics", "Foods", "Robotics", "Brewing", "Analytics", "Energy", ""]
)
_ABBREV = st.sampled_from(
    [
        ("International", "Intl"),
        ("Technologies", "Tech"),
        ("Services", "Svcs"),
        ("Manufacturing", "Mfg"),
        ("Laboratories", "Labs"),
        ("Management", "Mgmt"),
        ("", ""),
    ]
)
_SUFFIXES = st.sampled_from(
    [
        "",
        "Inc.",
        "Inc",
        "Corp.",
        "Corporation",
        "LLC",
        "Ltd",
        "Limited",
        "GmbH",
        "AG",
        "S.A.",
        "SAS",
        "S.p.A.",
        "B.V.",
        "N.V.",
        "Oy",
        "AB",
        "A/S",
        "Pty Ltd",
        "K.K.",
        "Sdn Bhd",
        "GmbH & Co. KG",
        "Sp. z o.o.",
        "Aktiengesellschaft",
        "Société Anonyme",
    ]
)


@PROFILE
@given(
    base=_BASE_WORDS,
    tail=_TAIL_WORDS,
    abbrev=_ABBREV,
    suffix_a=_SUFFIXES,
    suffix_b=_SUFFIXES,
    case=st.sampled_from(["upper", "lower", "title", "same"]),
    punct=st.sampled_from(["", ",", ".", " -"]),
    accents=st.booleans(),
    use_abbrev=st.booleans(),
)
def test_variants_score_as_the_same_customer(
    base, tail, abbrev, suffix_a, suffix_b, case, punct, accents, use_abbrev
) -> None:
    long_word, short_word = abbrev
    a = " ".join(w for w in (base, tail, long_word) if w)
    b = " ".join(w for w in (base, tail, short_word if use_abbrev else long_word) if w)
    a = f"{a} {suffix_a}".strip()
    b = f"{b}{punct} {suffix_b}".strip()
    if accents:
        import unicodedata

        b = "".join(c for c in unicodedata.normalize("NFKD", b) if not unicodedata.combining(c))
    b = {"upper": b.upper(), "lower": b.lower(), "title": b.title(), "same": b}[case]
    na, nb = normalize_name(a), normalize_name(b)
    s = score(Identity(name=na), Identity(name=nb))
    assert na == nb or s.value >= 95, (a, b, na, nb, s)


# -- domains ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("www.globex.com/", "globex.com"),
        ("globex.com", "globex.com"),
        ("GLOBEX.COM.", "globex.com"),
        ("https://user:pw@Shop.Example.co.uk:8443/path?q", "example.co.uk"),
        ("http://www.acme-corp.co.uk/about#team", "acme-corp.co.uk"),
        ("shop.example.com.au", "example.com.au"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("https://www.münchen.de/", "xn--mnchen-3ya.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("bob@sales.acme.de", "acme.de"),
        ("Bob.Smith@ACME.de", "acme.de"),
        ("mailto:jane@acme.com", "acme.com"),
        ("acme.github.io", "acme.github.io"),
        ("https://acme.github.io/docs", "acme.github.io"),
        ("  https://globex.com  ", "globex.com"),
        ("globex.com?x=1", "globex.com"),
        ("", ""),
        ("localhost", ""),
        ("http://localhost:8000/", ""),
        ("192.168.0.1", ""),
        ("http://[::1]:80/", ""),
        ("not a domain", ""),
        ("acme", ""),
        ("acme..com", ""),
        ("-acme.com", ""),
        ("acme.com\x00evil", ""),
        ("com", ""),
        ("co.uk", ""),
        ("bob@", ""),
        ("@", ""),
    ],
)
def test_registrable_domain(value: str, expected: str) -> None:
    assert registrable_domain(value) == expected


@PROFILE
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda scheme, user, host, port, path: f"{scheme}{user}{host}{port}{path}",
            st.sampled_from(["", "http://", "https://", "ftp://", "//", "mailto:"]),
            st.sampled_from(["", "user@", "u:p@", "@", "a@b@"]),
            st.text(max_size=30),
            st.sampled_from(["", ":80", ":", ":99999", ":x"]),
            st.text(max_size=10),
        ),
    )
)
def test_registrable_domain_never_raises(value: str) -> None:
    out = registrable_domain(value)
    assert isinstance(out, str)
    assert out == out.lower()
    assert out.isascii()
    if out:
        assert "." in out and registrable_domain(out) == out
    assert isinstance(company_domain(value), str)


def test_registrable_domain_rejects_non_str() -> None:
    assert registrable_domain(None) == ""  # type: ignore[arg-type]
    assert registrable_domain(123) == ""  # type: ignore[arg-type]


# -- free mail ---------------------------------------------------------------------------------


def test_freemail_explicit_list_has_at_least_100_entries() -> None:
    assert len(EXPLICIT_FREE_MAIL_DOMAINS) >= 100
    for d in (
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "web.de",
        "t-online.de",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "mail.ru",
        "zoho.com",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
    ):
        assert d in EXPLICIT_FREE_MAIL_DOMAINS, d
    assert FREE_MAIL_DOMAINS >= EXPLICIT_FREE_MAIL_DOMAINS
    assert "github.io" not in EXPLICIT_FREE_MAIL_DOMAINS


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "hotmail.co.uk",
        "yahoo.fr",
        "hotmail.co.th",
        "yahoo.com.ar",
        "gmx.at",
        "yandex.kz",
        "live.com.mx",
        "GMAIL.COM",
        "web.de",
    ],
)
def test_is_free_mail(domain: str) -> None:
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["acme.com", "globex.co.uk", "acme.github.io", "", "gmailx.com"])
def test_is_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob@gmail.com", ""),
        ("bob@hotmail.co.uk", ""),
        ("https://mail.yahoo.fr/", ""),
        ("bob@sales.acme.de", "acme.de"),
        ("https://www.globex.com/x", "globex.com"),
        ("", ""),
    ],
)
def test_company_domain(value: str, expected: str) -> None:
    assert company_domain(value) == expected
