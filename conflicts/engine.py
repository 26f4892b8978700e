"""The conflict engine: is this customer already engaged?

`check()` finds candidates only through index lookups (exact domain / e-mail domain / name
key, plus blocking keys chosen by their frequency, docs/matching.md), scores them with reasons,
keeps those that are active and in scope, and returns an explainable Outcome. It knows nothing
about HTTP, registrations or partners' models.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Q

from conflicts import sql
from conflicts.index import active_filter, in_chunks, name_key
from conflicts.models import CandidateKey, IdentityEntry, IgnoredPair, KeyFrequency, RecordKind
from conflicts.normalize import blocking_keys, blocking_keys_uncached
from conflicts.retrieval import CANDIDATE_CAP, choose_keys
from conflicts.scoring import Identity, Score, score_reaching
from prm.lib.tenancy import system_context
from prm.lib.time import timezone_now

logger = logging.getLogger(__name__)

CLEAR = "clear"
POTENTIAL = "potential_conflict"
CONFLICT = "conflict"

# The candidate-generation budget (docs/matching.md "Candidate generation") and the choice of
# posting lists live in conflicts.retrieval (pure, shared with bench/matching_eval).


@dataclass(frozen=True)
class Policy:
    review: int = 85
    certain: int = 95
    scope: str = "product_line"  # or "any_product"
    version: int | None = None


@dataclass(frozen=True)
class Match:
    kind: str
    record_id: int
    partner_id: int | None
    label: str
    score: int
    reasons: tuple[str, ...]
    severity: str  # "conflict" | "potential_conflict"
    since: dt.datetime
    name_similarity: int = 0

    @property
    def is_direct(self) -> bool:
        return self.kind == RecordKind.DIRECT_OPPORTUNITY


@dataclass
class Outcome:
    status: str
    matches: list[Match] = field(default_factory=list)
    duplicate_of: int | None = None
    policy_version: int | None = None

    @property
    def available(self) -> bool:
        return self.status == CLEAR


def _chosen_keys(keys: list[str]) -> tuple[str, list[str]]:
    """Which posting lists to read: ("rare", keys) or ("and", the 3 rarest) or ("", []).

    Keys are taken rarest first while their summed frequency stays within CANDIDATE_BUDGET
    (at least the rarest one is always taken). When even the rarest key is very common, only
    entries that carry 2 of the 3 rarest keys qualify (the AND fallback of docs/matching.md).
    """
    if not keys:
        return "", []
    return choose_keys(_key_frequencies(keys))


def _key_frequencies(keys: list[str]) -> list[tuple[int, str]]:
    """(df, key) of the keys that occur."""
    if connection.vendor == "postgresql":
        return sql.key_frequencies(keys)
    return list(KeyFrequency.objects.filter(key__in=keys, df__gt=0).values_list("df", "key"))


def _candidate_ids_by_keys(keys: list[str]) -> list[int]:
    """Posting lists of the query's rarest keys, within a candidate budget (_chosen_keys)."""
    mode, chosen = _chosen_keys(keys)
    postings = CandidateKey.objects
    if mode == "and":
        return list(
            postings.filter(key__in=chosen)
            .values("entry_id")
            .annotate(hits=Count("id"))
            .filter(hits__gte=2)
            .values_list("entry_id", flat=True)[:CANDIDATE_CAP]
        )
    if mode != "rare":
        return []
    ids = list(
        postings.filter(key__in=chosen)
        .values_list("entry_id", flat=True)
        .distinct()[: CANDIDATE_CAP + 1]
    )
    if len(ids) > CANDIDATE_CAP:
        logger.warning("conflict candidate cap hit (%s keys)", len(chosen))
        ids = ids[:CANDIDATE_CAP]
    return ids


@dataclass(frozen=True)
class Candidate:
    id: int
    kind: str
    record_id: int
    partner_id: int | None
    label: str
    name_norm: str
    domain: str
    email_domain: str
    country: str
    location: str
    product_lines: str
    since: dt.datetime

    @property
    def lines(self) -> set[str]:
        return {p for p in self.product_lines.split("|") if p}


CANDIDATE_FIELDS = [f for f in Candidate.__dataclass_fields__]
if tuple(CANDIDATE_FIELDS) != sql.CANDIDATE_COLUMNS:  # conflicts.sql selects them in this order
    raise ImportError("Candidate's fields must be conflicts.sql.CANDIDATE_COLUMNS")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def candidates(identity: Identity, *, now: dt.datetime | None = None) -> list[Candidate]:
    """Active index entries that could be the same customer (index lookups only).

    Each probe is its own query on its own B-tree (domain, e-mail domain, exact name key,
    blocking-key postings), and the entries are then fetched by primary key. One query with
    an OR of the probes lets SQLite's planner fall back to a scan of the whole index table.
    """
    now = now or timezone_now()
    if connection.vendor == "postgresql":
        return _candidates_in_one_query(identity, now)
    return _candidates_per_probe(identity, now)


