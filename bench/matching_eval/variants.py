"""Invented company names in many countries and their variant spellings, by variant class.

The classes are those of issue 15 (an outside evaluation's unmatched variants): legal forms
spaced or dotted oddly, spelled out in the local language, or a foreign entity's form; spaced
initials; a location appended; typos anywhere (the first letters too), doubled or dropped
letters, transliterations; extra descriptive words in one spelling; words glued or split. The
names are made up from syllables (no real company, no copy of any data set), deterministic
for a seed.

- ``mixed``: reference spellings indexed, each variant probes the index (plus look-alike
  companies, which must never be certain against another one).
- ``registry``: every spelling in ALL CAPS, all indexed, each probing all the others (the
  style of a company registry extract: several spellings per company).
"""

from __future__ import annotations

import random
import unicodedata

from bench.matching_eval.retrieval import Record

SEED = 20261202

_ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "pr", "r"]
_ONSETS += ["s", "st", "t", "tr", "v", "w", "z", "sch", "th", "ch", "j", "c", "cl", "fl", "sk"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ei", "oo", "au", "ü", "ö", "é", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "x", "k", "m", "nd", "rt", "st", "ck", "ng"]

_DESCRIPTIVE = ["Industries", "Electronics", "International", "Holding", "Group", "Technologies"]
_BUSINESS = [
    "Logistics",
    "Pharma",
    "Foods",
    "Shipping",
    "Software",
    "Textiles",
    "Bouw",
    "Maschinenbau",
    "Energie",
    "Chemie",
    "Media",
    "Optics",
    "Metaal",
    "Verlag",
]

#: country → (typical forms, spelled-out forms per typical form, oddly spaced/dotted forms,
#: city names for location fragments)
COUNTRIES: dict[str, tuple[list[str], dict[str, list[str]], list[str], list[str]]] = {
    "NL": (
        ["B.V.", "N.V."],
        {
            "B.V.": ["Besloten Vennootschap"],
            "N.V.": ["Naamloze Vennootschap", "Naamlooze Vennootschap"],
        },
        ["B V", "B. V.", "B V.", "N V", "N. V.,", "N.V"],
        ["Utrecht", "Delft", "Rotterdam"],
    ),
    "BE": (
        ["NV", "BVBA"],
        {"NV": ["Naamloze Vennootschap"]},
        ["N. V.", "N V"],
        ["Gent", "Antwerpen"],
    ),
    "DE": (
        ["GmbH", "AG"],
        {
            "GmbH": [
                "Gesellschaft mit beschränkter Haftung",
                "Gesellschaft mit beschraenkter Haftung",
            ],
            "AG": ["Aktiengesellschaft"],
        },
        ["G.m.b.H.", "Gmbh.", "G m b H", "A. G."],
        ["Berlin", "Hamburg", "München"],
    ),
    "AT": (
        ["GmbH", "AG"],
        {"GmbH": ["Gesellschaft mbH"], "AG": ["Aktiengesellschaft"]},
        ["Ges.m.b.H.", "A.G."],
        ["Wien", "Graz"],
    ),
    "CH": (
        ["AG", "SA"],
        {"AG": ["Aktiengesellschaft"], "SA": ["Société Anonyme"]},
        ["A.G.", "S. A."],
        ["Zürich", "Genève"],
    ),
    "FR": (
        ["SA", "SAS", "SARL"],
        {
            "SA": ["Société Anonyme", "Societe Anonyme"],
            "SARL": ["Société à Responsabilité Limitée"],
        },
        ["S.A.", "S. A.", "S.A.S.", "S.à r.l."],
        ["Paris", "Lyon"],
    ),
    "IT": (
        ["S.p.A.", "S.r.l."],
        {"S.p.A.": ["Società per Azioni"], "S.r.l.": ["Società a Responsabilità Limitata"]},
        ["SpA", "S.P.A", "S. r. l.", "Srl"],
        ["Milano", "Torino"],
    ),
    "ES": (
        ["S.A.", "S.L."],
        {"S.A.": ["Sociedad Anónima"], "S.L.": ["Sociedad Limitada"]},
        ["S. A.", "SA.", "S L"],
        ["Madrid", "Valencia"],
    ),
    "SE": (
        ["AB"],
        {"AB": ["Aktiebolag", "Aktiebolaget"]},
        ["A.B.", "AB (publ)", "A B"],
        ["Stockholm", "Malmö"],
    ),
    "FI": (["Oy", "Oyj"], {"Oy": ["Osakeyhtiö"]}, ["OY", "O.Y."], ["Helsinki", "Espoo"]),
    "DK": (
        ["A/S", "ApS"],
        {"A/S": ["Aktieselskab"], "ApS": ["Anpartsselskab"]},
        ["A / S", "AS"],
        ["Aarhus", "Odense"],
    ),
    "NO": (["AS", "ASA"], {"AS": ["Aksjeselskap"]}, ["A.S.", "A S"], ["Oslo", "Bergen"]),
    "GB": (
        ["Ltd", "PLC"],
        {"Ltd": ["Limited"], "PLC": ["Public Limited Company"]},
        ["Ltd.", "L.T.D.", "P.L.C."],
        ["Leeds", "Bristol"],
    ),
    "US": (
        ["Inc.", "Corp.", "LLC"],
        {"Inc.": ["Incorporated"], "Corp.": ["Corporation"], "LLC": ["Limited Liability Company"]},
        ["Inc", "L.L.C.", "Corp"],
        ["Austin", "Denver"],
    ),
    "JP": (
        ["Co., Ltd.", "K.K."],
        {"K.K.": ["Kabushiki Kaisha"], "Co., Ltd.": ["Company Limited"]},
        ["Co.,Ltd.", "Co. Ltd", "CO.,LTD"],
        ["Osaka", "Tokyo"],
    ),
    "CN": (
        ["Co., Ltd."],
        {"Co., Ltd.": ["Company Limited"]},
        ["Co.,Ltd", "Co Ltd."],
        ["Shenzhen", "Suzhou"],
    ),
    "PL": (
        ["Sp. z o.o.", "S.A."],
        {"Sp. z o.o.": ["Spółka z ograniczoną odpowiedzialnością"], "S.A.": ["Spółka Akcyjna"]},
        ["Sp.z o.o.", "sp. z o. o."],
        ["Kraków", "Gdańsk"],
    ),
    "BR": (
        ["Ltda.", "S.A."],
        {"Ltda.": ["Limitada"], "S.A.": ["Sociedade Anônima"]},
        ["LTDA", "S/A"],
        ["Curitiba", "Recife"],
    ),
    "MX": (
        ["S.A. de C.V."],
        {"S.A. de C.V.": ["Sociedad Anónima de Capital Variable"]},
        ["SA de CV", "S.A. DE C.V."],
        ["Monterrey", "Puebla"],
    ),
    "KR": (["Co., Ltd."], {"Co., Ltd.": ["Company Limited"]}, ["Co.,Ltd."], ["Busan", "Incheon"]),
}
_FOREIGN = ["Co., Ltd.", "SA", "GmbH", "Inc.", "Ltd", "B.V.", "AG", "S.r.l."]


def _word(rng: random.Random, syllables: int | None = None) -> str:
    n = syllables or rng.choice([2, 2, 3, 3, 4])
    w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n))
    return w.capitalize()


