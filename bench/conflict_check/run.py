"""The child process of bench.conflict_check: one backend, one N."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time


def _configure(spec) -> str | None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "prm.settings"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    if spec["backend"] == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-conflicts-")
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = os.path.join(folder, "bench.sqlite3")
        return None
    import psycopg

    from conflicts.normalize import NORMALIZER_VERSION

    base = spec["pg_url"].rsplit("/", 1)[0]
    if spec.get("keep_db"):
        # --keep-db: one database per N and normaliser version, seeded once and kept (the
        # index's keys depend on nothing else); later runs only time the checks.
        dbname = f"bench_conflicts_{spec['n']}_kept_v{NORMALIZER_VERSION}"
        with psycopg.connect(spec["pg_url"], autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        os.environ["DATABASE_URL"] = f"{base}/{dbname}"
        return None  # never dropped
    dbname = f"bench_conflicts_{spec['n']}_{os.getpid()}"
    with psycopg.connect(spec["pg_url"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    os.environ["DATABASE_URL"] = f"{base}/{dbname}"
    return dbname


def _names(n: int, rng: random.Random):
    """Realistic company names, fast: Faker pools drawn once, combined with a seeded RNG."""
    from faker import Faker

    fake = Faker(["en_US", "de_DE", "fr_FR", "en_GB"])
    fake.seed_instance(rng.randint(0, 10**9))
    # Sorted: a set's order follows the process's string hashing, and the names must be the
    # same in every run.
    last_names = sorted({fake.last_name() for _ in range(6000)})
    companies = sorted({fake.company().split(",")[0] for _ in range(3000)})
    suffixes = ["Inc", "LLC", "Ltd", "GmbH", "S.A.", "Corp", "Co", "PLC", "AG", "", "", ""]
    industries = [
        "Systems",
        "Logistics",
        "Foods",
        "Analytics",
        "Energy",
        "Partners",
        "Labs",
        "Health",
        "Media",
        "Capital",
        "Robotics",
        "Textiles",
        "Pharma",
        "Retail",
    ]
    tlds = ["com", "de", "co.uk", "fr", "io"]
    countries = ["US", "DE", "GB", "FR"]
    choice, random_ = rng.choice, rng.random
    for i in range(n):
        base = choice(last_names) if i % 3 else choice(companies)
        words = [base]
        if random_() < 0.7:
            words.append(choice(industries))
        if random_() < 0.3:
            words.insert(0, choice(last_names))
        name = " ".join(words + [choice(suffixes)]).strip()
        domain = ""
        if random_() < 0.7:
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
            domain = f"{slug}{i % 997}.{choice(tlds)}"
        yield name, domain, choice(countries)


def _seeded(connection) -> bool:
    """A kept database (--keep-db) that a finished earlier run seeded."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM conflicts_keyfrequency)")
        return bool(cursor.fetchone()[0])


