"""Matching evaluation: ``python -m bench.matching_eval [--seed N] [--show N]``.

Generates a deterministic labelled set of identity pairs (see ``generate.py``), scores every pair
with :func:`conflicts.scoring.score` on :meth:`Identity.from_raw`, and prints precision, recall
and F1 at the review and certain thresholds, with examples of errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict

from bench.matching_eval import realnames, variants
from bench.matching_eval.generate import SEED, generate
from bench.matching_eval.retrieval import Record, Result, evaluate, half_of
from conflicts.scoring import DEFAULT_CERTAIN, DEFAULT_REVIEW, Identity, score

TARGET_PRECISION = 0.98
TARGET_RECALL = 0.95


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _fmt(side: dict) -> str:
    parts = [repr(side.get("name", ""))]
    for k in ("domain", "email", "country"):
        if side.get(k):
            parts.append(f"{k}={side[k]}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.matching_eval")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--show", type=int, default=10, help="examples of each error kind")
    ap.add_argument("--review", type=int, default=DEFAULT_REVIEW)
    ap.add_argument("--certain", type=int, default=DEFAULT_CERTAIN)
    ap.add_argument(
        "--sets",
        default="pairs,variants,real",
        help="comma-separated: pairs (the labelled pairs), variants (invented company names by "
        "variant class), real (/work/shared/data/real-names)",
    )
    ap.add_argument("--half", default="tune,report", help="which cluster halves to report")
    args = ap.parse_args(argv)
    sets = set(args.sets.split(","))
    rc = 0
    if "pairs" in sets:
        rc = _pairs(args)
    if sets & {"variants", "real"}:
        _record_sets(args, sets)
    return rc


def _halves(records: list[Record], half: str) -> list[Record]:
    return [r for r in records if half_of(r.cluster) == half]


def _show(res: Result, n: int, by_kind: bool = True) -> None:
    print(res.line())
    if by_kind and len(res.by_kind) > 1:
        print(
            "    by class (R@review/R@certain): "
            + ", ".join(
                f"{k} {v[1] / v[0]:.2f}/{v[2] / v[0]:.2f}"
                for k, v in sorted(res.by_kind.items())
                if v[0]
            )
        )
    if n:
        misses = sorted(res.misses, key=lambda m: m[1])
        seen: set[str] = set()
        shown = 0
        for kind, s, a, b in misses:  # one example per class first, lowest scores first
            if kind in seen or shown >= n:
                continue
            seen.add(kind)
            shown += 1
            print(f"    miss [{kind}] {s:>3}  {a!r}  ->  {b!r}")
        for kind, s, a, b in sorted(res.false_pos, key=lambda m: -m[1])[:n]:
            print(f"    false+ [{kind}] {s:>3}  {a!r}  ->  {b!r}")


def _record_sets(args, sets: set[str]) -> None:
    halves = args.half.split(",")
    kw = {"review": args.review, "certain": args.certain}
    if "variants" in sets:
        print("\n== invented company names by variant class (bench/matching_eval/variants.py) ==")
        indexed, probes = variants.mixed()
        for half in halves:
            res = evaluate(
                f"variants-mixed/{half}", _halves(indexed, half), _halves(probes, half), **kw
            )
            _show(res, args.show)
            negs = [p for p in _halves(probes, half) if p.kind.startswith("neg_")]
            certain_negs = {
                fp[2] for fp in res.false_pos if fp[0].startswith("neg_") and fp[1] >= args.certain
            }
            print(f"    look-alike probes certain: {len(certain_negs)} of {len(negs)}")
        reg = variants.registry()
        for half in halves:
            _show(evaluate(f"variants-registry/{half}", _halves(reg, half), **kw), args.show)
    if "real" in sets:
        print("\n== real names (/work/shared/data/real-names) ==")
        if not realnames.available():
            print(f"    note: {realnames.DATA_DIR} is absent; real-name sets skipped")
            return
        chi = realnames.chicago()
        for half in halves:
            _show(evaluate(f"chicago/{half}", _halves(chi, half), **kw), args.show, by_kind=False)
        zag, fod = realnames.restaurants()
        for half in halves:
            res = evaluate(f"restaurants/{half}", _halves(zag, half), _halves(fod, half), **kw)
            _show(res, args.show, by_kind=False)


def _pairs(args) -> int:

    t0 = time.perf_counter()
    pairs = generate(args.seed)
    t1 = time.perf_counter()
    scored = []
    for p in pairs:
        s = score(Identity.from_raw(**p.a), Identity.from_raw(**p.b))
        scored.append((p, s))
    t2 = time.perf_counter()

    labels = Counter(p.label for p in pairs)
    print(f"pairs: {len(pairs)}  " + "  ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    print(
        f"generate {t1 - t0:.1f}s, score {t2 - t1:.2f}s ({(t2 - t1) / len(pairs) * 1e6:.0f} us/pair)"
    )

    ok = True
    for thr_name, thr in (("review", args.review), ("certain", args.certain)):
        tp = sum(1 for p, s in scored if p.label == "match" and s.value >= thr)
        fn = sum(1 for p, s in scored if p.label == "match" and s.value < thr)
        fp = sum(1 for p, s in scored if p.label == "nonmatch" and s.value >= thr)
        tn = sum(1 for p, s in scored if p.label == "nonmatch" and s.value < thr)
        pr, rc, f1 = _prf(tp, fp, fn)
        print(
            f"\n@{thr_name} (score >= {thr}): TP={tp} FP={fp} FN={fn} TN={tn}  "
            f"precision={pr:.4f} recall={rc:.4f} F1={f1:.4f}"
        )
        if thr_name == "review":
            ok = pr >= TARGET_PRECISION and rc >= TARGET_RECALL
            by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for p, s in scored:
                if p.label == "match":
                    by_kind[p.kind][0] += s.value >= thr
                    by_kind[p.kind][1] += 1
            print(
                "  recall by kind: "
                + ", ".join(f"{k} {a / b:.3f}" for k, (a, b) in sorted(by_kind.items()))
            )
            neg_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for p, s in scored:
                if p.label == "nonmatch":
                    neg_kind[p.kind][0] += s.value >= thr
                    neg_kind[p.kind][1] += 1
            print(
                "  false-positive rate by negative kind: "
                + ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(neg_kind.items()))
            )

    rev = [(p, s) for p, s in scored if p.label == "review_only"]
    in_band = sum(1 for _, s in rev if args.review <= s.value < args.certain)
    above = sum(1 for _, s in rev if s.value >= args.certain)
    print(
        f"\nsame name, other country ({len(rev)} pairs, expected in the review band): "
        f"in band {in_band}, certain {above}, below review {len(rev) - in_band - above}"
    )
    if above:
        ok = False

    fps = [(p, s) for p, s in scored if p.label == "nonmatch" and s.value >= args.review]
    fns = [(p, s) for p, s in scored if p.label == "match" and s.value < args.review]
    print(f"\nfalse positives at review (showing {min(args.show, len(fps))} of {len(fps)}):")
    for p, s in sorted(fps, key=lambda x: -x[1].value)[: args.show]:
        print(f"  [{p.kind}] {s.value} {s.reasons}  {_fmt(p.a)}  <>  {_fmt(p.b)}")
    print(f"false negatives at review (showing {min(args.show, len(fns))} of {len(fns)}):")
    for p, s in sorted(fns, key=lambda x: -x[1].value)[: args.show]:
        print(f"  [{p.kind}] {s.value} {s.reasons}  {_fmt(p.a)}  <>  {_fmt(p.b)}")
    print(
        f"\ntargets (precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL} at review): "
        + ("MET" if ok else "NOT MET")
    )
    print(f"total {time.perf_counter() - t0:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
