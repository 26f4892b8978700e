"""Pure scoring of two customer identities (no Django, no DB).

See ``docs/matching.md`` ("Scoring"). The engine adds product-line overlap; this module only
compares identities: registrable website domain, non-free e-mail domain, normalised name and
country. Every contribution becomes a reason string.

Evidence, strongest first:

- same registrable website domain → 100 (``"domain"``);
- same non-free e-mail domain, or one side's e-mail domain equal to the other's website → 95
  (``"email_domain"``);
- name similarity (``"name"``), on normalised names with rapidfuzz and ``processor=None``;
  never ``WRatio`` or ``partial_ratio``:

  * base similarity = max(``token_sort_ratio``, ``ratio``, 100·JaroWinkler − 5 − 100·|Δlen|/maxlen);
  * one name's tokens contained in the other's (the case where ``token_set_ratio`` is 100):
    at least 89 when the shorter name is one token or < 40 % of the longer one, else 94, and
    never certain; nothing extra when the shorter name is made only of generic words;
  * shared tokens plus tokens of their own on both sides: capped at the similarity of the
    differing parts + 5 ("royal bank canada" vs "royal bank scotland" stays low), and at 5
    when the differing parts are only numbers ("customer 1034" vs "customer 1035");
  * "holdings"/"group" are low-weight: ignoring them can lift a pair to 89 (review), never more;
  * the name score is 0 unless the two names share a blocking key, so every pair the scorer
    rates is one the index can retrieve (CONC-07, at any threshold).

- country: equal (``"country"``) or either unknown is compatible; different countries cap the
  total at ``DEFAULT_CERTAIN - 1`` (``"country_mismatch"``): review at most, never a veto.

These choices (the residual rule, the JaroWinkler length penalty, containment-only token_set)
were driven by ``python -m bench.matching_eval``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from conflicts.normalize import (
    DESCRIPTIVE_TOKENS,
    LOW_WEIGHT_TOKENS,
    company_domain,
    core_tokens,
    name_location,
    normalize_name,
    shares_blocking_key,
    translit_fold,
)

DEFAULT_REVIEW = 85
DEFAULT_CERTAIN = 95

SCORING_VERSION = 1

#: Score given by a shared registrable website domain / a shared non-free e-mail domain.
DOMAIN_SCORE = 100
EMAIL_DOMAIN_SCORE = 95
#: Highest score that is still only "review" with the default thresholds.
REVIEW_MAX = DEFAULT_CERTAIN - 1
#: Cap for weak name evidence: a name contained in the other (one token, or < 40 % of the
#: characters), or a match that only holds once low-weight words ("holdings", "group") are ignored.
WEAK_NAME_CAP = 89
#: Score ceiling for a name contained in a longer one when it is made only of generic words.
GENERIC_SUBSET_CAP = 80
#: Allowance for the shared tokens when the names also differ in tokens of their own.
RESIDUAL_BONUS = 5
JW_OFFSET = 5.0
#: Below this the name is not reported as a reason.
NAME_REASON_MIN = 60
#: Score of a name that differs from the other only by a typo in a long enough distinctive
#: part, spaces (glued / split words) or a transliteration, or by descriptive words beside a
#: distinctive one: certain at the default thresholds (issue 15).
VARIANT_SCORE = DEFAULT_CERTAIN
#: Typos allowed in the differing part for VARIANT_SCORE: (edits, shortest length) pairs. One
#: edit needs 7 letters ("vramholt"/"vramhollt"; "crane"/"craine" stays in review), two 12.
TYPO_RULES = ((0, 4), (1, 7), (2, 12))
#: A typo in the first letter needs a longer part: "burley"/"hurley" are two names.
FIRST_LETTER_TYPO_MIN = 9
_ROMAN = frozenset({"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"})

#: Ordinary words often used as a company name on their own ("Delta", "Continental"): beside a
#: descriptive word they do not identify a company, so such a pair stays in review.
COMMON_NAME_WORDS: frozenset[str] = frozenset(
    """delta continental apex summit pioneer liberty eagle phoenix star sun crown royal imperial
    standard universal central premier prime atlas titan golden silver blue green red black
    white alpha omega orion vista horizon nova unity fusion matrix vertex zenith direct smart
    express quality precision advanced allied applied integrated modern future dynamic metro
    city best super mega micro pro data info net web union national federal state pacific
    atlantic eastern western northern southern coastal capital crystal diamond pearl ocean
    river lake mountain valley sky star energy power home family heritage legacy victory
    triumph elite select choice value plus one""".split()
)

#: Words that carry no identity on their own: a name made only of these never matches a longer
#: name just by being contained in it ("Global Solutions" vs "Acme Global Solutions").
GENERIC_TOKENS: frozenset[str] = frozenset(
    {
        "global",
        "international",
        "worldwide",
        "national",
        "solutions",
        "services",
        "systems",
        "technologies",
        "consulting",
        "group",
        "holdings",
        "partners",
        "associates",
        "enterprises",
        "industries",
        "management",
        "capital",
        "investments",
        "trading",
        "digital",
        "software",
        "networks",
        "media",
        "marketing",
        "logistics",
        "energy",
        "health",
        "healthcare",
        "financial",
        "finance",
        "bank",
        "insurance",
        "construction",
        "engineering",
        "manufacturing",
        "products",
        "laboratories",
        "development",
        "america",
        "american",
        "europe",
        "european",
        "asia",
        "pacific",
        "north",
        "south",
        "east",
        "west",
        "united",
        "general",
        "first",
        "new",
    }
)


@dataclass(frozen=True)
class Identity:
    """A customer identity, already normalised (use :meth:`from_raw` on user input)."""

    name: str
    domain: str = ""
    email_domain: str = ""
    country: str = ""
    location: str = ""

    @classmethod
    def from_raw(
        cls, *, name: str, domain: str = "", email: str = "", country: str = ""
    ) -> Identity:
        c = (country or "").strip().upper()
        c = c if len(c) == 2 and c.isalpha() and c.isascii() else ""
        location = name_location(name or "")[:100]
        if not c:
            # A country written into the name ("… (UK)", "…, NL") stands in for a missing one.
            codes = {t[1:].upper() for t in location.split() if t.startswith("~")}
            if len(codes) == 1:
                c = codes.pop()
        return cls(
            name=normalize_name(name or ""),
            domain=company_domain(domain or ""),
            email_domain=company_domain(email or ""),
            country=c,
            location=location,
        )


@dataclass(frozen=True)
class Score:
    value: int
    reasons: tuple[str, ...]
    name_similarity: int


def verdict(value: int, review: int = DEFAULT_REVIEW, certain: int = DEFAULT_CERTAIN) -> str:
    """``"conflict"`` at or above *certain*, ``"potential_conflict"`` at or above *review*."""
    if value >= certain:
        return "conflict"
    if value >= review:
        return "potential_conflict"
    return "clear"


def _floor(x: float) -> int:
    return int(math.floor(x + 1e-9))


def _string_sim(a: str, b: str) -> float:
    """max(token_sort_ratio, ratio, 100·JaroWinkler − 5 − length-difference penalty)."""
    ts = fuzz.token_sort_ratio(a, b, processor=None)
    r = fuzz.ratio(a, b, processor=None)
    la, lb = len(a), len(b)
    # JaroWinkler rewards a shared prefix and treats a short string fully contained in a longer
    # one as nearly equal ("reyes" / "reynolds" = 0.91). Its job here is typos that keep the
    # length (substitutions, transpositions), which Indel-based ratios under-score on short
    # tokens, so a length difference is penalised; insertions/deletions are covered by ratio.
    jw = (
        100.0 * JaroWinkler.normalized_similarity(a, b, processor=None)
        - JW_OFFSET
        - 100.0 * abs(la - lb) / max(la, lb, 1)
    )
    return max(ts, r, jw)


def _residual(tokens: list[str], extra: Counter[str]) -> str:
    """The tokens counted in *extra*, in their original order."""
    left = Counter(extra)
    out = []
    for t in tokens:
        if left[t] > 0:
            left[t] -= 1
            out.append(t)
    return " ".join(out)


def _raw_name_score(a: str, b: str) -> float:
    """Name score on normalised names, before the blocking-key gate (see module docs)."""
    if a == b:
        return 100.0
    ta, tb = a.split(), b.split()
    ca, cb = Counter(ta), Counter(tb)
    only_a, only_b = ca - cb, cb - ca
    if not only_a and not only_b:
        return 100.0  # same tokens, other order
    full = _string_sim(a, b)
    if not only_a or not only_b:
        # One name's tokens are contained in the other's (what token_set_ratio scores 100):
        # "forbes" vs "forbes construction". Ambiguous by name alone, so never certain; weak
        # when the shorter name is one token or < 40 % of the longer one; no evidence at all
        # when the shorter name is made only of generic words ("global solutions").
        short_toks, short, long_ = (ta, a, b) if not only_a else (tb, b, a)
        if all(t in GENERIC_TOKENS for t in short_toks):
            return min(full, float(GENERIC_SUBSET_CAP))
        cap = WEAK_NAME_CAP if len(short_toks) == 1 or len(short) < 0.4 * len(long_) else REVIEW_MAX
        return min(max(full, float(cap)), float(REVIEW_MAX))
    if len(only_a) == len(ca) and len(only_b) == len(cb):
        return full  # no token in common: the residual is the whole name
    # Shared tokens plus tokens of their own on both sides: the names are only as similar as
    # their differing parts ("miles consulting partners" vs "lee consulting partners",
    # "royal bank canada" vs "royal bank scotland"). A typo in the differing token keeps them
    # close ("globex consulting" vs "glebex consulting").
    if all(t.isdigit() for t in only_a) and all(t.isdigit() for t in only_b):
        # The names differ only in their numbers ("customer 1034 holdings" / "customer 1035
        # holdings", "studio 54" / "studio 55"): numbered entities, branches or funds, never
        # one company spelled two ways; a digit typo cannot be told from another number.
        return min(full, float(RESIDUAL_BONUS))
    residual = _string_sim(_residual(ta, only_a), _residual(tb, only_b))
    return min(full, residual + RESIDUAL_BONUS)


def _distinctive(tokens: list[str]) -> bool:
    """Some token identifies a company on its own: not generic, descriptive, low-weight or an
    ordinary word, and 5+ letters (3+ beside another word: "KTV Holding")."""
    for t in tokens:
        if t in GENERIC_TOKENS or t in DESCRIPTIVE_TOKENS or t in LOW_WEIGHT_TOKENS:
            continue
        if t in COMMON_NAME_WORDS or t.isdigit():
            continue
        if len(t) >= 5 or (len(t) >= 3 and len(tokens) >= 2):
            return True
    return False


def _same_but_typed(ra: str, rb: str) -> bool:
    """The differing parts of two names are one spelling: the same letters once spaces and
    transliterations are ignored, or a typo (TYPO_RULES) in a long enough part. Digits must
    agree exactly ("studio 54" / "studio 55")."""
    numbers_a = sorted(t for t in ra.split() if t in _ROMAN)
    if numbers_a != sorted(t for t in rb.split() if t in _ROMAN):
        return False  # "… II" / "… I": two sites, two branches
    ra, rb = translit_fold(ra.replace(" ", "")), translit_fold(rb.replace(" ", ""))
    if ra == rb:
        return len(ra) >= TYPO_RULES[0][1]
    if [c for c in ra if c.isdigit()] != [c for c in rb if c.isdigit()]:
        return False
    shortest = min(len(ra), len(rb))
    if ra[:1] != rb[:1] and shortest < FIRST_LETTER_TYPO_MIN:
        return False
    edits = OSA.distance(ra, rb, score_cutoff=TYPO_RULES[-1][0])
    return any(edits <= e and shortest >= n for e, n in TYPO_RULES)


def _token_diff(ta: list[str], tb: list[str]) -> tuple[list[str], list[str]]:
    """Each name's own tokens (multiset difference), in order; sets when no token repeats."""
    sa, sb = set(ta), set(tb)
    if len(sa) == len(ta) and len(sb) == len(tb):
        return [t for t in ta if t not in sb], [t for t in tb if t not in sa]
    ca, cb = Counter(ta), Counter(tb)
    return _residual(ta, ca - cb).split(), _residual(tb, cb - ca).split()


