"""An in-memory stand-in for the identity index: the engine's probes without a database.

Same keys (conflicts.normalize.blocking_keys), same exact probes (name key, domain, e-mail
domain) and the same choice of posting lists (conflicts.retrieval.choose_keys), so a pair that
this index does not retrieve is a pair the engine would not see. Used to evaluate labelled
record sets end to end: retrieval, then scoring.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from conflicts.normalize import blocking_keys
from conflicts.retrieval import CANDIDATE_CAP, choose_keys
from conflicts.scoring import DEFAULT_CERTAIN, DEFAULT_REVIEW, Identity, score


def name_key(name_norm: str) -> str:
    return " ".join(sorted(set(name_norm.split())))[:300]


@dataclass(frozen=True)
class Record:
    cluster: str
    raw: dict  # Identity.from_raw keyword arguments
    kind: str = ""  # variant class of this spelling ("" for the reference spelling)


class MemoryIndex:
    def __init__(self) -> None:
        self.entries: list[Identity] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.by_name_key: dict[str, list[int]] = defaultdict(list)
        self.by_domain: dict[str, list[int]] = defaultdict(list)
        self.by_email_domain: dict[str, list[int]] = defaultdict(list)

    def add(self, identity: Identity) -> int:
        i = len(self.entries)
        self.entries.append(identity)
        if identity.name:
            self.by_name_key[name_key(identity.name)].append(i)
            for k in blocking_keys(identity.name):
                self.postings[k].append(i)
        if identity.domain:
            self.by_domain[identity.domain].append(i)
        if identity.email_domain:
            self.by_email_domain[identity.email_domain].append(i)
        return i

    def candidates(self, identity: Identity) -> set[int]:
        ids: set[int] = set()
        for d in {identity.domain, identity.email_domain} - {""}:
            ids.update(self.by_domain.get(d, ())[:CANDIDATE_CAP])
            ids.update(self.by_email_domain.get(d, ())[:CANDIDATE_CAP])
        if identity.name:
            ids.update(self.by_name_key.get(name_key(identity.name), ())[:CANDIDATE_CAP])
            keys = sorted(blocking_keys(identity.name))
            present = [(len(self.postings[k]), k) for k in keys if k in self.postings]
            mode, chosen = choose_keys(present)
            if mode == "rare":
                found: set[int] = set()
                for k in chosen:
                    found.update(self.postings[k])
                ids.update(sorted(found)[:CANDIDATE_CAP])
            elif mode == "and":
                hits = Counter(i for k in chosen for i in self.postings[k])
                ids.update(sorted(i for i, c in hits.items() if c >= 2)[:CANDIDATE_CAP])
        return ids


def half_of(cluster: str) -> str:
    """ "tune" or "report": a fixed split by cluster id (never by record)."""
    return "tune" if zlib.crc32(cluster.encode()) % 2 == 0 else "report"


@dataclass
class Result:
    name: str
    records: int = 0
    clusters: int = 0
    positives: int = 0  # ordered (probe, indexed) pairs of the same cluster
    retrieved: int = 0  # ... of which the index retrieved the indexed one
    share_key: int = 0  # ... of which the two share a blocking key at all
    tp_review: int = 0
    tp_certain: int = 0
    fp_review: int = 0
    fp_certain: int = 0
    candidates: int = 0
    probes: int = 0
    misses: list[tuple[str, int, str, str]] = field(default_factory=list)  # kind, score, a, b
    false_pos: list[tuple[str, int, str, str]] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))

    @property
    def precision_certain(self) -> float:
        n = self.tp_certain + self.fp_certain
        return self.tp_certain / n if n else 1.0

    @property
    def precision_review(self) -> float:
        n = self.tp_review + self.fp_review
        return self.tp_review / n if n else 1.0

    @property
    def recall_certain(self) -> float:
        return self.tp_certain / self.positives if self.positives else 1.0

    @property
    def recall_review(self) -> float:
        return self.tp_review / self.positives if self.positives else 1.0

    @property
    def blocking_recall(self) -> float:
        return self.retrieved / self.positives if self.positives else 1.0

    def line(self) -> str:
        return (
            f"{self.name:<26} records {self.records:>5} pos {self.positives:>6}  "
            f"P@certain {self.precision_certain:.3f}  R@certain {self.recall_certain:.3f}  "
            f"R@review {self.recall_review:.3f}  P@review {self.precision_review:.3f}  "
            f"blocking R {self.blocking_recall:.3f}  cand/probe {self.candidates / max(1, self.probes):.1f}"
        )


def evaluate(
    name: str,
    indexed: Sequence[Record],
    probes: Sequence[Record] | None = None,
    *,
    review: int = DEFAULT_REVIEW,
    certain: int = DEFAULT_CERTAIN,
) -> Result:
    """Index *indexed*; probe with *probes* (default: every indexed record against the others).

    Positives are ordered (probe, indexed) pairs of the same cluster and different records;
    every retrieved candidate of another cluster that scores ≥ a threshold is a false positive.
    """
    index = MemoryIndex()
    idents = [Identity.from_raw(**r.raw) for r in indexed]
    for ident in idents:
        index.add(ident)
    self_probe = probes is None
    probe_recs = list(indexed) if probes is None else list(probes)
    by_cluster: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(indexed):
        by_cluster[r.cluster].append(i)
    res = Result(name=name, records=len(indexed) + (0 if self_probe else len(probe_recs)))
    res.clusters = len(by_cluster)
    for pi, prec in enumerate(probe_recs):
        pid = Identity.from_raw(**prec.raw)
        cands = index.candidates(pid)
        if self_probe:
            cands.discard(pi)
        res.probes += 1
        res.candidates += len(cands)
        for j in by_cluster.get(prec.cluster, ()):
            if self_probe and j == pi:
                continue
            kind = prec.kind or indexed[j].kind or "same"
            res.positives += 1
            k = res.by_kind[kind]
            k[0] += 1
            got = j in cands
            res.retrieved += got
            if pid.name and idents[j].name:
                res.share_key += not blocking_keys(pid.name).isdisjoint(
                    blocking_keys(idents[j].name)
                )
            s = score(pid, idents[j]).value if got else 0
            if s >= review:
                res.tp_review += 1
                k[1] += 1
            if s >= certain:
                res.tp_certain += 1
                k[2] += 1
            if s < certain:
                res.misses.append((kind, s, prec.raw["name"], indexed[j].raw["name"]))
        for j in cands:
            if indexed[j].cluster == prec.cluster:
                continue
            s = score(pid, idents[j]).value
            if s >= review:
                res.fp_review += 1
                if s >= certain:
                    res.fp_certain += 1
                res.false_pos.append(
                    (prec.kind or "-", s, prec.raw["name"], indexed[j].raw["name"])
                )
    return res
