"""API load bench: gunicorn on PostgreSQL with ≥100k registrations and opportunities, locust
headless against one endpoint at a time.

    python -m bench.api_load                      # 100k rows, 10 users, 30 s per endpoint
    python -m bench.api_load --rows 1000000 --duration 600s --users 50
    python -m bench.api_load --rows 20000 --duration 20s --scenarios ping,detail,submit --servers 2
                                                  # 1 vs 2 gunicorn processes, side by side

It creates a throwaway database (dropped at the end unless --keep), migrates it, bulk-seeds
partners, users, registrations, direct opportunities and the identity index, starts gunicorn
(--workers sync workers, settings bench.api_load.settings which add /bench/ping/), and runs
locust for each scenario: the ceiling (a DRF view with no DB and no auth), registration detail
GET, registration list GET (page_size=25), conflict-check POST and registration create+submit
POST. It prints req/s, p50/p95/p99 (ms), errors per endpoint and the fraction of the ceiling.
PostgreSQL: --pg-url (default postgres://postgres@127.0.0.1:5432/postgres), Redis for the shared
limiter cache: --cache-url (default redis://127.0.0.1:6379/14; "" for the database cache).

Concurrency. Locust runs closed-loop users (each sends its next request when the previous
answer arrives), so by Little's law mean latency = users / throughput: with U users nothing can
answer faster on average than U / (req/s), whatever the server does. 50 users on 5 sync workers
(the old default) kept ~10 requests queued per worker, so no endpoint below 500 req/s could
show a p95 under 100 ms: the latency figures measured the queue, not the request. The default
is now 2 users per worker (10 for 5 workers): every worker always has one request in hand and
one waiting, which keeps the 2 cores busy (throughput about as with deeper queues) while
latency stays the time a request takes. The same U is used for every scenario, the ceiling
included, so the fractions compare like with like; --users overrides it (e.g. 50 for the old
figures).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = ["ping", "detail", "list_page", "conflict_check", "submit"]
LABELS = {
    "ping": "ceiling: GET /bench/ping/ (no DB, no auth)",
    "detail": "GET /api/v1/registrations/{id}/",
    "list_page": "GET /api/v1/registrations/?page_size=25",
    "conflict_check": "POST /api/v1/conflict-check/",
    "submit": "POST /api/v1/registrations/ (submit)",
}


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _env(db_url: str, cache_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.api_load.settings",
        DATABASE_URL=db_url,
        CELERY_BROKER_URL="memory://",
        PYTHONPATH=ROOT,
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    if cache_url:
        env["CACHE_URL"] = cache_url
    else:
        env.pop("CACHE_URL", None)
    return env


def _bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def _wait(url: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(
                f"gunicorn for {url} exited {process.returncode} (log in {tempfile.gettempdir()})"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - localhost
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url}")


def _stats(prefix: str) -> dict | None:
    path = f"{prefix}_stats.csv"
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        for row in csv.DictReader(fh):
            if row["Name"] != "Aggregated" and row["Request Count"] not in ("", "0"):
                return {
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]),
                    "p50": float(row["50%"]),
                    "p95": float(row["95%"]),
                    "p99": float(row["99%"]),
                }
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="registrations (and as many opportunities)"
    )
    parser.add_argument("--partners", type=int, default=500)
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="locust users (closed loop); default 2 per gunicorn worker",
    )
    parser.add_argument(
        "--client",
        choices=["fast", "requests"],
        default="fast",
        help="locust client: FastHttpUser (default) or HttpUser (the figures before issue #4)",
    )
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="N > 1: run every scenario against 1 gunicorn process, then against N (ports "
        "port..port+N-1, locust alternating request by request), and print both side by side",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--db-prefix", default="prm_bench_api", help="throwaway database name prefix"
    )
    parser.add_argument(
        "--reuse",
        metavar="DATA_JSON",
        help="skip the seed: run against the database kept by an earlier --keep run (its URL "
        "via --pg-url) and the data file that run printed",
    )
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--child-seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.users is None:
        args.users = 2 * args.workers

    if args.child_seed:
        import django

        django.setup()
        from bench.api_load.seed import seed

        spec = json.loads(args.child_seed)
        print(json.dumps(seed(**spec)))
        return

    import psycopg

    workdir = tempfile.mkdtemp(prefix="bench-api-")
    if args.reuse:
        db_url, data_path, args.keep = args.pg_url, args.reuse, True
    else:
        dbname = f"{args.db_prefix}_{os.getpid()}"
        db_url = _with_db(args.pg_url, dbname)
        data_path = os.path.join(workdir, "data.json")
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    env = _env(db_url, args.cache_url)
    gunicorns: list[subprocess.Popen] = []
    try:
        if not args.reuse:
            _seed(args, env, data_path)
            if args.seed_only:
                print(f"data file: {data_path}")
                return
        counts = [1, args.servers] if args.servers > 1 else [1]
        by_count = {}
        for count in counts:
            gunicorns = _start_servers(args, env, count)
            try:
                by_count[count] = _run_scenarios(args, workdir, data_path, count)
            finally:
                _stop_servers(gunicorns)
                gunicorns = []
            _print(by_count[count], args, count)
        if len(counts) > 1:
            _print_side_by_side(by_count, args)
    finally:
        _stop_servers(gunicorns)
        if not args.keep:
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        else:
            print(f"database kept: {db_url} (rerun: --pg-url {db_url} --reuse {data_path})")


def _start_servers(args, env: dict, count: int) -> list[subprocess.Popen]:
    """`count` gunicorn processes (--workers sync workers each) on ports port, port+1, …"""
    servers = []
    for i in range(count):
        log = open(
            os.path.join(tempfile.gettempdir(), f"bench-api-gunicorn-{args.port + i}.log"), "w"
        )  # noqa: SIM115
        servers.append(subprocess.Popen(
            [_bin("gunicorn"), "prm.wsgi:application", "--workers", str(args.workers),
             "--bind", f"127.0.0.1:{args.port + i}", "--log-level", "warning",
             "--access-logfile", "-", "--access-logformat", "%(s)s"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
        ))  # fmt: skip
    try:
        for i, server in enumerate(servers):
            # Several servers importing Django at once on a busy machine: allow minutes.
            _wait(f"http://127.0.0.1:{args.port + i}/bench/ping/", timeout=300, process=server)
    except BaseException:
        _stop_servers(servers)  # none is left behind when one did not start
        raise
    return servers


def _stop_servers(servers: list[subprocess.Popen]) -> None:
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _run_scenarios(args, workdir: str, data_path: str, count: int) -> dict:
    hosts = [f"http://127.0.0.1:{args.port + i}" for i in range(count)]
    print(
        f"servers: {count} gunicorn process(es) × {args.workers} sync workers; {args.users} "
        f"locust users (closed loop, {args.client} client)"
        + (", alternating between the servers request by request" if count > 1 else ""),
        flush=True,
    )
    results = {}
    for scenario in args.scenarios.split(","):
        prefix = os.path.join(workdir, f"{scenario}-{count}")
        locust_env = {
            **os.environ,
            "BENCH_DATA": data_path,
            "BENCH_SCENARIO": scenario,
            "BENCH_CLIENT": args.client,
            "BENCH_HOSTS": ",".join(hosts) if count > 1 else "",
        }
        locust_env.pop("DJANGO_SETTINGS_MODULE", None)
        print(f"… {LABELS[scenario]}: {args.users} users for {args.duration}", flush=True)
        subprocess.run(
            [_bin("locust"), "-f", os.path.join(ROOT, "bench", "api_load", "locustfile.py"),
             "--headless", "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
             "--host", hosts[0], "--csv", prefix, "--only-summary", "--loglevel", "ERROR"],
            cwd=ROOT, env=locust_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        results[scenario] = _stats(prefix)
    return results


def _print_side_by_side(by_count: dict, args) -> None:
    counts = sorted(by_count)
    print()
    print(
        f"1 vs {counts[-1]} servers (req/s; p95 ms), {args.users} users, {args.workers} workers each"
    )
    header = (
        f"{'endpoint':50}" + "".join(f" {f'{c} server(s)':>18}" for c in counts) + f" {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for scenario in args.scenarios.split(","):
        cells, rates = "", []
        for count in counts:
            stats = by_count[count].get(scenario)
            rates.append(stats["rps"] if stats else 0.0)
            cell = f"{stats['rps']:.1f}; {stats['p95']:.0f}" if stats else "-"
            cells += f" {cell:>18}"
        ratio = f"{rates[-1] / rates[0]:.2f}" if rates[0] else "-"
        print(f"{LABELS[scenario]:50}{cells} {ratio:>6}")


def _seed(args, env: dict, data_path: str) -> None:
    started = time.time()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    if not args.cache_url:
        subprocess.run(
            [sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True
        )
    spec = {
        "rows": args.rows,
        "partners": args.partners,
        "token_users": min(args.partners, 200),
        "out": data_path,
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "bench.api_load", "--child-seed", json.dumps(spec)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    counts = json.loads(seeded.stdout.strip().splitlines()[-1])
    print(
        f"seeded {counts['registrations']:,} registrations, {counts['opportunities']:,} "
        f"opportunities, {counts['index_entries']:,} index entries in {time.time() - started:.0f} s",
        flush=True,
    )


def _print(results: dict, args, servers: int = 1) -> None:
    ceiling = (results.get("ping") or {}).get("rps") or 0.0
    print()
    print(
        f"rows={args.rows:,} users={args.users} client={args.client} duration={args.duration} "
        f"workers={args.workers} servers={servers}"
    )
    header = (
        f"{'endpoint':50} {'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>8} {'of C':>6}"
    )
    print(header)
    print("-" * len(header))
    for scenario, stats in results.items():
        if stats is None:
            print(f"{LABELS[scenario]:50} (no data)")
            continue
        fraction = f"{stats['rps'] / ceiling:.0%}" if ceiling else "-"
        errors = f"{stats['failures']}/{stats['requests']}"
        print(
            f"{LABELS[scenario]:50} {stats['rps']:8.1f} {stats['p50']:6.0f} {stats['p95']:6.0f} "
            f"{stats['p99']:6.0f} {errors:>8} {fraction:>6}"
        )
    print("latencies in ms; 'of C' = throughput as a fraction of the ceiling endpoint")


if __name__ == "__main__":
    main()