def _could_be_typed(ra: str, rb: str) -> bool:
    """Cheap bound before _same_but_typed: lengths within its edits (plus transliterations)."""
    la, lb = len(ra), len(rb)
    if min(la, lb) < TYPO_RULES[0][1]:
        return False
    slack = TYPO_RULES[-1][0] + ra.count(" ") + rb.count(" ") + max(ra.count("e"), rb.count("e"))
    return abs(la - lb) <= slack


def _variant_score(a: str, b: str) -> float:
    """VARIANT_SCORE when the names differ only as one company's spellings do (issue 15),
    else 0: a typo/spacing/transliteration in the differing part (_same_but_typed), or
    descriptive words added on one side beside a distinctive word."""
    ta, tb = a.split(), b.split()
    own_a, own_b = _token_diff(ta, tb)
    if not own_a and not own_b:
        return 100.0
    if own_a and own_b:
        ra, rb = " ".join(own_a), " ".join(own_b)
        if (
            _could_be_typed(ra, rb)
            and _same_but_typed(ra, rb)
            and _distinctive([*own_a, *own_b, *ta])
        ):
            return float(VARIANT_SCORE)
    # Descriptive words on one side only ("zantrix" / "zantrix electronics international"),
    # possibly with a typo in the rest; "holdings"/"group" are not descriptive here (a parent
    # and its subsidiary stay in review, docs/matching.md).
    da = {t for t in ta if t in DESCRIPTIVE_TOKENS}
    db = {t for t in tb if t in DESCRIPTIVE_TOKENS}
    if da == db or not (da <= db or db <= da):
        return 0.0
    core_a = [t for t in ta if t not in DESCRIPTIVE_TOKENS]
    core_b = [t for t in tb if t not in DESCRIPTIVE_TOKENS]
    if not core_a or not core_b:
        return 0.0
    if not _distinctive(core_a if len(core_a) <= len(core_b) else core_b):
        return 0.0
    xa, xb = _token_diff(core_a, core_b)
    if not xa and not xb:
        return float(VARIANT_SCORE)
    if xa and xb:
        ra, rb = " ".join(xa), " ".join(xb)
        if _could_be_typed(ra, rb) and _same_but_typed(ra, rb):
            return float(VARIANT_SCORE)
    return 0.0


