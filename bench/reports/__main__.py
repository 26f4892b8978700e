"""Reports benchmark: ``python -m bench.reports [--rows N] [--runs K] [--keep]``.

Needs PostgreSQL: DATABASE_URL points at a server (any database on it, e.g.
postgres://postgres@127.0.0.1:5432/postgres). The bench creates a throwaway database
(prm_bench_reports_<pid>), migrates it, and generates N registrations (default 1,000,000) with
their events, product links and conflicts *in SQL* (INSERT ... SELECT generate_series: fast,
deterministic with setseed, and bypassing the services on purpose). Events carry placeholder
hashes: the chain is not verifiable, and the database is dropped at the end.

It then measures:
- p50/p95 of deals.reports.summary.report_summary for several filter sets (target p95 <= 300 ms for the
  manager's unfiltered summary), and of the whole dashboard (summary + weekly + breakdowns);
- the CSV export of all N rows streamed through the real csv_stream generator: time, bytes,
  and the process RSS sampled every 50,000 rows (flat = constant memory).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

TARGET_P95_MS = 300.0
PARTNERS = 300


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


REGISTRATIONS_SQL = """
-- Business seconds since Monday 1970-01-05 (deals.reports.percentiles.business_hours_expression's formula).
CREATE FUNCTION prm_bench_business_seconds(t timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $f$
    SELECT floor((date_part('epoch', t) - 345600) / 604800) * 432000
         + least((date_part('epoch', t) - 345600)
                 - floor((date_part('epoch', t) - 345600) / 604800) * 604800, 432000)
$f$;
SELECT setseed(0.42);
INSERT INTO deals_dealregistration (
    id, reference, partner_id, submitted_by_id, customer_name, customer_domain, customer_country,
    customer_address, contact_name, contact_email, contact_phone, estimated_value, currency,
    expected_close_date, stage, description, competitors, status, conflict_status,
    conflict_message, policy_version, decision_policy_version, submitted_at, first_submitted_at,
    sla_due_at, decided_at, decision_hours, decided_by_id, approved_at, expires_at, extensions_used,
    rejection_reason, decision_note, co_sell, outcome, actual_value, close_date, lost_reason,
    closed_at, created_at, updated_at, owner_id, win_late, benefit_kind, benefit_currency, custom,
    approval_step, approval_steps)
SELECT
    i, 'DR-B-' || lpad(i::text, 7, '0'), %(first_partner)s + (i %% %(partners)s), %(user)s,
    'Customer ' || i || ' Holdings', 'customer' || i || '.example', 'US', '',
    CASE WHEN i %% 997 = 0 THEN '=HYPERLINK("x")' ELSE 'Pat Buyer' END,
    'pat@customer' || i || '.example', '',
    round((5000 + r_value * 495000)::numeric, 2),
    (ARRAY['USD','USD','USD','EUR','GBP'])[1 + (i %% 5)],
    (t0 + interval '60 days')::date,
    (ARRAY['qualification','proposal','negotiation'])[1 + (i %% 3)], '', '',
    status,
    CASE WHEN r_conflict < 0.90 THEN 'clear' WHEN r_conflict < 0.94 THEN 'potential_conflict'
         ELSE 'conflict' END,
    '', 1, CASE WHEN decided THEN 1 END, t0, t0,
    t0 + interval '2 days',
    CASE WHEN decided THEN t0 + hours * interval '1 hour' END,
    -- business hours (Mon-Fri, no holidays) between t0 and the decision, as the services store
    CASE WHEN decided THEN (
        prm_bench_business_seconds(t0 + hours * interval '1 hour')
        - prm_bench_business_seconds(t0)) / 3600.0 END,
    NULL,
    CASE WHEN approved THEN t0 + hours * interval '1 hour' END,
    CASE WHEN approved THEN t0 + hours * interval '1 hour' + interval '90 days' END,
    CASE WHEN approved AND i %% 10 = 0 THEN 1 ELSE 0 END,
    CASE WHEN status = 'rejected' THEN (ARRAY['duplicate','direct_opportunity',
        'partner_registration','insufficient_information','not_qualified','outside_territory',
        'below_minimum','other'])[1 + (i %% 8)] ELSE '' END,
    '', (i %% 33 = 0),
    CASE WHEN status IN ('won', 'lost') THEN status END,
    CASE WHEN status = 'won' THEN round((5000 + r_value * 495000)::numeric, 2) END,
    CASE WHEN status IN ('won', 'lost') THEN (t0 + interval '30 days')::date END,
    CASE WHEN status = 'lost' THEN 'Budget' ELSE '' END,
    CASE WHEN status IN ('won', 'lost') THEN t0 + interval '30 days' END,
    t0, t0, %(user)s, false, '', '', '{}'::jsonb, 1, 1
FROM (
    SELECT i, t0, r_value, r_conflict, hours, status,
           status NOT IN ('submitted', 'info_requested', 'withdrawn') AS decided,
           status IN ('approved', 'won', 'lost', 'expired') AS approved
    FROM (
        SELECT g AS i,
               now() - random() * interval '730 days' AS t0,
               random() AS r_value, random() AS r_conflict,
               (random() * 120)::numeric(8, 2) AS hours,
               CASE WHEN r < 0.05 THEN 'submitted' WHEN r < 0.07 THEN 'info_requested'
                    WHEN r < 0.27 THEN 'approved' WHEN r < 0.42 THEN 'rejected'
                    WHEN r < 0.47 THEN 'withdrawn' WHEN r < 0.72 THEN 'won'
                    WHEN r < 0.90 THEN 'lost' ELSE 'expired' END AS status
        FROM (SELECT g, random() AS r FROM generate_series(1, %(rows)s) g) seed
    ) base
) s;
SELECT setval(pg_get_serial_sequence('deals_dealregistration', 'id'), %(rows)s);
"""

LINKS_SQL = """
INSERT INTO deals_dealregistration_products (dealregistration_id, product_id)
SELECT id, %(first_product)s + (id %% %(products)s) FROM deals_dealregistration;
INSERT INTO deals_dealregistration_products (dealregistration_id, product_id)
SELECT id, %(first_product)s + ((id + 3) %% %(products)s) FROM deals_dealregistration
WHERE id %% 4 = 0;
"""

EVENTS_SQL = """
INSERT INTO deals_registrationevent (chain, seq, registration_id, at, actor_id, actor_label,
    action, from_status, to_status, details, internal, policy_version, prev_hash, hash)
SELECT 'registration:' || id, 1, id, first_submitted_at, NULL, 'bench', 'submitted', 'draft',
       'submitted', '{}'::jsonb, false, 1, '', md5(id::text)
FROM deals_dealregistration;
INSERT INTO deals_registrationevent (chain, seq, registration_id, at, actor_id, actor_label,
    action, from_status, to_status, details, internal, policy_version, prev_hash, hash)
SELECT 'registration:' || id, 2, id, decided_at, NULL, 'bench',
       CASE WHEN approved_at IS NULL THEN 'rejected' ELSE 'approved' END, 'submitted',
       CASE WHEN approved_at IS NULL THEN 'rejected' ELSE 'approved' END, '{}'::jsonb, false, 1,
       md5(id::text), md5(id::text || '2')
FROM deals_dealregistration WHERE decided_at IS NOT NULL;
"""

CONFLICTS_SQL = """
INSERT INTO conflicts_conflict (registration_id, registration_partner_id, kind, other_id,
    other_partner_id, other_label, score, reasons, severity, policy_version, status, resolution,
    resolution_note, resolved_by_id, resolved_at, created_at)
SELECT id, partner_id, 'registration', id - 1, NULL, 'other', 96, '["domain"]'::jsonb,
       conflict_status, 1,
       CASE WHEN id %% 7 = 0 THEN 'open' ELSE 'resolved' END,
       CASE WHEN id %% 7 = 0 THEN '' ELSE (ARRAY['first_registration_wins','partner_wins',
           'direct_wins','co_sell','not_a_conflict','duplicate'])[1 + (id %% 6)] END,
       '', NULL, NULL, first_submitted_at
FROM deals_dealregistration WHERE conflict_status <> 'clear' AND id > 1;
"""


def _timed(fn, runs: int) -> tuple[float, float]:
    for _ in range(2):  # warm-up (plans, caches)
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return p50, p95


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reports")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="do not drop the database")
    args = ap.parse_args(argv)

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench.reports needs DATABASE_URL=postgres://... (a PostgreSQL server)")
        return 2
    import psycopg

    db_name = f"prm_bench_reports_{os.getpid()}"
    with psycopg.connect(_admin_url(base_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = _with_db(base_url, db_name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    try:
        return _run(args, db_name)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(_admin_url(base_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            print(f"dropped {db_name}")


def _run(args, db_name: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from deals.api.reports import csv_stream
    from deals.models import Product, ProductLine
    from deals.reports import rollup
    from deals.reports.breakdowns import report_breakdowns
    from deals.reports.csv import report_csv_rows
    from deals.reports.filters import report_filters_parse
    from deals.reports.series import report_weekly
    from deals.reports.summary import report_summary
    from partners.models import Membership, Partner, Tier, User

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"database {db_name}: migrated in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    tiers = list(Tier.objects.order_by("pk"))
    partners = Partner.objects.bulk_create(
        [
            Partner(
                name=f"Bench Partner {i:03d}",
                country="US",
                tier=tiers[i % len(tiers)],
                domains=[f"bench{i}.example"],
            )
            for i in range(PARTNERS)
        ]
    )
    lines = ProductLine.objects.bulk_create(
        [ProductLine(code=f"line-{i}", name=f"Line {i}") for i in range(5)]
    )
    products = Product.objects.bulk_create(
        [
            Product(code=f"bench-{i}", name=f"Bench {i}", product_line=lines[i % 5])
            for i in range(10)
        ]
    )
    submitter = User.objects.create_user(email="submitter@bench.example", password=None)
    partner_user = User.objects.create_user(email="partner@bench.example", password=None)
    Membership.objects.create(user=partner_user, partner=partners[0], role="member")
    manager = User.objects.create_superuser(email="manager@bench.example", password=None)
    params = {
        "rows": args.rows,
        "partners": PARTNERS,
        "first_partner": partners[0].pk,
        "user": submitter.pk,
        "first_product": products[0].pk,
        "products": len(products),
    }
    ids = sorted(p.pk for p in partners)
    assert ids == list(range(ids[0], ids[0] + PARTNERS)), "partner ids must be contiguous"
    with connection.cursor() as cursor:
        for label, sql in (
            ("registrations", REGISTRATIONS_SQL),
            ("product links", LINKS_SQL),
            ("events", EVENTS_SQL),
            ("conflicts", CONFLICTS_SQL),
        ):
            step = time.perf_counter()
            # One statement per execute: with server-side binding (prepared statements, the
            # PostgreSQL default in prm.settings) a parameterised execute holds one command.
            for statement in filter(None, (part.strip() for part in sql.split(";\n"))):
                cursor.execute(statement, params if "%" in statement else None)
            print(f"  generated {label} in {time.perf_counter() - step:.1f}s")
        # The rollup triggers wrote the cells while the rows went in; the periodic job folds
        # them (deals.tasks.report_cells_compact). VACUUM ANALYZE = what autovacuum leaves
        # behind on a live database (statistics, visibility map for index-only scans).
        step = time.perf_counter()
        cells = rollup.report_cells_compact()
        cursor.execute("VACUUM ANALYZE")
        print(
            f"  compacted the rollup to {cells:,} cells + VACUUM ANALYZE in {time.perf_counter() - step:.1f}s"
        )
        cursor.execute("SELECT count(*) FROM deals_registrationevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM conflicts_conflict")
        conflicts = cursor.fetchone()[0]
    print(
        f"data: {args.rows:,} registrations, {events:,} events, {conflicts:,} conflicts, "
        f"{PARTNERS} partners in {time.perf_counter() - t:.1f}s"
    )

    def parse(user, **query):
        return report_filters_parse(query, user=user)

    import datetime as dt

    today = dt.date.today()
    scenarios = [
        ("manager, all time, no filter", manager, {}),
        ("manager, last 90 days", manager, {"from": (today - dt.timedelta(days=90)).isoformat()}),
        ("manager, one partner", manager, {"partner": str(partners[7].pk)}),
        ("manager, tier gold", manager, {"tier": "gold"}),
        ("manager, product line", manager, {"product_line": "line-2"}),
        ("partner scorecard (own)", partner_user, {}),
    ]
    print(f"\nreport_summary, {args.runs} runs each (after 2 warm-ups):")
    worst = 0.0
    for label, user, query in scenarios:
        filters = parse(user, **query)
        p50, p95 = _timed(lambda u=user, f=filters: report_summary(u, f), args.runs)
        if label.startswith("manager, all time"):
            worst = p95
        print(f"  {label:32s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
    filters = parse(manager)

    recent = parse(manager, **{"from": (today - dt.timedelta(weeks=13)).isoformat()})
    for label, selection in (
        ("dashboard, last 13 weeks (page)", recent),
        ("dashboard, all time", filters),
    ):

        def dashboard(selection=selection):
            report_summary(manager, selection)
            report_weekly(manager, selection)
            report_breakdowns(manager, selection)

        p50, p95 = _timed(dashboard, max(3, args.runs // 4))
        print(f"  {label:32s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
    verdict = "OK" if worst <= TARGET_P95_MS else "OVER TARGET"
    print(f"  target: unfiltered summary p95 <= {TARGET_P95_MS:.0f} ms -> {verdict}")

    print("\nCSV export of every row (manager, no filter), streamed:")
    rss_before = _rss_mb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    samples = []
    start = time.perf_counter()
    size = rows = 0
    for chunk in csv_stream(report_csv_rows(manager, filters)):
        size += len(chunk.encode())
        rows += 1
        if rows % 50_000 == 0:
            samples.append(_rss_mb())
    elapsed = time.perf_counter() - start
    rss_after = _rss_mb()
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {rows - 1:,} rows, {size / 1e6:.1f} MB in {elapsed:.1f}s "
        f"({(rows - 1) / elapsed:,.0f} rows/s)"
    )
    print(
        f"  RSS before {rss_before:.1f} MB, during min/max "
        f"{min(samples or [rss_after]):.1f}/{max(samples or [rss_after]):.1f} MB, after {rss_after:.1f} MB; "
        f"peak RSS of the process {peak_before:.1f} -> {peak_after:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
