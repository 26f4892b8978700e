"""Locust scenarios for bench.api_load (no Django import here: locust monkey-patches first).

BENCH_DATA: the JSON written by the seed (tokens + own registration ids + probe names).
BENCH_SCENARIO: one of ping, detail, list_page, conflict_check, submit (one endpoint per run, so
each gets its own throughput figure).

BENCH_CLIENT: "fast" (default) for FastHttpUser (geventhttpclient), "requests" for HttpUser (the
client of the figures before issue #4). Locust shares the 2 cores with gunicorn and PostgreSQL,
and the requests-based client costs several times more CPU per call; that cost is added to
every endpoint alike, so it lowers absolute throughput and *raises* every fraction of the
ceiling (the lighter the client, the more the ceiling shows the server's own per-request cost).
The submit scenario registers a new customer each time: an unseen name and its own registrable
domain (the old "lt-<tag>.example.com" domains all reduce to example.com, so every submission
was the same customer: one first-come-first-served lock for all, a 409 or a conflict with every
earlier one, and more Conflict rows per call as the run went on).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import uuid

from locust import HttpUser, constant, task
from locust.contrib.fasthttp import FastHttpUser

DATA = json.load(open(os.environ["BENCH_DATA"]))  # noqa: SIM115
SCENARIO = os.environ.get("BENCH_SCENARIO", "ping")
_counter = itertools.count()
# New customers' names: pronounceable made-up words (unlike the seeded Faker names, so a
# submission is a new customer, as most are) with a legal-form suffix.
SYLLABLES = (
    "ka lo ve tri mon zar qui bel dor fen gar hal jin lux nor pex rav sol tam vor wyn xen".split()
)
SUFFIXES = ["Inc", "GmbH", "Ltd", "LLC", "SA", "AG"]


def _word() -> str:
    return "".join(random.choice(SYLLABLES) for _ in range(3))  # noqa: S311


# --servers N: the gunicorn processes' base URLs; each user alternates between them request by
# request (starting at a different one per user), as a round-robin proxy would.
HOSTS = [h for h in os.environ.get("BENCH_HOSTS", "").split(",") if h]

BaseUser = HttpUser if os.environ.get("BENCH_CLIENT") == "requests" else FastHttpUser


class ApiUser(BaseUser):
    wait_time = constant(0)  # closed loop

    def on_start(self):
        index = next(_counter)
        hosts = HOSTS or [""]
        self.hosts = itertools.cycle(hosts[index % len(hosts) :] + hosts[: index % len(hosts)])
        client = DATA["clients"][index % len(DATA["clients"])]
        self.headers = {"Authorization": f"Token {client['token']}"}
        self.registration_ids = client["registration_ids"]

    def url(self, path: str) -> str:
        return f"{next(self.hosts)}{path}"

    @task
    def scenario(self):
        getattr(self, SCENARIO)()

    def ping(self):
        self.client.get(self.url("/bench/ping/"), name="ping (ceiling)")

    def detail(self):
        pk = random.choice(self.registration_ids)  # noqa: S311
        self.client.get(
            self.url(f"/api/v1/registrations/{pk}/"), headers=self.headers, name="GET registration"
        )

    def list_page(self):
        self.client.get(
            self.url("/api/v1/registrations/?page_size=25"),
            headers=self.headers,
            name="GET registrations",
        )

    def conflict_check(self):
        probe = random.choice(DATA["probes"])  # noqa: S311
        self.client.post(
            self.url("/api/v1/conflict-check/"),
            json={**probe, "products": ["crm-pro"]},
            headers=self.headers,
            name="POST conflict-check",
        )

    def submit(self):
        close = (dt.date.today() + dt.timedelta(days=60)).isoformat()
        first, second = _word(), _word()
        domain = f"{first}{second}-{uuid.uuid4().hex[:6]}.com"
        body = {
            "customer_name": f"{first.title()} {second.title()} {random.choice(SUFFIXES)}",  # noqa: S311
            "customer_domain": domain,
            "customer_country": "US",
            "contact_name": "Pat Buyer",
            "contact_email": f"pat@{domain}",
            "products": ["crm-pro"],
            "estimated_value": "25000.00",
            "currency": "USD",
            "expected_close_date": close,
        }
        with self.client.post(
            self.url("/api/v1/registrations/"),
            json=body,
            headers=self.headers,
            name="POST registration (submit)",
            catch_response=True,
        ) as response:
            if response.status_code in (201, 409):  # a duplicate is an expected answer
                response.success()