def _acronym_score(a: str, b: str) -> float:
    """WEAK_NAME_CAP (review) when one name is a single 2–6 letter token spelling the other's
    initials, with or without its descriptive/low-weight words ("abb" / "asea brown boveri",
    "ktv" / "kessing tramvik venlo holding"): found, never certain (acronyms collide)."""
    ta, tb = a.split(), b.split()
    for short, long_ in ((ta, tb), (tb, ta)):
        if len(short) == 1 and 2 <= len(short[0]) <= 6 and short[0].isalpha() and len(long_) >= 2:
            core = core_tokens(long_)
            if short[0] in ("".join(t[0] for t in long_), "".join(t[0] for t in core)):
                return float(WEAK_NAME_CAP)
    return 0.0


def _core(name: str) -> str:
    toks = [t for t in name.split() if t not in LOW_WEIGHT_TOKENS]
    return " ".join(toks) if toks else name


@lru_cache(maxsize=262144)
def _name_score_ordered(a: str, b: str) -> int:
    if not a or not b:
        return 0
    if a == b:
        return 100
    best = _raw_name_score(a, b)
    if best < VARIANT_SCORE:
        best = max(best, _variant_score(a, b))
    if best < WEAK_NAME_CAP:
        best = max(best, _acronym_score(a, b))
    ca, cb = _core(a), _core(b)
    if (ca, cb) != (a, b):
        core = max(_raw_name_score(ca, cb), _variant_score(ca, cb))
        best = max(best, min(core, float(WEAK_NAME_CAP)))
    value = _floor(best)
    # Retrieval gate: the engine only ever sees candidates that share a blocking key, so a name
    # score counts only for names that share one (CONC-07 holds by construction, at any
    # threshold). The keys are designed so this almost never bites on real variants.
    if value > 0 and not shares_blocking_key(a, b):
        return 0
    return value


