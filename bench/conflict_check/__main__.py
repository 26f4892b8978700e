"""Conflict-check latency at scale, with a naive baseline in the same run.

    python -m bench.conflict_check                       # N = 10k,100k,1M on SQLite and PostgreSQL
    python -m bench.conflict_check --sizes 10000,100000 --backends sqlite
    python -m bench.conflict_check --sizes 1000000 --backends postgresql --keep-db

For each backend and N it builds a fresh database, bulk-loads N direct opportunities and N/2
registrations into the identity index (entries, blocking keys, key frequencies — exactly what
the engine reads), then times 1,000 engine checks (half hits: perturbed spellings of indexed
customers; half misses: unseen names) and a naive baseline (rapidfuzz over every name in
memory, finding every name at or above 85 as a check does; the speedup is p50 against p50,
and the first-match column is extractOne, which stops at an exact spelling). Prints
p50/p95/p99 per N and backend. PostgreSQL: DATABASE_URL of a server where a throwaway
database may be created (default postgres://postgres@127.0.0.1:5432/postgres). --keep-db
seeds bench_conflicts_<N>_kept_v<normaliser version> once and reuses it (drop it to reseed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--baseline-queries", type=int, default=50)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="PostgreSQL: seed bench_conflicts_<N>_kept_v<normaliser> once and reuse it",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from bench.conflict_check.run import run_child

        print(json.dumps(run_child(json.loads(args.child))))
        return

    results = []
    for backend in args.backends.split(","):
        for n in [int(x) for x in args.sizes.split(",")]:
            spec = {
                "backend": backend,
                "n": n,
                "checks": args.checks,
                "baseline_queries": args.baseline_queries,
                "pg_url": args.pg_url,
                "keep_db": args.keep_db and backend == "postgresql",
            }
            started = time.time()
            print(f"… {backend} N={n:,}: seeding and measuring", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, "-m", "bench.conflict_check", "--child", json.dumps(spec)],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{backend} N={n} failed")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result["wall_s"] = round(time.time() - started, 1)
            results.append(result)
            print(f"  done in {result['wall_s']} s (seed {result['seed_s']} s)", file=sys.stderr)
    print_table(results)


def print_table(results) -> None:
    import platform

    print(f"\nConflict check, {results[0]['checks']} checks per row (half hits, half misses)")
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    header = (
        f"{'backend':<11}{'N opps':>10}{'+regs':>9}{'seed s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'hit rec':>8}{'naive p50':>11}{'speedup':>9}{'cand/probe':>11}{'cand p95':>9}{'first-match p50':>16}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['backend']:<11}{r['n']:>10,}{r['n'] // 2:>9,}{r['seed_s']:>8.0f}{r['p50']:>8.2f}"
            f"{r['p95']:>8.2f}{r['p99']:>8.2f}{r['hit_recall']:>8.2f}{r['naive_p50']:>10.1f}m"
            f"{r['naive_p50'] / max(r['p50'], 1e-9):>8.0f}x"
            f"{r.get('cand_mean', 0):>11.1f}{r.get('cand_p95', 0):>9}"
            f"{r.get('naive_first_p50', 0):>12.1f} ms"
        )
    by_backend: dict[str, list] = {}
    for r in results:
        by_backend.setdefault(r["backend"], []).append(r)
    for backend, rows in by_backend.items():
        rows.sort(key=lambda r: r["n"])
        if len(rows) > 1:
            print(
                f"{backend}: p95 at N={rows[-1]['n']:,} is {rows[-1]['p95'] / rows[0]['p95']:.2f}x "
                f"p95 at N={rows[0]['n']:,}"
            )


if __name__ == "__main__":
    main()