def _ascii_translit(s: str) -> str:
    """German-style transliteration (ü→ue, ö→oe, é→e): what a registry without accents keeps."""
    s = s.replace("ü", "ue").replace("ö", "oe").replace("Ü", "Ue").replace("Ö", "Oe")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _typo(rng: random.Random, word: str, *, first: bool) -> str:
    for _ in range(20):
        out = _typo_once(rng, word, first=first)
        if out.casefold() != word.casefold():
            return out
    return word + "e"


def _typo_once(rng: random.Random, word: str, *, first: bool) -> str:
    w = list(word)
    pos = rng.randrange(0, min(2, len(w))) if first else rng.randrange(2, max(3, len(w)))
    pos = min(pos, len(w) - 1)
    op = rng.choice(["sub", "double", "drop", "swap"])
    letters = "abcdefghiklmnoprstuvz"
    if op == "sub":
        w[pos] = rng.choice(letters)
        if pos == 0:
            w[0] = w[0].upper()
    elif op == "double":
        w.insert(pos, w[pos].lower())
    elif op == "drop" and len(w) > 4:
        del w[pos]
    elif pos + 1 < len(w):
        w[pos], w[pos + 1] = w[pos + 1], w[pos]
    return "".join(w).capitalize() if first else "".join(w)


class Company:
    def __init__(self, rng: random.Random, country: str) -> None:
        self.country = country
        shape = rng.random()
        if shape < 0.45:
            self.words = [_word(rng)]
        elif shape < 0.75:
            self.words = [_word(rng), rng.choice(_BUSINESS)]
        elif shape < 0.9:
            self.words = [_word(rng, 2), _word(rng, 2)]
        else:  # an acronym-style name: "KTV Holding"
            self.words = ["".join(rng.choice("BCDFGHKLMNPRSTVWXZ") for _ in range(3)), "Holding"]
        forms, _, _, _ = COUNTRIES[country]
        self.form = rng.choice(forms)

    def name(self, words: list[str] | None = None, form: str | None = None) -> str:
        return f"{' '.join(words or self.words)} {self.form if form is None else form}".strip()