def name_score(a: str, b: str) -> int:
    """Symmetric 0-100 similarity of two normalised names."""
    if b < a:
        a, b = b, a
    return _name_score_ordered(a, b)


def _raw_or_variant_may_reach(a: str, b: str, floor: float) -> bool:
    """False only when neither _raw_name_score(a, b) nor _variant_score(a, b) can reach
    `floor`: each test below is the entry condition of one of their paths, in their order."""
    (ta, sa), (tb, sb) = _tokens(a), _tokens(b)
    if sa <= sb or sb <= sa:
        return True  # the same tokens, or one name's contained in the other's
    # Otherwise both names have tokens of their own, and _raw_name_score is at most the full
    # string similarity (the residual path takes a min with it), RESIDUAL_BONUS when the own
    # tokens are only numbers.
    own_a, own_b = _token_diff(ta, tb)
    only_numbers = all(t.isdigit() for t in own_a) and all(t.isdigit() for t in own_b)
    if (RESIDUAL_BONUS if only_numbers else _string_sim(a, b)) >= floor:
        return True
    if floor > VARIANT_SCORE:
        return False
    if _may_be_typed(own_a, own_b):
        return True  # the typo path of _variant_score
    da, db = sa & DESCRIPTIVE_TOKENS, sb & DESCRIPTIVE_TOKENS
    if da == db or not (da <= db or db <= da):
        return False
    # Its descriptive-words path: the names without those words are the same or typed.
    xa, xb = _token_diff(
        [t for t in ta if t not in DESCRIPTIVE_TOKENS],
        [t for t in tb if t not in DESCRIPTIVE_TOKENS],
    )
    return (not xa and not xb) or _may_be_typed(xa, xb)


