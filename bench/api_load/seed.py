"""Seed the bench database with bulk inserts (not the services: 100k+ rows in minutes).

Registrations and direct opportunities get their identity-index entries, blocking keys and
key frequencies written the same way (COPY), so the conflict check works on a realistic index.
"""

from __future__ import annotations

import datetime as dt
import json
import random

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

BATCH = 5000


def _copy(table: str, columns: str, rows) -> None:
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def seed(*, rows: int, partners: int, token_users: int, out: str, seed_value: int = 7) -> dict:
    from bench.conflict_check.run import _names
    from conflicts.index import name_key
    from conflicts.normalize import blocking_keys
    from conflicts.scoring import Identity
    from deals.models import DealRegistration, DirectOpportunity, Product, ProductLine
    from deals.policy import policy_current
    from partners.models import Membership, Partner, Tier, User
    from partners.services import token_create

    rng = random.Random(seed_value)
    now = timezone.now()
    policy_current()
    line, _ = ProductLine.objects.get_or_create(code="crm", defaults={"name": "CRM"})
    product, _ = Product.objects.get_or_create(
        code="crm-pro", defaults={"name": "CRM Pro", "product_line": line}
    )
    tier = Tier.objects.get(code="gold")
    password = make_password("bench-password-123")
    with transaction.atomic():
        partner_rows = Partner.objects.bulk_create(
            [
                Partner(name=f"Bench Partner {i:05d}", country="US", tier=tier)
                for i in range(partners)
            ]
        )
        users = User.objects.bulk_create(
            [
                User(email=f"user{i}@bench-partner.example", password=password)
                for i in range(partners)
            ]
        )
        Membership.objects.bulk_create(
            [Membership(user=u, partner=p) for u, p in zip(users, partner_rows, strict=True)]
        )

    names = list(_names(rows * 2, rng))
    identity_rows, key_rows, df = [], [], {}
    entry_id = 0

    def index(kind, record_id, partner_id, label, name, domain, country, since):
        nonlocal entry_id
        identity = Identity.from_raw(name=name, domain=domain, country=country)
        entry_id += 1
        identity_rows.append(
            (entry_id, kind, record_id, partner_id, label[:300], name[:300], identity.name[:300],
             name_key(identity.name), identity.domain, identity.email_domain, country, "|crm|",
             True, None, since, now)
        )  # fmt: skip
        for key in blocking_keys(identity.name):
            key_rows.append((key, entry_id))
            df[key] = df.get(key, 0) + 1

    registrations_by_partner: dict[int, list[int]] = {}
    with transaction.atomic():
        for start in range(0, rows, BATCH):
            batch = []
            for i in range(start, min(rows, start + BATCH)):
                name, domain, country = names[i]
                p = i % partners
                roll = rng.random()
                status = "approved" if roll < 0.6 else ("submitted" if roll < 0.9 else "draft")
                submitted = now - dt.timedelta(days=rng.randint(1, 60))
                batch.append(
                    DealRegistration(
                        reference=f"DR-{now.year}-{i + 1:07d}",
                        partner_id=partner_rows[p].pk,
                        submitted_by_id=users[p].pk,
                        owner_id=users[p].pk,
                        customer_name=name,
                        customer_domain=domain,
                        customer_country=country,
                        contact_name="Pat Buyer",
                        contact_email=f"pat@{domain or 'example.com'}",
                        estimated_value=rng.randint(5_000, 500_000),
                        currency="USD",
                        expected_close_date=(now + dt.timedelta(days=90)).date(),
                        stage="proposal",
                        status=status,
                        conflict_status=None if status == "draft" else "clear",
                        conflict_message="",
                        submitted_at=None if status == "draft" else submitted,
                        first_submitted_at=None if status == "draft" else submitted,
                        sla_due_at=None if status == "draft" else submitted + dt.timedelta(days=2),
                        approved_at=submitted if status == "approved" else None,
                        expires_at=submitted + dt.timedelta(days=90)
                        if status == "approved"
                        else None,
                        decided_at=submitted if status == "approved" else None,
                        decision_hours=0.0 if status == "approved" else None,
                    )
                )
            created = DealRegistration.objects.bulk_create(batch)
            through = DealRegistration.products.through
            through.objects.bulk_create(
                [through(dealregistration_id=r.pk, product_id=product.pk) for r in created]
            )
            for r in created:
                registrations_by_partner.setdefault(r.partner_id, []).append(r.pk)
                if r.status != "draft":
                    index("registration", r.pk, r.partner_id, f"{r.reference} · {r.customer_name}",
                          r.customer_name, r.customer_domain, r.customer_country, r.submitted_at)  # fmt: skip
        for start in range(rows, rows * 2, BATCH):
            batch = []
            for i in range(start, min(rows * 2, start + BATCH)):
                name, domain, country = names[i]
                batch.append(
                    DirectOpportunity(
                        external_id=f"CRM-{i:08d}",
                        account_name=name,
                        account_domain=domain,
                        country=country,
                        owner_email="rep@vendor.example",
                        amount=rng.randint(1_000, 900_000),
                        currency="USD",
                        status="open",
                    )
                )
            created = DirectOpportunity.objects.bulk_create(batch)
            through = DirectOpportunity.products.through
            through.objects.bulk_create(
                [through(directopportunity_id=o.pk, product_id=product.pk) for o in created]
            )
            for o in created:
                index("direct_opportunity", o.pk, None, f"{o.external_id} · {o.account_name}",
                      o.account_name, o.account_domain, o.country, now)  # fmt: skip
        columns = (
            "id, kind, record_id, partner_id, label, name_raw, name_norm, name_key, domain, "
            "email_domain, country, product_lines, active, active_until, since, updated_at"
        )
        _copy("conflicts_identityentry", columns, identity_rows)
        _copy("conflicts_candidatekey", "key, entry_id", key_rows)
        _copy("conflicts_keyfrequency", "key, df", df.items())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('conflicts_identityentry', 'id'), %s)",
                [entry_id],
            )
    # VACUUM as well as ANALYZE: after COPY the visibility map is empty, so no index-only scan
    # is possible until autovacuum has visited the tables (within a minute in production).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")

    clients = []
    for user, partner in list(zip(users, partner_rows, strict=True))[:token_users]:
        _, raw = token_create(user=user, name="bench")
        clients.append(
            {"token": raw, "registration_ids": registrations_by_partner[partner.pk][:200]}
        )
    probe_names = [
        {"customer_name": n, "customer_domain": d, "customer_country": c}
        for n, d, c in rng.sample(names, 500)
    ]
    data = {"clients": clients, "probes": probe_names}
    with open(out, "w") as fh:
        json.dump(data, fh)
    return {
        "registrations": DealRegistration.objects.count(),
        "opportunities": DirectOpportunity.objects.count(),
        "index_entries": entry_id,
    }