def variants(rng: random.Random, co: Company) -> list[tuple[str, str]]:
    """(kind, spelling) for one company: one per applicable variant class."""
    forms, spelled, odd, cities = COUNTRIES[co.country]
    out: list[tuple[str, str]] = []
    out.append(("legal_spaced", co.name(form=rng.choice(odd))))
    if co.form in spelled:
        out.append(("legal_spelled", co.name(form=rng.choice(spelled[co.form]))))
    out.append(("legal_foreign", co.name(form=rng.choice([f for f in _FOREIGN if f != co.form]))))
    out.append(("legal_dropped", co.name(form="")))
    if len(co.words[0]) == 3 and co.words[0].isupper():
        out.append(("initials", co.name(words=[" ".join(co.words[0]), *co.words[1:]])))
    city = rng.choice(cities)
    loc = rng.choice(
        [
            f", {city.upper()}, {co.country}",
            f" te {city}",
            f" - {city}",
            f" ({co.country})",
            f" in {city}",
            f", {city}",
        ]
    )
    out.append(("location", co.name() + loc))
    w0 = co.words[0]
    if not w0.isupper():
        out.append(("typo_first", co.name(words=[_typo(rng, w0, first=True), *co.words[1:]])))
        out.append(("typo", co.name(words=[_typo(rng, w0, first=False), *co.words[1:]])))
    if _ascii_translit(co.name()) != co.name():
        out.append(("translit", _ascii_translit(co.name())))
    desc = rng.choice(_DESCRIPTIVE)
    if desc not in co.words:
        out.append(("descriptive", co.name(words=[*co.words, desc])))
    if len(co.words) == 2 and not co.words[0].isupper():
        glued = co.words[0] + co.words[1].lower()
        out.append(("glued", co.name(words=[glued])))
    elif len(w0) >= 6 and not w0.isupper():
        cut = len(w0) // 2
        out.append(("split", co.name(words=[w0[:cut], w0[cut:].capitalize(), *co.words[1:]])))
    if len(co.words) >= 2 and not co.words[0].isupper():
        out.append(("slash", co.name(words=[f"{co.words[0]}/{co.words[1]}"])))
    return out


def look_alikes(rng: random.Random, co: Company) -> list[tuple[str, Company]]:
    """Different companies that look like *co* (same first word, other business; an extra
    distinctive word; a short name one letter away)."""
    out = []
    other = Company(rng, co.country)
    other.words = [co.words[0], rng.choice([b for b in _BUSINESS if b not in co.words])]
    out.append(("same_first_word", other))
    other2 = Company(rng, co.country)
    other2.words = [*co.words, _word(rng, 2)]
    out.append(("extra_distinctive", other2))
    return out


def mixed(seed: int = SEED, companies: int = 400) -> tuple[list[Record], list[Record]]:
    """(indexed reference spellings, probing variant spellings + look-alikes)."""
    rng = random.Random(seed)
    indexed: list[Record] = []
    probes: list[Record] = []
    countries = sorted(COUNTRIES)
    for i in range(companies):
        co = Company(rng, countries[i % len(countries)])
        cid = f"v{i}"
        indexed.append(Record(cid, {"name": co.name(), "country": co.country}))
        for kind, spelling in variants(rng, co):
            probes.append(Record(cid, {"name": spelling, "country": co.country}, kind))
        if i % 6 == 0:
            for j, (kind, la) in enumerate(look_alikes(rng, co)):
                probes.append(
                    Record(f"{cid}n{j}", {"name": la.name(), "country": la.country}, f"neg_{kind}")
                )
    return indexed, probes


def registry(seed: int = SEED + 1, companies: int = 150) -> list[Record]:
    """Every spelling in ALL CAPS, several per company, all indexed (self-probe)."""
    rng = random.Random(seed)
    out: list[Record] = []
    countries = sorted(COUNTRIES)
    for i in range(companies):
        co = Company(rng, countries[i % len(countries)])
        cid = f"r{i}"
        out.append(Record(cid, {"name": co.name().upper()}, "reference"))
        vs = variants(rng, co)
        rng.shuffle(vs)
        for kind, spelling in vs[: rng.randint(5, 9)]:
            out.append(Record(cid, {"name": spelling.upper()}, kind))
    return out