def _candidates_per_probe(identity: Identity, now: dt.datetime) -> list[Candidate]:
    entries = IdentityEntry.objects
    ids: set[int] = set()
    domains = sorted({d for d in (identity.domain, identity.email_domain) if d})
    if domains:
        ids.update(entries.filter(domain__in=domains).values_list("id", flat=True)[:CANDIDATE_CAP])
        ids.update(
            entries.filter(email_domain__in=domains).values_list("id", flat=True)[:CANDIDATE_CAP]
        )
    if identity.name:
        ids.update(
            entries.filter(name_key=name_key(identity.name)).values_list("id", flat=True)[
                :CANDIDATE_CAP
            ]
        )
        ids.update(_candidate_ids_by_keys(sorted(blocking_keys(identity.name))))
    if not ids:
        return []
    rows = (
        entries.filter(id__in=sorted(ids)).filter(active_filter(now)).values_list(*CANDIDATE_FIELDS)
    )
    return [Candidate(*row) for row in rows]


def _candidates_in_one_query(identity: Identity, now: dt.datetime) -> list[Candidate]:
    """candidates() on PostgreSQL: the same probes in one round trip (conflicts.sql.
    candidate_rows) instead of five; the key frequencies still need one before it (they choose
    the posting lists). Same candidates as the per-probe path (tests/api/test_hot_paths.py);
    when a cap is hit, which CANDIDATE_CAP entries are taken is arbitrary in both."""
    mode, chosen = "", list[str]()
    if identity.name:
        mode, chosen = _chosen_keys(sorted(blocking_keys(identity.name)))
    rows = sql.candidate_rows(
        domains=sorted({d for d in (identity.domain, identity.email_domain) if d}),
        name_key=name_key(identity.name) if identity.name else "",
        mode=mode,
        keys=chosen,
        cap=CANDIDATE_CAP,
        now=now,
    )
    return [Candidate(*row[:-1], _EPOCH + dt.timedelta(microseconds=row[-1])) for row in rows]


def _ignored(exclude: tuple[str, int] | None) -> set[tuple[str, int]]:
    if exclude is None:
        return set()
    kind, record_id = exclude
    pairs = IgnoredPair.objects.filter(
        Q(kind_a=kind, id_a=record_id) | Q(kind_b=kind, id_b=record_id)
    ).values_list("kind_a", "id_a", "kind_b", "id_b")
    ignored = set()
    for kind_a, id_a, kind_b, id_b in pairs:
        ignored.add((kind_b, id_b) if (kind_a, id_a) == (kind, record_id) else (kind_a, id_a))
    return ignored


