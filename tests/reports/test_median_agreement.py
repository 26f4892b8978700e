"""One median time to decision (issue 13 §3): the same data and the same period give the same
median, in business hours, on the manager dashboard (rollup cells and live), the partner
scorecard, the summary API, the partner's home page and the manager's partner page; and every
one of those pages says which period its figures cover.

Timeline (UTC). Today is Fri 2025-06-20, so the default period (13 weeks) starts 2025-03-22.
Partner A, in the period:
  Fri 05-30 12:00 -> approved Mon 06-02 12:00   24 business hours (72 on the clock)
  Tue 06-03 10:00 -> approved Tue 06-03 16:00    6
  Thu 06-05 10:00 -> rejected Mon 06-09 10:00   48 business hours (96 on the clock)
Partner A before the period: 1 h and 0.5 h decisions; partner B before it: 48 h.
Median in the period: 24.0 business hours (72 on the clock; 6.0 for all of A's decisions)."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.test import TestCase
from django.urls import reverse

from deals.registrations import services
from deals.reports.filters import ReportFilters, registrations_for_report
from deals.reports.summary import format_hours, median_hours_to_decision
from tests import factories

UTC = dt.UTC
TODAY = dt.datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
PERIOD_START = "2025-03-22"
MEDIAN = 24.0
FIGURE = re.compile(r'data-figure="(?P<name>[-a-z]+)"[^>]*>(?P<value>[^<]*)<')


def figures(response) -> dict[str, str]:
    return {m["name"]: m["value"] for m in FIGURE.finditer(response.content.decode())}


NAMES = ("Zephyr", "Obsidian", "Marigold", "Tundra", "Quasar", "Lantern")


class MedianAgreementTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.partner_a = factories.PartnerFactory(name="Median A")
        cls.partner_b = factories.PartnerFactory(name="Median B")
        cls.alice = factories.partner_user(cls.partner_a)
        cls.bob = factories.partner_user(cls.partner_b)
        cls.manager = factories.manager_user()
        decisions = [
            (cls.alice, dt.datetime(2025, 5, 30, 12), dt.datetime(2025, 6, 2, 12), "approve"),
            (cls.alice, dt.datetime(2025, 6, 3, 10), dt.datetime(2025, 6, 3, 16), "approve"),
            (cls.alice, dt.datetime(2025, 6, 5, 10), dt.datetime(2025, 6, 9, 10), "reject"),
            (cls.alice, dt.datetime(2025, 1, 6, 10), dt.datetime(2025, 1, 6, 11), "approve"),
            (cls.alice, dt.datetime(2025, 1, 13, 10), dt.datetime(2025, 1, 13, 10, 30), "approve"),
            (cls.bob, dt.datetime(2025, 2, 3, 10), dt.datetime(2025, 2, 5, 10), "approve"),
        ]
        for i, (actor, submitted, decided, decision) in enumerate(decisions):
            with time_machine.travel(submitted.replace(tzinfo=UTC), tick=False):
                registration = services.registration_create(
                    actor=actor,
                    data=factories.registration_data(
                        # Names far apart: an open (potential) conflict against an approved
                        # registration would block the approval (issue 14).
                        customer_name=f"{NAMES[i]} Quarry",
                        customer_domain=f"zq{i}-median.com",
                    ),
                    submit=True,
                )
            with time_machine.travel(decided.replace(tzinfo=UTC), tick=False):
                if decision == "approve":
                    services.registration_approve(registration=registration, actor=cls.manager)
                else:
                    services.registration_reject(
                        registration=registration, actor=cls.manager, reason="not_qualified"
                    )

    def setUp(self):
        traveller = time_machine.travel(TODAY, tick=False)
        traveller.start()
        self.addCleanup(traveller.stop)

    def get(self, user, url, params=None):
        self.client.force_login(user)
        response = self.client.get(url, params or {})
        self.assertEqual(response.status_code, 200, url)
        return response

    def test_every_page_shows_the_same_median_for_the_same_period(self):
        shown = format_hours(MEDIAN)  # "24.0 h"
        period = f"first submitted since {PERIOD_START} (UTC)"
        summary = "/api/v1/reports/summary/"

        # The summary API, for the manager (rollup cells) and for the partner (live rows).
        data = self.get(self.manager, summary, {"from": PERIOD_START}).json()
        self.assertEqual(data["median_hours_to_decision"], MEDIAN)
        data = self.get(self.alice, summary, {"from": PERIOD_START}).json()
        self.assertEqual(data["median_hours_to_decision"], MEDIAN)
        self.assertEqual(data["program_median_hours_to_decision"], MEDIAN)

        # The manager dashboard, default period: program-wide (cells) and for partner A (live).
        for params in ({}, {"partner": self.partner_a.pk}):
            response = self.get(self.manager, "/manage/reports/", params)
            self.assertEqual(response.context["summary"]["median_hours_to_decision"], MEDIAN)
            self.assertEqual(figures(response)["median-hours-to-decision"], shown)
            self.assertContains(response, period)

        # The partner's scorecard, default period: own median and the program median.
        response = self.get(self.alice, "/scorecard/")
        self.assertEqual(figures(response)["median-hours-to-decision"], shown)
        self.assertEqual(figures(response)["program-median-hours-to-decision"], shown)
        self.assertContains(response, period)

        # The partner's home page and the manager's partner page.
        response = self.get(self.alice, reverse("home"))
        self.assertEqual(response.context["dashboard"].scorecard.median_hours_to_decision, MEDIAN)
        self.assertEqual(figures(response)["median-hours-to-decision"], shown)
        self.assertContains(response, period)
        response = self.get(
            self.manager, reverse("manage_partner_detail", args=[self.partner_a.pk])
        )
        self.assertEqual(response.context["scorecard"].median_hours_to_decision, MEDIAN)
        self.assertEqual(figures(response)["median-hours-to-decision"], shown)
        self.assertContains(response, period)

    def test_the_period_decides_which_decisions_count(self):
        # All time, partner A: 0.5, 1, 6, 24, 48 business hours -> 6.0 everywhere.
        data = self.get(self.alice, "/api/v1/reports/summary/").json()
        self.assertEqual(data["median_hours_to_decision"], 6.0)
        response = self.get(self.alice, "/scorecard/", {"from": "", "to": ""})
        self.assertEqual(figures(response)["median-hours-to-decision"], "6.0 h")
        self.assertContains(response, "first submitted at any time")

    def test_the_one_median_function_is_in_business_hours(self):
        from deals.models import DealRegistration

        registrations = DealRegistration.objects.filter(partner=self.partner_a)
        filters = ReportFilters(date_from=dt.date.fromisoformat(PERIOD_START))
        self.assertEqual(
            median_hours_to_decision(registrations_for_report(self.alice, filters)),
            MEDIAN,
        )
        self.assertEqual(median_hours_to_decision(registrations), 6.0)