def _read_back(connection):
    """What _seed returns, read from a kept database (--keep-db): every 50th record's raw
    name, domain and country, and every normalised name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name_raw, domain, country, name_norm FROM conflicts_identityentry "
            "ORDER BY id"
        )
        rows = cursor.fetchall()
    kept = [(name, domain, country) for i, name, domain, country, _ in rows if i % 50 == 0]
    return kept, [row[4] for row in rows]


def _seed(n_total: int, rng: random.Random, vendor: str) -> list[tuple[str, str, str]]:
    from django.db import connection
    from django.utils import timezone

    from conflicts.index import name_key
    from conflicts.normalize import NORMALIZER_VERSION, blocking_keys
    from conflicts.scoring import Identity

    now = timezone.now().isoformat()
    entries = []
    keys = []
    df: dict[str, int] = {}
    kept = []
    for record_id, (name, domain, country) in enumerate(_names(n_total, rng), start=1):
        identity = Identity.from_raw(name=name, domain=domain, country=country)
        kind = "direct_opportunity" if record_id % 3 else "registration"
        partner_id = None if kind == "direct_opportunity" else 1 + record_id % 500
        entries.append(
            (
                record_id,
                kind,
                record_id,
                partner_id,
                name[:300],
                name[:300],
                identity.name[:300],
                name_key(identity.name),
                identity.domain,
                identity.email_domain,
                country,
                "|crm|",
                True,
                None,
                now,
                now,
                NORMALIZER_VERSION,
            )
        )
        for key in blocking_keys(identity.name):
            keys.append((key, record_id))
            df[key] = df.get(key, 0) + 1
        if record_id % 50 == 0:
            kept.append((name, domain, country))
    columns_entry = (
        "id, kind, record_id, partner_id, label, name_raw, name_norm, name_key, domain, "
        "email_domain, country, product_lines, active, active_until, since, updated_at, "
        "normalizer_version"
    )
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            raw = cursor.connection
            with raw.cursor() as c:
                with c.copy(f"COPY conflicts_identityentry ({columns_entry}) FROM STDIN") as copy:
                    for row in entries:
                        copy.write_row(row)
                with c.copy("COPY conflicts_candidatekey (key, entry_id) FROM STDIN") as copy:
                    for row in keys:
                        copy.write_row(row)
                with c.copy("COPY conflicts_keyfrequency (key, df) FROM STDIN") as copy:
                    for row in df.items():
                        copy.write_row(row)
            cursor.execute("ANALYZE")
        else:
            raw = connection.connection  # the sqlite3 connection: no per-row Django overhead
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("BEGIN")
            placeholders = ", ".join(["?"] * 17)
            raw.executemany(
                f"INSERT INTO conflicts_identityentry ({columns_entry}) VALUES ({placeholders})",
                entries,
            )
            raw.executemany(
                "INSERT INTO conflicts_candidatekey (key, entry_id) VALUES (?, ?)", keys
            )
            raw.executemany(
                "INSERT INTO conflicts_keyfrequency (key, df) VALUES (?, ?)", list(df.items())
            )
            raw.execute("COMMIT")
            raw.execute("ANALYZE")
    return kept, [e[6] for e in entries]


def _perturb(name: str, rng: random.Random) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return name.upper()
    if choice == 1:
        return (
            name.replace("Inc", "Incorporated")
            .replace("Ltd", "Limited")
            .replace("Corp", "Corporation")
        )
    if choice == 2:
        return name + " Inc."
    return name.replace(" ", "  ").lower()


def run_child(spec) -> dict:
    dbname = _configure(spec)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rapidfuzz import fuzz, process

    from conflicts import engine
    from conflicts.normalize import normalize_name
    from conflicts.scoring import Identity

    call_command("migrate", verbosity=0)
    rng = random.Random(20261127)
    n = spec["n"]
    started = time.time()
    if spec.get("keep_db") and _seeded(connection):
        kept, all_norm = _read_back(connection)
        seed_s = 0.0  # reused: printed as 0
    else:
        kept, all_norm = _seed(n + n // 2, rng, connection.vendor)
        seed_s = time.time() - started

    policy = engine.Policy(review=85, certain=95, scope="any_product")
    hits = [
        (_perturb(name, rng), domain if rng.random() < 0.5 else "", country)
        for name, domain, country in rng.sample(kept, min(len(kept), spec["checks"] // 2))
    ]
    misses = [
        (f"Qu{rng.randrange(10**6)}x Zyntrav Holdings", "", "US")
        for _ in range(spec["checks"] - len(hits))
    ]
    queries = [(q, True) for q in hits] + [(q, False) for q in misses]
    rng.shuffle(queries)
    timings = []
    found = 0
    for (name, domain, country), is_hit in queries:
        t0 = time.perf_counter()
        outcome = engine.check(
            Identity.from_raw(name=name, domain=domain, country=country), ["crm"], policy=policy
        )
        timings.append((time.perf_counter() - t0) * 1000)
        if is_hit and outcome.matches:
            found += 1
    # Candidates per probe (outside the timed loop): what blocking hands to the scorer.
    per_probe = [
        len(engine.candidates(Identity.from_raw(name=name, domain=domain, country=country)))
        for (name, domain, country), _ in queries
    ]
    timings.sort()

    def pct(p):
        return timings[min(len(timings) - 1, int(len(timings) * p))]

    # The naive scan: rapidfuzz over every indexed name in memory, for the same queries.
    # "all" finds every name at or above the cutoff, as a check does (the speedup is against
    # it); "first" is extractOne, which stops at the first 100 (an exact spelling), so its
    # median swings with the mix of hits and misses among the queries (issue 15's first
    # figures used it; printed for continuity).
    naive, naive_first = [], []
    for (name, _domain, _country), _ in queries[: spec["baseline_queries"]]:
        probe = normalize_name(name)
        t0 = time.perf_counter()
        process.extract(probe, all_norm, scorer=fuzz.token_sort_ratio, score_cutoff=85, limit=None)
        naive.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        process.extractOne(probe, all_norm, scorer=fuzz.token_sort_ratio, score_cutoff=85)
        naive_first.append((time.perf_counter() - t0) * 1000)
    connection.close()
    if dbname:
        import psycopg

        with psycopg.connect(spec["pg_url"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
    return {
        "backend": spec["backend"],
        "n": n,
        "checks": len(timings),
        "seed_s": round(seed_s, 1),
        "p50": statistics.median(timings),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "hit_recall": found / max(1, len(hits)),
        "naive_p50": statistics.median(naive),
        "naive_first_p50": statistics.median(naive_first),
        "cand_mean": statistics.fmean(per_probe),
        "cand_p95": sorted(per_probe)[min(len(per_probe) - 1, int(len(per_probe) * 0.95))],
    }
