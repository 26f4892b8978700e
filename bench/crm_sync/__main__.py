"""CRM sync benchmark: ``python -m bench.crm_sync [--rows N] [--changes M] [--vendor sf|hs]``.

Starts the local fake Salesforce (or HubSpot) server of the tests (tests/integrations/crm/
fakes.py: TLS on 127.0.0.1, the documented response shapes, 2,000 records per SOQL batch /
200 per HubSpot search page) with N opportunities (default 100,000), connects a CRM
connection to it through the real client library, and measures:
- the initial pull of N opportunities (every row through deals' opportunity services: the
  identity index and the conflict check), with the process RSS printed every 10,000 rows;
- an incremental pull of M changes (default 1,000: M/2 changed, M/2 new).
Targets: initial 100k <= 300 s with flat memory; incremental 1,000 <= 10 s.

Database: a throwaway SQLite file by default; DATABASE_URL=postgres://... uses a throwaway
database on that server (prm_bench_crm_<pid>), dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TARGET_INITIAL_S = 300.0
TARGET_INCREMENTAL_S = 10.0


def rss_mib() -> float:
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ProgressClient:
    """Wraps the real client: prints RSS every 10,000 rows of a pull."""

    def __init__(self, client, started: float):
        self.client, self.started, self.rows, self.next_mark = client, started, 0, 10_000

    def changed_pages(self, since, since_id, fields):
        for page in self.client.changed_pages(since, since_id, fields):
            yield page
            self.rows += len(page)
            while self.rows >= self.next_mark:
                print(
                    f"  {self.next_mark:>7,} rows  {time.monotonic() - self.started:7.1f} s"
                    f"  RSS {rss_mib():7.1f} MiB",
                    flush=True,
                )
                self.next_mark += 10_000

    def __getattr__(self, name):
        return getattr(self.client, name)


def _setup_database(tmp: Path) -> tuple[str, str | None]:
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"prm_bench_crm_{os.getpid()}"
        admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
        return "postgresql", name
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    return "sqlite", None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.crm_sync")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--changes", type=int, default=1_000)
    ap.add_argument("--vendor", choices=("sf", "hs"), default="sf")
    ap.add_argument(
        "--fetch-only",
        action="store_true",
        help="page through and map every record without storing (the connector's own cost)",
    )
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-crm-"))
    backend, pg_name = _setup_database(tmp)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.integrations.crm.fakes import make_tls

    cert, key = make_tls(tmp)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "prm.settings",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CRM_CA_BUNDLE": cert,
            "CRM_CREDENTIALS_KEY": "YmVuY2gtb25seS1jcm0ta2V5LTAxMjM0NTY3ODlhYmM=",
            "PRM_VAR_DIR": str(tmp),
            "CACHE_URL": "locmemcache://",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        return _run(args, backend, cert, key)
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            import psycopg

            base = os.environ["DATABASE_URL"]
            admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


_NAMES: list[tuple[str, str, str]] = []


def _account(n: int) -> tuple[str, str, str]:
    """Realistic, varied company names (the conflict bench's generator, seeded): the conflict
    check's candidate lookup depends on how names spread over blocking keys."""
    if not _NAMES:
        import random

        from bench.conflict_check.run import _names

        _NAMES.extend(_names(250_000, random.Random(16)))
    name, domain, country = _NAMES[n % len(_NAMES)]
    return name, domain or f"acct{n}.com", country


def _sf_row(n: int) -> dict:
    name, domain, country = _account(n)
    return {
        "Name": f"Deal {n}",
        "Account.Name": name,
        "Account.Website": f"https://www.{domain}",
        "Account.BillingCountryCode": country,
        "Owner.Email": f"rep{n % 40}@vendor.example",
        "Amount": 1000 + n % 90_000,
        "CurrencyIsoCode": "USD",
        "StageName": ("Prospecting", "Qualification", "Closed Won", "Closed Lost")[n % 4],
        "CloseDate": "2026-06-30",
    }


def _hs_row(n: int) -> dict:
    name, domain, country = _account(n)
    return {
        "dealname": name,
        "domain": domain,
        "country": country,
        "owner_email": f"rep{n % 40}@vendor.example",
        "amount": str(1000 + n % 90_000),
        "deal_currency_code": "USD",
        "dealstage": ("appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost")[n % 4],
        "closedate": "2026-06-30T00:00:00.000Z",
    }


def _serve(vendor: str, rows: int, cert: str, key: str, pipe) -> None:
    """The fake CRM in its own process (its memory and CPU are not the connector's): serves
    `rows` records, applies ("changes", n) on request, stops on "stop"."""
    from tests.integrations.crm.fakes import FakeHubSpot, FakeSalesforce

    fake = (
        FakeSalesforce(cert, key, batch=2000) if vendor == "sf" else FakeHubSpot(cert, key)
    ).start()
    row = _sf_row if vendor == "sf" else _hs_row
    ids = [fake.put(row(n)) for n in range(rows)]
    token = "" if vendor == "sf" else next(iter(fake.private_tokens))
    pipe.send((fake.url, token))
    while True:
        command, n = pipe.recv()
        if command == "stop":
            fake.stop()
            return
        half = n // 2
        for i in range(half):
            record_id = ids[(i * 97) % len(ids)]
            if vendor == "sf":
                fake.put({"Id": record_id, "Amount": 5000 + i, "StageName": "Negotiation"})
            else:
                fake.put({"amount": str(5000 + i), "dealstage": "contractsent"}, deal_id=record_id)
        for i in range(n - half):
            fake.put(row(rows + i))
        pipe.send("ok")


def _run(args, backend, cert, key) -> int:
    from deals.models import DirectOpportunity
    from integrations.crm.models import AuthMethod, CrmConnection, PushObject, Vendor
    from integrations.crm.pull import crm_pull
    from integrations.crm.services import (
        connection_client,
        connection_prepare,
        connection_set_secrets,
    )

    vendor = "Salesforce" if args.vendor == "sf" else "HubSpot"
    print(
        f"bench.crm_sync: {vendor}, {args.rows:,} opportunities, {args.changes:,} changes, "
        f"{backend}, {os.cpu_count()} CPUs"
    )
    import multiprocessing

    t0 = time.monotonic()
    parent, child = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(args.vendor, args.rows, cert, key, child), daemon=True
    )
    server.start()
    url, token = parent.recv()
    if args.vendor == "sf":
        connection = CrmConnection.objects.create(
            name="bench",
            vendor=Vendor.SALESFORCE,
            auth_method=AuthMethod.SF_WEB_SERVER,
            auth_url=url,
            client_id="client-1",
            push_object=PushObject.OPPORTUNITY,
        )
        secrets = {"client_secret": "secret-1", "refresh_token": "refresh-1"}
    else:
        connection = CrmConnection.objects.create(
            name="bench",
            vendor=Vendor.HUBSPOT,
            auth_method=AuthMethod.HS_PRIVATE_APP,
            auth_url=url,
            push_object=PushObject.DEAL,
        )
        secrets = {"token": token}
    connection_prepare(connection)
    connection_set_secrets(connection, secrets)
    print(
        f"fake server ready with {args.rows:,} records in {time.monotonic() - t0:.1f} s; RSS {rss_mib():.1f} MiB"
    )

    try:
        if args.fetch_only:
            from integrations.crm.mapping import record_map, source_fields

            connection.refresh_from_db()
            maps = list(connection.fields.all())
            client = ProgressClient(connection_client(connection), time.monotonic())
            started, count, bad = time.monotonic(), 0, 0
            for page in client.changed_pages(None, "", source_fields(maps)):
                for record in page:
                    count += 1
                    bad += bool(record_map(record, maps)[1])
            took = time.monotonic() - started
            print(
                f"fetch + map only: {count:,} records in {took:.1f} s ({count / took:,.0f} rows/s), {bad} mapping errors"
            )
            return 0
        print("initial pull:")
        started = time.monotonic()
        connection.refresh_from_db()
        run = crm_pull(connection.pk, client=ProgressClient(connection_client(connection), started))
        initial = time.monotonic() - started
        assert run is not None
        print(
            f"initial pull: {initial:.1f} s ({run.fetched / initial:,.0f} rows/s), status {run.status}, "
            f"fetched {run.fetched:,} created {run.created:,} updated {run.updated:,} failed {run.failed:,}; "
            f"RSS {rss_mib():.1f} MiB {'OK' if initial <= TARGET_INITIAL_S else 'OVER'} (target {TARGET_INITIAL_S:.0f} s)"
        )
        if run.error:
            print("  error:", run.error[:500])

        parent.send(("changes", args.changes))
        parent.recv()
        started = time.monotonic()
        run = crm_pull(connection.pk)
        incremental = time.monotonic() - started
        assert run is not None
        print(
            f"incremental pull: {incremental:.2f} s, status {run.status}, fetched {run.fetched:,} "
            f"created {run.created:,} updated {run.updated:,}; "
            f"{'OK' if incremental <= TARGET_INCREMENTAL_S else 'OVER'} (target {TARGET_INCREMENTAL_S:.0f} s)"
        )
        print(f"direct opportunities stored: {DirectOpportunity.objects.count():,}")
    finally:
        parent.send(("stop", 0))
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
