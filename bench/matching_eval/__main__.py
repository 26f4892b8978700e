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

from bench.matching_eval.generate import SEED, generate
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
    args = ap.parse_args(argv)

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
