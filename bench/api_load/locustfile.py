"""Locust scenarios for bench.api_load (no Django import here: locust monkey-patches first).

BENCH_DATA: the JSON written by the seed (tokens + own registration ids + probe names).
BENCH_SCENARIO: one of ping, detail, list_page, conflict_check, submit (one endpoint per run, so
each gets its own throughput figure).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import uuid

from locust import HttpUser, constant, task

DATA = json.load(open(os.environ["BENCH_DATA"]))  # noqa: SIM115
SCENARIO = os.environ.get("BENCH_SCENARIO", "ping")
_counter = itertools.count()


class ApiUser(HttpUser):
    wait_time = constant(0)  # closed loop

    def on_start(self):
        client = DATA["clients"][next(_counter) % len(DATA["clients"])]
        self.headers = {"Authorization": f"Token {client['token']}"}
        self.registration_ids = client["registration_ids"]

    @task
    def scenario(self):
        getattr(self, SCENARIO)()

    def ping(self):
        self.client.get("/bench/ping/", name="ping (ceiling)")

    def detail(self):
        pk = random.choice(self.registration_ids)  # noqa: S311
        self.client.get(
            f"/api/v1/registrations/{pk}/", headers=self.headers, name="GET registration"
        )

    def list_page(self):
        self.client.get(
            "/api/v1/registrations/?page_size=25", headers=self.headers, name="GET registrations"
        )

    def conflict_check(self):
        probe = random.choice(DATA["probes"])  # noqa: S311
        self.client.post(
            "/api/v1/conflict-check/",
            json={**probe, "products": ["crm-pro"]},
            headers=self.headers,
            name="POST conflict-check",
        )

    def submit(self):
        close = (dt.date.today() + dt.timedelta(days=60)).isoformat()
        tag = uuid.uuid4().hex[:12]
        body = {
            "customer_name": f"Loadtest {tag} Holdings",
            "customer_domain": f"lt-{tag}.example.com",
            "customer_country": "US",
            "contact_name": "Pat Buyer",
            "contact_email": f"pat@lt-{tag}.example.com",
            "products": ["crm-pro"],
            "estimated_value": "25000.00",
            "currency": "USD",
            "expected_close_date": close,
        }
        with self.client.post(
            "/api/v1/registrations/",
            json=body,
            headers=self.headers,
            name="POST registration (submit)",
            catch_response=True,
        ) as response:
            if response.status_code in (201, 409):  # a duplicate is an expected answer
                response.success()
