"""Pure normalisation for conflict matching: company names, domains, e-mail domains, keys.

No Django, no database. Everything here is deterministic and versioned by the module
(``NORMALIZER_VERSION``): if the output of :func:`normalize_name` or :func:`blocking_keys`
changes, bump it so the index can be rebuilt.

See ``docs/matching.md`` ("Normalisation" and "Blocking keys").
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from anyascii import anyascii

from conflicts.freemail import FREE_MAIL_DOMAINS, FREE_MAIL_FAMILIES
from prm.lib.domains import registrable_domain

NORMALIZER_VERSION = 3

MAX_KEY_LEN = 190

# ---------------------------------------------------------------------------------------------
# Name normalisation data
# ---------------------------------------------------------------------------------------------

#: Characters folded before transliteration (anyascii already handles most of them; these make
#: the intent explicit and cover characters whose anyascii reading is unhelpful).
_PRE_FOLD = {
    "ß": "ss",
    "ẞ": "ss",
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "’": "'",
    "‘": "'",
    "`": "'",
    "´": "'",
    "＆": "&",
    # CJK / Korean legal forms, replaced by their romanised form before anyascii (which would
    # otherwise give a Mandarin reading glued to the name, e.g. "ZhuShiHuiShe").
    "株式会社": " kabushiki kaisha ",
    "（株）": " kabushiki kaisha ",
    "(株)": " kabushiki kaisha ",
    "㈱": " kabushiki kaisha ",
    "有限会社": " yugen kaisha ",
    "合同会社": " godo kaisha ",
    "股份有限公司": " gufen youxian gongsi ",
    "有限责任公司": " youxian zeren gongsi ",
    "有限責任公司": " youxian zeren gongsi ",
    "有限公司": " youxian gongsi ",
    "集团": " group ",
    "集團": " group ",
    "주식회사": " jusikhoesa ",
    "(주)": " jusikhoesa ",
    "㈜": " jusikhoesa ",
}
_PRE_FOLD_RE = re.compile("|".join(re.escape(k) for k in sorted(_PRE_FOLD, key=len, reverse=True)))

_AMP_RE = re.compile(r"[&+]")
# "A/S", "S/A", "I/S": a single letter, a slash and a single letter form one token.
_SLASH_PAIR_RE = re.compile(r"\b([a-z0-9])\s*/\s*([a-z0-9])\b")
# Dotted acronyms: "b. v.", "s.p.a.", "j.p.", "s.a r.l." (letters separated by dots/spaces).
_DOTTED_RE = re.compile(r"(?<![a-z0-9])[a-z](?:\s?\.\s?[a-z](?![a-z0-9]))+\.?")
_APOSTROPHE_RE = re.compile(r"'")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")

STOPWORDS: frozenset[str] = frozenset(
    {
        "the",
        "of",
        "and",
        "und",
        "et",
        "de",
        "der",
        "die",
        "das",
        "des",
        "du",
        "la",
        "le",
        "les",
        "el",
        "los",
        "las",
        "del",
        "della",
        "di",
        "da",
    }
)

#: Abbreviation / inflection synonym table (versioned with NORMALIZER_VERSION). Targets must
#: not themselves be keys, stopwords or legal forms (that keeps normalisation idempotent).
SYNONYMS: dict[str, str] = {
    "intl": "international",
    "internat": "international",
    "internationale": "international",
    "tech": "technologies",
    "techs": "technologies",
    "technology": "technologies",
    "technol": "technologies",
    "mfg": "manufacturing",
    "mfr": "manufacturing",
    "mfrs": "manufacturing",
    "manufacture": "manufacturing",
    "manufacturers": "manufacturing",
    "manufacturer": "manufacturing",
    "svcs": "services",
    "svc": "services",
    "srvcs": "services",
    "service": "services",
    "sys": "systems",
    "system": "systems",
    "grp": "group",
    "hldgs": "holdings",
    "hldg": "holdings",
    "holding": "holdings",
    "natl": "national",
    "assoc": "associates",
    "assocs": "associates",
    "associate": "associates",
    "bros": "brothers",
    "brother": "brothers",
    "dept": "department",
    "ctr": "center",
    "cntr": "center",
    "centre": "center",
    "centres": "centers",
    "labs": "laboratories",
    "lab": "laboratories",
    "laboratory": "laboratories",
    "mgmt": "management",
    "mgt": "management",
    "ind": "industries",
    "inds": "industries",
    "industry": "industries",
    "eng": "engineering",
    "engg": "engineering",
    "engr": "engineering",
    "mktg": "marketing",
    "comms": "communications",
    "commun": "communications",
    "communication": "communications",
    "univ": "university",
    "inst": "institute",
    "pharma": "pharmaceuticals",
    "pharm": "pharmaceuticals",
    "pharmaceutical": "pharmaceuticals",
    "finl": "financial",
    "ins": "insurance",
    "devel": "development",
    "elec": "electric",
    "electrics": "electric",
    "solution": "solutions",
    "soln": "solutions",
    "solns": "solutions",
    "product": "products",
    "prods": "products",
    "enterprise": "enterprises",
    "partner": "partners",
    "ptnrs": "partners",
    "invest": "investments",
    "investment": "investments",
    "genl": "general",
    "mach": "machines",
    "machine": "machines",
    "bk": "bank",
    "mutl": "mutual",
    "util": "utilities",
    "utility": "utilities",
    "mtrs": "motors",
    "motor": "motors",
    "chem": "chemicals",
    "chemical": "chemicals",
    "pwr": "power",
    "sci": "scientific",
    "med": "medical",
}
assert not (set(SYNONYMS) & set(SYNONYMS.values())), "synonym targets must not be keys"

#: Legal-form terms (written naturally; normalised through the same pipeline at import time).
#: Sources: cleanco's term data (MIT) as a checklist, plus ISO 20275 ELF common abbreviations.
LEGAL_FORMS_RAW: tuple[str, ...] = (
    # English-speaking
    "Inc",
    "Inc.",
    "Incorporated",
    "Incorp",
    "Corp",
    "Corp.",
    "Corpn",
    "Corporation",
    "Co",
    "Co.",
    "Cos",
    "Company",
    "Companies",
    "LLC",
    "L.L.C.",
    "LC",
    "PLLC",
    "LLP",
    "L.L.P.",
    "LP",
    "L.P.",
    "LLLP",
    "Ltd",
    "Ltd.",
    "Limited",
    "PLC",
    "P.L.C.",
    "PC",
    "P.C.",
    "Pty",
    "Pty Ltd",
    "Pty Limited",
    "Proprietary Limited",
    "Pte",
    "Pte Ltd",
    "Pvt",
    "Pvt Ltd",
    "Private Limited",
    "Public Limited Company",
    "Private Limited Company",
    "Limited Liability Company",
    "Limited Liability Partnership",
    "Limited Partnership",
    "Professional Corporation",
    "Co. Ltd",
    "Co., Ltd.",
    "Company Limited",
    "Company Ltd",
    "Corporation Limited",
    "Public Company Limited",
    "Europäische Gesellschaft",
    "Societas Europaea",
    "Co. Inc",
    "Co. LLC",
    "Corp. Ltd",
    "Unlimited Company",
    "ULC",
    "CIC",
    # German-speaking
    "GmbH",
    "G.m.b.H.",
    "mbH",
    "gGmbH",
    "GesmbH",
    "Ges.m.b.H.",
    "Gesellschaft mbH",
    "Gesellschaft mit beschränkter Haftung",
    "Gesellschaft mit beschraenkter Haftung",
    "Gesellschaft m.b.H.",
    "Ges.m.b.H",
    "AG",
    "A.G.",
    "Aktiengesellschaft",
    "KG",
    "KGaA",
    "Kommanditgesellschaft",
    "Kommanditgesellschaft auf Aktien",
    "OHG",
    "GbR",
    "UG",
    "UG (haftungsbeschränkt)",
    "haftungsbeschränkt",
    "e.V.",
    "eG",
    "GmbH & Co. KG",
    "GmbH & Co KG",
    "GmbH & Co. KGaA",
    "AG & Co. KG",
    "SE & Co. KG",
    "GmbH & Co. OHG",
    "Co. KG",
    "& Co. KG",
    "SE",
    # French / Belgian / Swiss / Luxembourg
    "SA",
    "S.A.",
    "SAS",
    "S.A.S.",
    "SASU",
    "SARL",
    "S.A.R.L.",
    "S.à r.l.",
    "S. à r.l.",
    "EURL",
    "SNC",
    "SCA",
    "SCS",
    "SCOP",
    "SEM",
    "Société Anonyme",
    "Société Anonyme Belge",
    "Société Anonyme Française",
    "Société par Actions Simplifiée",
    "Société à Responsabilité Limitée",
    "Société en Nom Collectif",
    "SPRL",
    "SRL",
    "BVBA",
    "CVBA",
    "SCRL",
    # Italian
    "S.p.A.",
    "SpA",
    "S.r.l.",
    "S.r.l.s.",
    "Srls",
    "S.a.p.a.",
    "S.c.a.r.l.",
    "S.n.c.",
    "S.s.",
    "Società per Azioni",
    "Società a Responsabilità Limitata",
    # Spanish / Portuguese / Latin America
    "S.L.",
    "SL",
    "S.L.U.",
    "SLU",
    "S.L.L.",
    "S.A.U.",
    "SAU",
    "S.A. de C.V.",
    "S. de R.L.",
    "S. de R.L. de C.V.",
    "S.A.B. de C.V.",
    "S.A.P.I. de C.V.",
    "S.A.A.",
    "S.A.C.",
    "Sociedad Anónima",
    "Sociedad Anónima de Capital Variable",
    "Sociedade Anônima",
    "Sociedade Limitada",
    "Sociedad por Acciones Simplificada",
    "Sociedad Limitada",
    "Sociedad de Responsabilidad Limitada",
    "Ltda",
    "Ltda.",
    "Limitada",
    "Cia Ltda",
    "Cia.",
    "EIRELI",
    "EIRL",
    "S/A",
    "Lda",
    # Dutch
    "B.V.",
    "BV",
    "N.V.",
    "NV",
    "V.O.F.",
    "VOF",
    "C.V.",
    "CV",
    "Besloten Vennootschap",
    "Besloten Vennootschap met beperkte aansprakelijkheid",
    "Naamloze Vennootschap",
    "Naamlooze Vennootschap",
    "Commanditaire Vennootschap",
    "Vennootschap onder firma",
    "Besloten Vennootschap (BV)",
    # Nordic
    "AB",
    "AB (publ)",
    "publ",
    "Aktiebolag",
    "Aktiebolaget",
    "Aktieselskabet",
    "Anpartsselskabet",
    "Aksjeselskapet",
    "Osakeyhtio",
    "HB",
    "KB",
    "AS",
    "A/S",
    "ASA",
    "ApS",
    "IVS",
    "I/S",
    "Aksjeselskap",
    "Allmennaksjeselskap",
    "Aktieselskab",
    "Anpartsselskab",
    "Oy",
    "Oyj",
    "Osakeyhtiö",
    "Julkinen osakeyhtiö",
    "Ky",
    "Ay",
    "ehf",
    "hf",
    # Central / Eastern Europe
    "Sp. z o.o.",
    "Sp.z o.o.",
    "Spółka z ograniczoną odpowiedzialnością",
    "S.A. (Spółka Akcyjna)",
    "Spółka Akcyjna",
    "Sp. j.",
    "Sp.j.",
    "s.c.",
    "S.Coop.",
    "Sdad. Coop.",
    "ry",
    "As Oy",
    "Sp. k.",
    "s.r.o.",
    "spol. s r.o.",
    "a.s.",
    "k.s.",
    "v.o.s.",
    "d.o.o.",
    "d.d.",
    "Kft",
    "Kft.",
    "Zrt",
    "Zrt.",
    "Nyrt",
    "Nyrt.",
    "Bt",
    "OOO",
    "OAO",
    "ZAO",
    "PAO",
    "AO",
    "TOV",
    "JSC",
    "OJSC",
    "CJSC",
    "PJSC",
    "UAB",
    "AS",
    "SIA",
    "OÜ",
    "EOOD",
    "OOD",
    "AD",
    "EAD",
    "S.R.L.",
    "A.E.",
    "IKE",
    "E.P.E.",
    "A.Ş.",
    "Ltd. Şti.",
    "Şti",
    # Asia / Pacific / Middle East / Africa
    "K.K.",
    "KK",
    "Kabushiki Kaisha",
    "Kabushiki Gaisha",
    "Yugen Kaisha",
    "Godo Kaisha",
    "Y.K.",
    "G.K.",
    "Jusikhoesa",
    "Chusik Hoesa",
    "Youxian Gongsi",
    "Gufen Youxian Gongsi",
    "Youxian Zeren Gongsi",
    "Sdn Bhd",
    "Sdn. Bhd.",
    "Bhd",
    "Berhad",
    "Sendirian Berhad",
    "PT",
    "P.T.",
    "Tbk",
    "PT Tbk",
    "(Pty) Ltd",
    "W.L.L.",
    "WLL",
    "FZE",
    "FZCO",
    "FZ-LLC",
    "L.L.C (FZE)",
    "SAOG",
    "SAOC",
    "PSC",
    "S.A.L.",
)

#: Legal forms also stripped when they *start* a name ("AB Volvo", "Oy Karl Fazer", "PT Astra",
#: "OOO Romashka", "Kabushiki Kaisha Toshiba"). Multi-token forms are always allowed at the start.
PREFIX_LEGAL_RAW: tuple[str, ...] = (
    "AB",
    "Aktiebolaget",
    "Aktiebolag",
    "Oy",
    "Oyj",
    "AS",
    "ASA",
    "NV",
    "BV",
    "PT",
    "KK",
    "OOO",
    "OAO",
    "ZAO",
    "PAO",
    "AO",
    "TOV",
    "JSC",
    "OJSC",
    "CJSC",
    "PJSC",
    "UAB",
    "SIA",
    "Jusikhoesa",
    "EOOD",
    "OOD",
)

#: Tokens kept but given low weight by the scorer ("SCHLUMBERGER HOLDINGS" vs "... LIMITED").
LOW_WEIGHT_TOKENS: frozenset[str] = frozenset({"holdings", "group"})

#: Descriptive words that registries add to or drop from a company's name ("… INDUSTRIES",
#: "… ELECTRONICS", "… INTERNATIONAL"): a low-weight class. The blocking keys are also built on
#: the name without them, and the scorer may ignore them beside a distinctive word.
DESCRIPTIVE_TOKENS: frozenset[str] = frozenset(
    {
        "industries",
        "electronics",
        "electronic",
        "international",
        "technologies",
        "systems",
        "solutions",
        "services",
        "trading",
        "manufacturing",
        "engineering",
        "products",
        "enterprises",
        "worldwide",
        "global",
    }
)


# ---------------------------------------------------------------------------------------------
# Name normalisation
# ---------------------------------------------------------------------------------------------


_MAX_RAW_LEN = 4096
_MAX_TOKEN_LEN = 64
_MAX_TOKENS = 32


def _fold(raw: str) -> str:
    """Steps 1-3 of the recipe: entities unescaped, characters folded, ASCII, case-folded."""
    text = html.unescape(raw)
    text = _PRE_FOLD_RE.sub(lambda m: _PRE_FOLD[m.group(0)], text)
    return anyascii(text).casefold()


def _join_single_letters(tokens: list[str]) -> list[str]:
    """Runs of two or more one-character tokens become one token: "n v" → "nv",
    "a b c holding" → "abc holding", "g m b h" → "gmbh" (initials typed with spaces)."""
    out: list[str] = []
    run: list[str] = []
    for tok in [*tokens, ""]:
        if len(tok) == 1:
            run.append(tok)
            continue
        if run:
            out.append("".join(run))
            run = []
        if tok:
            out.append(tok)
    return out


def _base_tokens(raw: str, *, folded: bool = False) -> list[str]:
    """Steps 1-7 of the recipe plus the synonym table: raw text → ASCII alnum tokens."""
    text = raw if folded else _fold(raw)
    text = _AMP_RE.sub(" and ", text)
    text = _SLASH_PAIR_RE.sub(r"\1\2", text)
    text = _DOTTED_RE.sub(lambda m: re.sub(r"[\s.]", "", m.group(0)) + " ", text)
    text = _APOSTROPHE_RE.sub("", text)
    text = _NON_ALNUM_RE.sub(" ", text)
    toks = _join_single_letters([t[:_MAX_TOKEN_LEN] for t in text.split()])
    return [SYNONYMS.get(tok, tok) for tok in toks]


def _form_tuples(raws: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    out = set()
    for raw in raws:
        toks = tuple(t for t in _base_tokens(raw) if t not in STOPWORDS)
        if toks:
            out.add(toks)
    return frozenset(out)


_LEGAL_FORMS = _form_tuples(LEGAL_FORMS_RAW)
_LEGAL_SINGLE: frozenset[str] = frozenset(t[0] for t in _LEGAL_FORMS if len(t) == 1)
_LEGAL_MULTI: tuple[tuple[str, ...], ...] = tuple(
    sorted((t for t in _LEGAL_FORMS if len(t) > 1), key=len, reverse=True)
)
_LEGAL_MULTI_BY_FIRST: dict[str, tuple[tuple[str, ...], ...]] = {}
for _form in _LEGAL_MULTI:
    _LEGAL_MULTI_BY_FIRST[_form[0]] = (*_LEGAL_MULTI_BY_FIRST.get(_form[0], ()), _form)
_PREFIX_SINGLE: frozenset[str] = frozenset(
    t[0] for t in _form_tuples(PREFIX_LEGAL_RAW) if len(t) == 1
)
assert not (set(SYNONYMS.values()) & (_LEGAL_SINGLE | STOPWORDS))


def _strip_legal(tokens: list[str]) -> list[str]:
    """Remove multi-token legal forms anywhere, single-token ones at the end / start; fixpoint."""
    toks = list(tokens)
    changed = True
    while changed and toks:
        changed = False
        # Multi-token forms anywhere (longest first at each position).
        i = 0
        while i < len(toks):
            for form in _LEGAL_MULTI_BY_FIRST.get(toks[i], ()):
                n = len(form)
                if tuple(toks[i : i + n]) == form:
                    del toks[i : i + n]
                    changed = True
                    break
            else:
                i += 1
        if toks and toks[-1] in _LEGAL_SINGLE:
            toks.pop()
            changed = True
        elif toks and toks[0] in _PREFIX_SINGLE:
            toks.pop(0)
            changed = True
    return toks


# -- Location fragments ------------------------------------------------------------------------
# A location appended to the name ("…, Utrecht, NL", "… te Delft", "… GmbH - Berlin", "… (UK)")
# is split off into a separate value: it can support a match but not decide one (scoring).

#: Extra country spellings beside pycountry's names and codes.
_COUNTRY_EXTRA = {
    "uk": "gb",
    "u k": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "great britain": "gb",
    "britain": "gb",
    "usa": "us",
    "america": "us",
    "united states america": "us",
    "holland": "nl",
    "nederland": "nl",
    "deutschland": "de",
    "germany": "de",
    "brd": "de",
    "schweiz": "ch",
    "suisse": "ch",
    "svizzera": "ch",
    "osterreich": "at",
    "oesterreich": "at",
    "belgie": "be",
    "belgique": "be",
    "espana": "es",
    "italia": "it",
    "sverige": "se",
    "norge": "no",
    "danmark": "dk",
    "suomi": "fi",
    "polska": "pl",
    "brasil": "br",
    "mexico": "mx",
    "russia": "ru",
    "korea": "kr",
    "south korea": "kr",
    "prc": "cn",
    "uae": "ae",
}


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    """Normalised country name or code → alpha-2 (lower case)."""
    import pycountry

    out: dict[str, str] = {}
    for c in pycountry.countries:
        code = c.alpha_2.lower()
        for label in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", "")):
            if label:
                toks = _base_tokens(label)
                out.setdefault(" ".join(toks), code)
                out.setdefault(" ".join(t for t in toks if t not in STOPWORDS), code)
    out.pop("", None)
    out.update(_COUNTRY_EXTRA)
    return out


_LOC_PAREN_RE = re.compile(r"^(?P<head>.*\S)\s*\((?P<tail>[^()]{1,60})\)[\s.,;]*$", re.S)
_LOC_WORD_RE = re.compile(
    r"^(?P<head>.*\S)\s+(?P<sep>te|in)\s+(?P<tail>[a-z][^,()]{0,40}?)[\s.,;]*$", re.S
)
_LOC_SEP_RE = re.compile(
    r"^(?P<head>.*[^\s,])\s*(?:,|\s-+\s|\s\|\s)\s*(?P<tail>[^,()]{1,40}?)[\s.,;]*$", re.S
)
_LOC_MAX_TOKENS = 3
# Any of these must occur for a location to be split off (a quick exit for most names).
_LOC_HINT_RE = re.compile(r"[,()|]|\s-+\s|\ste\s|\sin\s")


def _ends_with_legal_form(tokens: list[str]) -> bool:
    if not tokens:
        return False
    if tokens[-1] in _LEGAL_SINGLE:
        return True
    return any(tuple(tokens[-len(f) :]) == f for f in _LEGAL_MULTI if len(f) <= len(tokens))


def _split_location(folded: str) -> tuple[str, list[str]]:
    """(the name without trailing location fragments, the location's tokens; countries as
    "~<alpha-2>"). A tail is a location when it is short (≤ 3 words), not a legal form, and:
    in parentheses; after " te "; a country; or after a legal form or a country already split
    off (", Utrecht, NL"), for " in " and for a comma or spaced dash. The name keeps at least
    one word that is not a legal form."""
    head = folded
    location: list[str] = []
    if not _LOC_HINT_RE.search(folded):
        return head, location
    saw_place = False
    for _ in range(4):
        m = _LOC_PAREN_RE.match(head)
        kind = "paren"
        if m is None:
            m = _LOC_WORD_RE.match(head)
            kind = m.group("sep") if m else ""
        if m is None:
            m = _LOC_SEP_RE.match(head)
            kind = "sep"
        if m is None:
            break
        tail_all = _base_tokens(m.group("tail"), folded=True)
        # A country code may be a stopword ("DE", "LA"): look it up before dropping those.
        country = _countries().get(" ".join(tail_all))
        tail = [t for t in tail_all if t not in STOPWORDS] or (tail_all if country else [])
        head_toks = [t for t in _base_tokens(m.group("head"), folded=True) if t not in STOPWORDS]
        if not tail or len(tail) > _LOC_MAX_TOKENS or not _strip_legal(head_toks):
            break
        if tuple(tail) in _LEGAL_FORMS or all(t in _LEGAL_SINGLE for t in tail):
            break
        country = country or _countries().get(" ".join(tail))
        after_form = _ends_with_legal_form(head_toks)
        if kind == "paren" or kind == "te" or country:
            pass
        elif not (after_form or saw_place):
            break
        location = ([f"~{country}"] if country else tail) + location
        saw_place = saw_place or bool(country)
        head = m.group("head")
    return head, location


@lru_cache(maxsize=65536)
def _analyse_cached(raw: str) -> tuple[str, str]:
    name, location = _analyse_once(raw)
    # The location rules look at punctuation the normalised name no longer has; a second pass
    # can still find " te <place>" / " in <country>" at its end. Stop at the fixpoint, so that
    # normalize_name is idempotent.
    for _ in range(3):
        padded = f" {name} "
        if " te " not in padded and " in " not in padded:
            break  # nothing a second pass could split off (no punctuation is left)
        nxt, more = _analyse_once(name)
        if nxt == name:
            break
        name, location = nxt, " ".join(x for x in (more, location) if x)
    return name, location


def _analyse_once(raw: str) -> tuple[str, str]:
    folded = _fold(raw)
    head, location = _split_location(folded)
    base = _base_tokens(head, folded=True)
    if not base:
        return "", " ".join(location)
    # Single letters joined again once stopwords and legal forms are gone ("A & B", "0 Co KG 0"),
    # so that a second pass finds nothing left to join (idempotence).
    toks = _strip_legal(_join_single_letters([t for t in base if t not in STOPWORDS]))
    joined = _join_single_letters(toks)
    if joined != toks:
        toks = _strip_legal(joined)
    while len(toks) > _MAX_TOKENS:  # pathological input: truncate, then re-strip the new end
        toks = _strip_legal(toks[:_MAX_TOKENS])
    if not toks:
        # Never reduce a name to nothing ("The Co", "Limited"): keep the last token.
        return base[-1], " ".join(location)
    return " ".join(toks), " ".join(location)


def _normalize_cached(raw: str) -> str:
    return _analyse_cached(raw)[0]


def name_location(raw: str) -> str:
    """The location split off a raw name ("Acme B.V., Utrecht, NL" → "utrecht ~nl"), or "".

    Countries appear as "~<alpha-2>"; other words as normalised tokens."""
    if not raw or not isinstance(raw, str):
        return ""
    return _analyse_cached(raw[:_MAX_RAW_LEN])[1]


def normalize_name(raw: str) -> str:
    """Normalised company name: folded, legal forms and stopwords removed, space-joined tokens.

    Idempotent: ``normalize_name(normalize_name(x)) == normalize_name(x)``. Empty → ``""``.
    """
    if not raw or not isinstance(raw, str):
        return ""
    return _normalize_cached(raw[:_MAX_RAW_LEN])


def name_tokens(name_norm: str) -> list[str]:
    """Tokens of an already normalised name."""
    return name_norm.split()


# ---------------------------------------------------------------------------------------------
# Blocking keys
# ---------------------------------------------------------------------------------------------

_SHORT_TOKEN = 4  # a single token of at most this many letters also gets an ``a:`` key
_DELETE_MAX_LEN = 9  # single-token names up to this length get deletion-neighbourhood keys
# (9, not 8: a space typed for a letter in a 9-letter name leaves two 4-letter tokens, which have
# no prefix/suffix keys; "gihhddhei" vs "gihh dhei" then shares only the deletion key.)


def _k(prefix: str, body: str) -> str:
    return (prefix + body)[:MAX_KEY_LEN]


def core_tokens(tokens: list[str]) -> list[str]:
    """The tokens without descriptive and low-weight words (all of them if nothing is left)."""
    core = [t for t in tokens if t not in DESCRIPTIVE_TOKENS and t not in LOW_WEIGHT_TOKENS]
    return core or tokens


_TRANSLIT_RE = re.compile(r"([aou])e")


def translit_fold(text: str) -> str:
    """German-style transliterations folded: "ue"→"u", "oe"→"o", "ae"→"a" ("mueller" and
    "muller", from "Müller", compare equal). Only for comparisons and keys, never stored."""
    return _TRANSLIT_RE.sub(r"\1", text)


_EDGE = 5  # the first / last letters of the joined core that get deletion-neighbourhood keys


@lru_cache(maxsize=131072)
def _blocking_keys_cached(name_norm: str) -> frozenset[str]:
    toks = name_norm.split()
    if not toks:
        return frozenset()
    keys: set[str] = set()
    for tok in toks:
        keys.add(_k("t:", tok))
        if len(tok) >= 5:
            keys.add(_k("p:", tok[:4]))
            keys.add(_k("s:", tok[-4:]))
    if len(toks) >= 2:
        keys.add(_k("a:", "".join(t[0] for t in toks)))
    elif len(toks[0]) <= _SHORT_TOKEN:
        keys.add(_k("a:", toks[0]))
    distinct: list[str] = []
    for tok in toks:
        if tok not in distinct:
            distinct.append(tok)
        if len(distinct) == 4:
            break
    for i in range(len(distinct)):
        for j in range(i + 1, len(distinct)):
            x, y = sorted((distinct[i], distinct[j]))
            keys.add(_k("b:", f"{x[:90]}|{y[:90]}"))
    keys.add(_k("n:", " ".join(sorted(toks))))
    # Concatenation / deletion-neighbourhood keys ("d:"): the joined name ("face book" ↔
    # "facebook", "7 eleven" ↔ "7eleven"), and for single short tokens every one-deletion
    # variant, so that a one-edit typo in a name with no other token still shares a key
    # ("globex" ↔ "glboex" ↔ "globx").
    joined = "".join(toks)
    keys.add(_k("d:", joined))
    keys.add(_k("d:", "".join(sorted(toks))))  # split and moved: "obex gl" ↔ "globex"
    # The same on the core: the name without descriptive / low-weight words, spaces and
    # transliterations ("zanc host" ↔ "Zanchost Industries", "thi zer" ↔ "Thizer Group").
    core_toks = core_tokens(toks)
    if 2 <= len(core_toks) < len(toks):  # the acronym without "holding", "international"...
        keys.add(_k("a:", "".join(t[0] for t in core_toks)))
    core = translit_fold("".join(core_toks))
    keys.add(_k("d:", core))
    if len(core) >= 5:
        keys.add(_k("p:", core[:4]))
        keys.add(_k("s:", core[-4:]))
    # (The bodies below are at most _DELETE_MAX_LEN or _EDGE letters: no truncation needed.)
    for base in {joined, core} if len(toks) == 1 else {core}:
        if 3 <= len(base) <= _DELETE_MAX_LEN:
            keys.update(["d:" + base[:i] + base[i + 1 :] for i in range(len(base))])
    # One typo anywhere in the first or the last five letters of the joined name or its core
    # (the first letters too, where prefix keys fail) leaves one of these in common; with a
    # typo at each end, the keys of each end are the other end's.
    for base in {joined, core}:
        if len(base) >= _EDGE:
            w = base[:_EDGE]
            keys.update(["f:" + w[:i] + w[i + 1 :] for i in range(_EDGE)])
            w = base[-_EDGE:]
            keys.update(["l:" + w[:i] + w[i + 1 :] for i in range(_EDGE)])
        if len(base) > _EDGE:
            # Both ends: typos in the middle of a short name ("canada" / "canxiada").
            keys.add(f"e:{base[:3]}|{base[-3:]}")
    return frozenset(keys)


def blocking_keys(name_norm: str) -> set[str]:
    """Blocking keys of a normalised name (see module docs and docs/matching.md)."""
    return set(_blocking_keys_cached(name_norm or ""))


def blocking_keys_uncached(name_norm: str) -> set[str]:
    """blocking_keys without keeping the result: for index writes and batches, whose names are
    mostly seen once (a 100,000-row CRM pull filled the cache's 131,072 entries of ~4 KB each,
    the pull's RSS growing by 2 MiB every 1,000 rows). ~35 µs a name."""
    return set(_blocking_keys_cached.__wrapped__(name_norm or ""))


def shares_blocking_key(a_norm: str, b_norm: str) -> bool:
    if not a_norm or not b_norm:
        return False
    if not set(a_norm.split()).isdisjoint(b_norm.split()):
        return True  # a common word is a common "t:" key: no need to build the key sets
    return not _blocking_keys_cached(a_norm).isdisjoint(_blocking_keys_cached(b_norm))


def is_free_mail(domain: str) -> bool:
    """True for free-mail / ISP / generic mailbox domains (on a registrable domain)."""
    if not domain:
        return False
    d = domain.strip().lower().rstrip(".")
    if d in FREE_MAIL_DOMAINS:
        return True
    first = d.split(".", 1)[0]
    return first in FREE_MAIL_FAMILIES and "." in d


def company_domain(value: str) -> str:
    """Registrable domain of a website or e-mail, or ``""`` if none or free-mail."""
    dom = registrable_domain(value)
    if not dom or is_free_mail(dom):
        return ""
    return dom
