"""Real-world name sets for the matching evaluation, read from /work/shared/data/real-names at
bench run time (local files, never downloaded; see the README there). Absent folder → [].

- ``chicago``: organisations_with_true_ids.csv (early-childhood sites, ``True Id`` clusters);
  every distinct site name is a record, probed against all the others.
- ``restaurants``: fodors-zagats (two guides, 112 true pairs): zagats indexed, fodors probed.

Records are split by cluster id (bench.matching_eval.retrieval.half_of): tune on one half,
report on the other.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from bench.matching_eval.retrieval import Record

DATA_DIR = Path(os.environ.get("REAL_NAMES_DIR", "/work/shared/data/real-names"))


def available() -> bool:
    return (DATA_DIR / "organisations_with_true_ids.csv").is_file()


def chicago() -> list[Record]:
    path = DATA_DIR / "organisations_with_true_ids.csv"
    if not path.is_file():
        return []
    seen: set[tuple[str, str]] = set()
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = " ".join((row.get("Site name") or "").split())
            cluster = (row.get("True Id") or "").strip()
            if not name or not cluster or (cluster, name) in seen:
                continue
            seen.add((cluster, name))
            out.append(Record(cluster=f"c{cluster}", raw={"name": name, "country": "US"}))
    return out


def restaurants() -> tuple[list[Record], list[Record]]:
    """(indexed zagats, probing fodors)."""
    base = DATA_DIR / "fodors-zagats"
    if not (base / "matches_fodors_zagats.csv").is_file():
        return [], []
    with (base / "matches_fodors_zagats.csv").open(newline="", encoding="utf-8") as fh:
        pairs = {(r["fodors_id"], r["zagats_id"]) for r in csv.DictReader(fh)}
    f_cluster = {f: f"m{f}" for f, _ in pairs}
    z_cluster = {z: f"m{f}" for f, z in pairs}

    def load(name: str, clusters: dict[str, str], prefix: str) -> list[Record]:
        with (base / name).open(newline="", encoding="utf-8") as fh:
            return [
                Record(
                    cluster=clusters.get(r["id"], f"{prefix}{r['id']}"),
                    raw={"name": " ".join(r["name"].split()), "country": "US"},
                )
                for r in csv.DictReader(fh)
            ]

    return load("zagats.csv", z_cluster, "z"), load("fodors.csv", f_cluster, "f")