@system_context("conflict engine")
def check(
    identity: Identity,
    product_lines: Iterable[str],
    *,
    policy: Policy,
    partner_id: int | None = None,
    exclude: tuple[str, int] | None = None,
    kinds: Iterable[str] | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Match `identity` (with its product lines) against every active record.

    - `partner_id`: the asking partner; a certain match with its own active registration is a
      duplicate (Outcome.duplicate_of), not a conflict.
    - `exclude`: (kind, id) of the record being checked, so it never matches itself; pairs a
      manager resolved as not_a_conflict with it are skipped too.
    - `kinds`: restrict to some record kinds (an opportunity is checked against registrations).

    Status: `conflict` for a certain match with another partner's registration or a direct
    opportunity, `potential_conflict` for any match in the review band, else `clear`.
    """
    lines = set(product_lines)
    ignored = _ignored(exclude)
    allowed_kinds = set(kinds) if kinds is not None else None
    matches: list[Match] = []
    duplicate_of = None
    scored: dict[Identity, Score | None] = {}
    for entry in candidates(identity, now=now):
        if exclude is not None and (entry.kind, entry.record_id) == exclude:
            continue
        if (entry.kind, entry.record_id) in ignored:
            continue
        if allowed_kinds is not None and entry.kind not in allowed_kinds:
            continue
        overlap = bool(lines & entry.lines)
        if policy.scope != "any_product" and not overlap:
            continue
        other = Identity(
            name=entry.name_norm,
            domain=entry.domain,
            email_domain=entry.email_domain,
            country=entry.country,
            location=entry.location,
        )
        # Many candidates carry one identity (a customer registered by several partners and
        # sold direct, a common name): score each identity once per check.
        if other in scored:
            result = scored[other]
        else:
            result = scored[other] = score_reaching(identity, other, policy.review)
        if result is None:
            continue
        reasons = list(result.reasons)
        if overlap:
            reasons.append("product_overlap")
        severity = CONFLICT if result.value >= policy.certain else POTENTIAL
        match = Match(
            kind=entry.kind,
            record_id=entry.record_id,
            partner_id=entry.partner_id,
            label=entry.label,
            score=result.value,
            reasons=tuple(reasons),
            severity=severity,
            since=entry.since,
            name_similarity=result.name_similarity,
        )
        same_partner = (
            partner_id is not None
            and entry.kind == RecordKind.REGISTRATION
            and entry.partner_id == partner_id
        )
        if same_partner and severity == CONFLICT:
            if duplicate_of is None or entry.since < _since_of(matches, duplicate_of, entry.since):
                duplicate_of = entry.record_id
        matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.since, m.record_id))
    status = CLEAR
    if matches:
        certain_foreign = any(
            m.severity == CONFLICT
            and not (m.kind == RecordKind.REGISTRATION and m.partner_id == partner_id)
            for m in matches
        )
        status = CONFLICT if certain_foreign else POTENTIAL
    return Outcome(
        status=status, matches=matches, duplicate_of=duplicate_of, policy_version=policy.version
    )


@system_context("conflict engine")
def check_many(
    items: list[tuple[Identity, Iterable[str], tuple[str, int] | None]],
    *,
    policy: Policy,
    kinds: Iterable[str],
    now: dt.datetime | None = None,
) -> list[Outcome]:
    """check() of many (identity, product lines, exclude) against the records of `kinds`, in
    the order given: one batch probe (_near) tells which identities have any candidate of
    those kinds at all, and only those run check(); the others are clear without a query
    of their own (a CRM pull's opportunities against the registrations: most have none)."""
    now = now or timezone_now()
    kinds = sorted(set(kinds))
    near = _near([identity for identity, _, _ in items], kinds, now)
    return [
        check(identity, lines, policy=policy, exclude=exclude, kinds=kinds, now=now)
        if is_near
        else Outcome(status=CLEAR, policy_version=policy.version)
        for (identity, lines, exclude), is_near in zip(items, near, strict=True)
    ]


def _near(identities: list[Identity], kinds: list[str], now: dt.datetime) -> list[bool]:
    """For each identity: could candidates() find an active entry of `kinds`? A superset of
    what it finds (its probes with the kind and activity filters first, and an AND-mode
    identity always counts as near), in five queries whatever the batch size."""
    domains_of = [sorted({d for d in (i.domain, i.email_domain) if d}) for i in identities]
    name_keys = [name_key(i.name) if i.name else "" for i in identities]
    keys_of = [sorted(blocking_keys_uncached(i.name)) if i.name else [] for i in identities]
    frequency: dict[str, int] = {}
    all_keys = sorted(set().union(*keys_of))
    for chunk in in_chunks(all_keys):
        frequency.update((key, df) for df, key in _key_frequencies(chunk))
    chosen_of = [
        choose_keys([(frequency[k], k) for k in keys if k in frequency]) for keys in keys_of
    ]
    entries = IdentityEntry.objects.filter(kind__in=kinds).filter(active_filter(now))
    near_domains: set[str] = set()
    for chunk in in_chunks(sorted(set().union(*domains_of))):
        near_domains.update(entries.filter(domain__in=chunk).values_list("domain", flat=True))
        near_domains.update(
            entries.filter(email_domain__in=chunk).values_list("email_domain", flat=True)
        )
    near_names: set[str] = set()
    for chunk in in_chunks(sorted({k for k in name_keys if k})):
        near_names.update(entries.filter(name_key__in=chunk).values_list("name_key", flat=True))
    rare = sorted({k for mode, chosen in chosen_of if mode == "rare" for k in chosen})
    near_keys: set[str] = set()
    postings = CandidateKey.objects.filter(entry__kind__in=kinds, entry__active=True).filter(
        Q(entry__active_until__isnull=True) | Q(entry__active_until__gt=now)
    )
    for chunk in in_chunks(rare):
        near_keys.update(postings.filter(key__in=chunk).values_list("key", flat=True).distinct())
    return [
        mode == "and"
        or bool(near_domains.intersection(domains))
        or (bool(key) and key in near_names)
        or (mode == "rare" and bool(near_keys.intersection(chosen)))
        for domains, key, (mode, chosen) in zip(domains_of, name_keys, chosen_of, strict=True)
    ]


def _since_of(matches: list[Match], record_id: int, default: dt.datetime) -> dt.datetime:
    for m in matches:
        if m.record_id == record_id and m.kind == RecordKind.REGISTRATION:
            return m.since
    return default