@lru_cache(maxsize=131072)
def _tokens(name: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A name's tokens and their set, once per name (the bound compares one probe with hundreds
    of candidates, and the same candidates come back for the next probe)."""
    tokens = tuple(name.split())
    return tokens, frozenset(tokens)


@lru_cache(maxsize=131072)
def _folded(part: str) -> str:
    """A differing part without spaces and transliterations, as _same_but_typed compares it."""
    return translit_fold(part.replace(" ", ""))


def _may_be_typed(own_a: list[str], own_b: list[str]) -> bool:
    """False only when _same_but_typed of the two differing parts is False for certain: the
    length bound, then its spelling and edit-distance conditions without the number checks."""
    if not own_a or not own_b:
        return False
    ra, rb = " ".join(own_a), " ".join(own_b)
    if not _could_be_typed(ra, rb):
        return False
    fa, fb = _folded(ra), _folded(rb)
    if fa == fb:
        return True
    if [c for c in fa if c.isdigit()] != [c for c in fb if c.isdigit()]:
        return False
    if fa[:1] != fb[:1] and min(len(fa), len(fb)) < FIRST_LETTER_TYPO_MIN:
        return False
    most = TYPO_RULES[-1][0]
    return OSA.distance(fa, fb, score_cutoff=most) <= most


@lru_cache(maxsize=262144)
def _name_may_reach(a: str, b: str, floor: int) -> bool:
    """A cheap bound: False only when name_score(a, b) < floor for certain. Mirrors
    _name_score_ordered path by path without running the costly ones (typo checks, edit
    distances, residuals); the retrieval gate can only lower a score, so it is skipped.
    tests/conflicts/test_scoring.py checks it never says False for a pair that reaches."""
    if b < a:
        a, b = b, a
    if not a or not b:
        return False
    if a == b:
        return True
    bound = floor - 1e-6  # _floor() rounds up within 1e-9
    if _raw_or_variant_may_reach(a, b, bound):
        return True
    if floor > WEAK_NAME_CAP:
        return False  # the acronym and core paths give at most WEAK_NAME_CAP
    if _acronym_score(a, b):
        return True
    ca, cb = _core_cached(a), _core_cached(b)
    return (ca, cb) != (a, b) and _raw_or_variant_may_reach(ca, cb, bound)


_core_cached = lru_cache(maxsize=131072)(_core)


def _domain_evidence(a: Identity, b: Identity) -> bool:
    """The website or e-mail domain evidence score() counts."""
    return bool(
        (a.domain and a.domain == b.domain)
        or (a.email_domain and a.email_domain in (b.email_domain, b.domain))
        or (b.email_domain and b.email_domain == a.domain)
    )


def score_reaching(a: Identity, b: Identity, floor: int) -> Score | None:
    """score(a, b) when its value reaches `floor`, else None; most pairs a probe's candidates
    form are ruled out by a cheap bound (_name_may_reach) before the full scoring. Without
    domain evidence a score is at most its name score (country and location only cap it)."""
    if floor > 0 and not _domain_evidence(a, b) and not _name_may_reach(a.name, b.name, floor):
        return None
    result = score(a, b)
    return result if result.value >= floor else None


def _locations_agree(a: str, b: str) -> bool | None:
    """True when two locations share a place, False when both name places (cities, or
    countries) and none is shared, None when they cannot be compared (a city on one side and
    only a country on the other)."""
    ta, tb = set(a.split()), set(b.split())
    if ta & tb:
        return True
    ca, cb = {t for t in ta if t[0] == "~"}, {t for t in tb if t[0] == "~"}
    pa, pb = ta - ca, tb - cb
    if (pa and pb) or (ca and cb):
        return False
    return None


def score(a: Identity, b: Identity) -> Score:
    """Symmetric score of two identities, with reasons."""
    value = 0
    reasons: list[str] = []
    if a.domain and a.domain == b.domain:
        value = DOMAIN_SCORE
        reasons.append("domain")
    if (a.email_domain and a.email_domain in (b.email_domain, b.domain)) or (
        b.email_domain and b.email_domain == a.domain
    ):
        value = max(value, EMAIL_DOMAIN_SCORE)
        reasons.append("email_domain")
    ns = name_score(a.name, b.name)
    if ns >= NAME_REASON_MIN:
        reasons.append("name")
    value = max(value, ns)
    if reasons and a.country and b.country:
        if a.country == b.country:
            reasons.append("country")
        else:
            value = min(value, REVIEW_MAX)
            reasons.append("country_mismatch")
    if reasons and a.location and b.location:
        agree = _locations_agree(a.location, b.location)
        if agree:
            reasons.append("location")
        elif agree is not None and "domain" not in reasons and "email_domain" not in reasons:
            # Another place on both sides ("… - Berlin" / "… - Munich"): maybe another branch
            # or another company of the same name; the name alone is not certain then.
            value = min(value, REVIEW_MAX)
            reasons.append("location_mismatch")
    return Score(value=value, reasons=tuple(reasons), name_similarity=ns)
