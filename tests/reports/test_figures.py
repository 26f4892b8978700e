"""Every report figure on a hand-built data set, against numbers worked out by hand here.

Timeline (UTC; 2025-03-03 is a Monday). Business hours count Mon–Fri, 24 h a day. SLA is the
default 2 business days from (last) submission.

Partner A (gold):
  A1 crm USD 125000  submitted Mon 03-03 09:00, approved Tue 03-04 09:00 (24 h), won 100000
  A2 crm USD 60000   submitted Fri 03-07 12:00, rejected not_qualified Wed 03-12 06:00
                     (12 + 24 + 24 + 6 = 66 h; SLA due Tue 03-11 12:00 -> decided late)
  A3 erp EUR 50000   submitted Mon 03-10 10:00, approved Mon 03-10 14:00 (4 h), lost
  A4 crm GBP 80000   submitted Tue 03-11 10:00, still submitted -> overdue now; conflicts with
                     direct opportunity D2 (left open)
  A5 crm+erp USD 200000 negotiation  submitted Wed 03-12 10:00, approved Fri 03-14 10:00 (48 h,
                     exactly at the SLA: not late), one extension approved, still approved
  A6 draft (never counted)
  A7 crm USD 30000   submitted Thu 03-13 10:00, withdrawn
Partner B (silver):
  B1 crm USD 150000  submitted Mon 03-03 10:00, same customer as A1 -> conflict, resolved
                     co_sell; approved Thu 03-06 10:00 (72 h; SLA due Wed 03-05 10:00 -> late),
                     won 300000 -> co-sell won value
  B2 crm USD 90000   submitted Tue 03-04 10:00, conflict with direct opportunity D1, resolved
                     direct_wins Wed 03-05 10:00 -> rejected direct_opportunity (24 h)
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import TestCase

from conflicts.models import Conflict
from deals.models import DealRegistration, ExtensionRequest, ProductLine
from deals.policy import policy_publish
from deals.registrations import services
from deals.registrations.collaboration import comment_create
from deals.registrations.extensions import extension_request_create, extension_request_decide
from deals.reports.breakdowns import report_breakdowns
from deals.reports.filters import report_filters_parse
from deals.reports.percentiles import (
    _percentiles_window,
    business_hours_expression,
    percentiles_by_rank,
)
from deals.reports.series import report_weekly
from deals.reports.summary import program_median_hours_to_decision, report_summary
from prm.exceptions import NotFound, ValidationFailed
from prm.lib.time import business_hours_between
from tests import factories

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=UTC)


class ReportDataset(TestCase):
    """The data set above, built once through the services."""

    @classmethod
    def setUpTestData(cls):
        cls.crm = factories.ProductFactory(code="crm-pro", product_line__code="crm")
        cls.erp = factories.ProductFactory(code="erp-core", product_line__code="erp")
        cls.partner_a = factories.PartnerFactory(
            name="Acme Resellers", tier=factories.default_tier("gold")
        )
        cls.partner_b = factories.PartnerFactory(
            name="Bravo CANARY-B Solutions", tier=factories.default_tier("silver")
        )
        cls.alice = factories.partner_user(cls.partner_a, email="alice@acme.example")
        cls.bob = factories.partner_user(cls.partner_b, email="bob@bravo.example")
        cls.manager = factories.manager_user(email="carol@vendor.example")
        m = cls.manager

        def create(actor, when, **data):
            with time_machine.travel(when, tick=False):
                return services.registration_create(
                    actor=actor, data=factories.registration_data(**data), submit=True
                )

        def step(when, fn, **kwargs):
            with time_machine.travel(when, tick=False):
                return fn(**kwargs)

        with time_machine.travel(at(1, 8), tick=False):
            d1 = factories.make_opportunity(
                account_name="Direct Wins Industries", account_domain="directwins-d1.com"
            )
            d2 = factories.make_opportunity(
                account_name="Open Conflict Systems", account_domain="openconflict-d2.com"
            )

        a1 = create(
            cls.alice,
            at(3, 9),
            customer_name="Umbra Logistics",
            customer_domain="umbra-logistics.com",
            products=["crm-pro"],
        )
        b1 = create(
            cls.bob,
            at(3, 10),
            customer_name="Umbra Logistics",
            customer_domain="umbra-logistics.com",
            products=["crm-pro"],
            estimated_value="150000.00",
            description='CANARY-B-DESCRIPTION =HYPERLINK("http://evil")',
        )
        step(at(4, 9), services.registration_approve, registration=a1, actor=m)
        b2 = create(
            cls.bob,
            at(4, 10),
            customer_name="Direct Wins Industries",
            customer_domain="directwins-d1.com",
            products=["crm-pro"],
            estimated_value="90000.00",
        )
        b1_conflict = Conflict.objects.get(registration_id=b1.pk)
        step(
            at(5, 9), services.conflict_resolve, conflict=b1_conflict, actor=m, resolution="co_sell"
        )
        b2_conflict = Conflict.objects.get(registration_id=b2.pk)
        step(
            at(5, 10),
            services.conflict_resolve,
            conflict=b2_conflict,
            actor=m,
            resolution="direct_wins",
        )
        step(at(6, 10), services.registration_approve, registration=b1, actor=m)
        step(
            at(7, 9),
            services.registration_close,
            registration=a1,
            actor=cls.alice,
            outcome="won",
            close_date="2025-03-07",
            actual_value="100000.00",
        )
        step(
            at(7, 10),
            services.registration_close,
            registration=b1,
            actor=cls.bob,
            outcome="won",
            close_date="2025-03-07",
            actual_value="300000.00",
        )

        a2 = create(
            cls.alice,
            at(7, 12),
            customer_name="Quokka Foods",
            customer_domain="quokka-foods.com",
            estimated_value="60000.00",
            contact_name="=cmd|' /C calc'!A0",
        )
        a3 = create(
            cls.alice,
            at(10, 10),
            customer_name="Tundra Mining",
            customer_domain="tundra-mining.com",
            products=["erp-core"],
            estimated_value="50000.00",
            currency="EUR",
        )
        step(at(10, 14), services.registration_approve, registration=a3, actor=m)
        create(
            cls.alice,
            at(11, 10),
            customer_name="Open Conflict Systems",
            customer_domain="openconflict-d2.com",
            estimated_value="80000.00",
            currency="GBP",
        )
        step(
            at(12, 6),
            services.registration_reject,
            registration=a2,
            actor=m,
            reason="not_qualified",
        )
        a5 = create(
            cls.alice,
            at(12, 10),
            customer_name="Velvet Robotics",
            customer_domain="velvet-robotics.com",
            products=["crm-pro", "erp-core"],
            estimated_value="200000.00",
            stage="negotiation",
        )
        a7 = create(
            cls.alice,
            at(13, 10),
            customer_name="Walrus Dental",
            customer_domain="walrus-dental.com",
            estimated_value="30000.00",
        )
        step(at(13, 11), services.registration_withdraw, registration=a7, actor=cls.alice)
        step(at(14, 10), services.registration_approve, registration=a5, actor=m)
        step(
            at(14, 12),
            services.registration_close,
            registration=a3,
            actor=cls.alice,
            outcome="lost",
            close_date="2025-03-14",
            lost_reason="Budget",
        )
        request = step(
            at(17, 9),
            extension_request_create,
            registration=a5,
            actor=cls.alice,
            reason="Procurement is slow",
        )
        step(at(17, 10), extension_request_decide, request=request, actor=m, approve=True)
        with time_machine.travel(at(18, 9), tick=False):
            services.registration_create(
                actor=cls.alice,
                data=factories.registration_data(
                    customer_name="Draft Only Ltd", customer_domain="draft-only.com"
                ),
                submit=False,
            )
        with time_machine.travel(at(18, 10), tick=False):
            comment_create(
                registration=a1, actor=m, body="INTERNAL-CANARY manager only", internal=True
            )
        cls.ids = {"a1": a1.pk, "b1": b1.pk, "b2": b2.pk, "a5": a5.pk, "d1": d1.pk, "d2": d2.pk}

    def manager_filters(self, **params):
        return report_filters_parse(params, user=self.manager)


class DatasetSanityTests(ReportDataset):
    def test_the_data_set_is_what_the_docstring_says(self):
        statuses = dict(DealRegistration.objects.values_list("customer_name", "status"))
        self.assertEqual(statuses["Umbra Logistics"], "won")
        self.assertEqual(DealRegistration.objects.filter(status="draft").count(), 1)
        self.assertEqual(Conflict.objects.count(), 3)
        b2 = DealRegistration.objects.get(pk=self.ids["b2"])
        self.assertEqual((b2.status, b2.rejection_reason), ("rejected", "direct_opportunity"))
        self.assertIs(DealRegistration.objects.get(pk=self.ids["b1"]).co_sell, True)
        self.assertEqual(ExtensionRequest.objects.filter(status="approved").count(), 1)


class ManagerSummaryTests(ReportDataset):
    def test_every_figure_matches_the_hand_computed_value(self):
        s = report_summary(self.manager, self.manager_filters())
        self.assertEqual(s["registrations"]["total"], 8)
        self.assertEqual(
            s["registrations"]["by_status"],
            {
                "submitted": 1,
                "info_requested": 0,
                "approved": 1,
                "rejected": 2,
                "withdrawn": 1,
                "won": 2,
                "lost": 1,
                "expired": 0,
                "revoked": 0,  # status added by issue 14
            },
        )
        # approved at some point: A1 A3 A5 B1; decided: those + A2 B2
        self.assertEqual((s["approved"], s["decided"]), (4, 6))
        self.assertAlmostEqual(s["approval_rate"], round(4 / 6, 4))
        # hours 4, 24, 24, 48, 66, 72 -> median (24+48)/2; p90 at rank 4.5 -> 66 + 0.5*6
        self.assertAlmostEqual(s["median_hours_to_decision"], 36.0, places=2)
        self.assertAlmostEqual(s["p90_hours_to_decision"], 69.0, places=2)
        self.assertEqual((s["overdue"], s["decided_late"], s["sla_breaches"]), (1, 2, 3))
        self.assertEqual(s["conflicted"], 3)
        self.assertAlmostEqual(s["conflict_rate"], 3 / 8)
        self.assertEqual(
            s["conflicts_by_resolution"],
            {
                "first_registration_wins": 0,
                "partner_wins": 0,
                "direct_wins": 1,
                "co_sell": 1,
                "not_a_conflict": 0,
                "duplicate": 0,
                "open": 1,
                "closed": 0,  # moot conflicts, added by issue 14
            },
        )
        self.assertEqual(s["pipeline_value"], {"GBP": "80000.00", "USD": "200000.00"})
        self.assertEqual(s["won_value"], {"USD": "400000.00"})
        self.assertEqual((s["won"], s["lost"]), (2, 1))
        self.assertAlmostEqual(s["win_rate"], round(2 / 3, 4))
        self.assertEqual(s["co_sell_won_value"], {"USD": "300000.00"})
        self.assertAlmostEqual(s["extension_rate"], 0.25)
        self.assertEqual(
            [(r["reason"], r["count"]) for r in s["top_rejection_reasons"]],
            [("direct_opportunity", 1), ("not_qualified", 1)],
        )

    def test_hours_agree_with_business_hours_between(self):
        decided = DealRegistration.objects.filter(decided_at__isnull=False)
        expected = sorted(
            business_hours_between(r.first_submitted_at, r.decided_at) for r in decided
        )
        self.assertEqual(expected, [4, 24, 24, 48, 66, 72])

    def test_filter_by_partner(self):
        s = report_summary(self.manager, self.manager_filters(partner=str(self.partner_b.pk)))
        self.assertEqual(s["registrations"]["total"], 2)
        self.assertEqual(s["won_value"], {"USD": "300000.00"})
        self.assertEqual(s["pipeline_value"], {})
        self.assertAlmostEqual(s["median_hours_to_decision"], 48.0)  # 24, 72

    def test_filter_by_tier(self):
        s = report_summary(self.manager, self.manager_filters(tier="gold"))
        self.assertEqual(s["registrations"]["total"], 6)
        self.assertEqual(s["co_sell_won_value"], {})

    def test_filter_by_product_line_counts_a_two_product_registration_once(self):
        s = report_summary(self.manager, self.manager_filters(product_line="erp"))
        self.assertEqual(s["registrations"]["total"], 2)  # A3 and A5
        self.assertEqual(s["pipeline_value"], {"USD": "200000.00"})
        self.assertEqual(s["registrations"]["by_status"]["lost"], 1)

    def test_filter_by_period_of_first_submission(self):
        s = report_summary(
            self.manager, self.manager_filters(**{"from": "2025-03-10", "to": "2025-03-11"})
        )
        self.assertEqual(s["registrations"]["total"], 2)  # A3 (03-10) and A4 (03-11)
        self.assertEqual(s["overdue"], 1)
        s = report_summary(self.manager, self.manager_filters(**{"to": "2025-03-02"}))
        self.assertEqual(s["registrations"]["total"], 0)
        self.assertIsNone(s["approval_rate"])
        self.assertIsNone(s["median_hours_to_decision"])
        self.assertIsNone(s["win_rate"])
        self.assertIsNone(s["conflict_rate"])
        self.assertEqual(s["pipeline_value"], {})

    def test_weekly_series(self):
        weekly = report_weekly(self.manager, self.manager_filters())
        self.assertEqual(
            [(w["week"], w["by_status"]) for w in weekly["registrations"]],
            [
                (dt.date(2025, 3, 3), {"won": 2, "rejected": 2}),
                (dt.date(2025, 3, 10), {"lost": 1, "submitted": 1, "approved": 1, "withdrawn": 1}),
            ],
        )
        # decision weeks: 03-03: A1 24h, B2 24h, B1 72h; 03-10: A3 4h, A2 66h, A5 48h
        self.assertEqual(
            [
                (d["week"], d["decided"], d["approved"], d["median_hours"])
                for d in weekly["decisions"]
            ],
            [(dt.date(2025, 3, 3), 3, 2, 24.0), (dt.date(2025, 3, 10), 3, 2, 48.0)],
        )

    def test_breakdowns(self):
        b = report_breakdowns(self.manager, self.manager_filters())
        self.assertEqual(
            [
                (r["partner__name"], r["currency"], str(r["value"]), r["count"])
                for r in b["pipeline_by_partner"]
            ],
            [("Acme Resellers", "GBP", "80000.00", 1), ("Acme Resellers", "USD", "200000.00", 1)],
        )
        self.assertEqual(
            [
                (r["product_line"], r["currency"], str(r["value"]), r["count"])
                for r in b["pipeline_by_product_line"]
            ],
            [
                ("crm", "GBP", "80000.00", 1),
                ("crm", "USD", "200000.00", 1),
                ("erp", "USD", "200000.00", 1),
            ],
        )
        self.assertEqual(
            [(r["stage"], r["currency"], str(r["value"])) for r in b["pipeline_by_stage"]],
            [("proposal", "GBP", "80000.00"), ("negotiation", "USD", "200000.00")],
        )
        self.assertEqual(
            [(r["partner__tier__code"], r["currency"]) for r in b["pipeline_by_tier"]],
            [("gold", "GBP"), ("gold", "USD")],
        )
        rates = {r["tier"]: (r["won"], r["lost"], r["win_rate"]) for r in b["win_rate_by_tier"]}
        self.assertEqual(rates, {"gold": (1, 1, 0.5), "silver": (1, 0, 1.0)})


class PartnerScopeTests(ReportDataset):
    def test_partner_summary_is_their_own_company_only(self):
        filters = report_filters_parse({}, user=self.alice)
        self.assertEqual(filters.partner_id, self.partner_a.pk)
        s = report_summary(self.alice, filters)
        self.assertEqual(s["registrations"]["total"], 6)
        self.assertEqual((s["approved"], s["decided"]), (3, 4))
        self.assertAlmostEqual(s["approval_rate"], 0.75)
        # hours 4, 24, 48, 66: median 36; p90 at rank 2.7 -> 48 + 0.7*18
        self.assertAlmostEqual(s["median_hours_to_decision"], 36.0)
        self.assertAlmostEqual(s["p90_hours_to_decision"], 60.6)
        self.assertEqual((s["overdue"], s["decided_late"]), (1, 1))
        self.assertAlmostEqual(s["conflict_rate"], round(1 / 6, 4))
        self.assertEqual(s["conflicts_by_resolution"]["open"], 1)
        self.assertEqual(s["conflicts_by_resolution"]["co_sell"], 0)
        self.assertEqual(s["won_value"], {"USD": "100000.00"})
        self.assertEqual(s["co_sell_won_value"], {})
        self.assertAlmostEqual(s["win_rate"], 0.5)
        self.assertAlmostEqual(s["extension_rate"], round(1 / 3, 4))
        self.assertEqual(
            [(r["reason"], r["count"]) for r in s["top_rejection_reasons"]],
            [("not_qualified", 1)],
        )

    def test_program_median_covers_every_partner(self):
        filters = report_filters_parse({}, user=self.alice)
        self.assertAlmostEqual(program_median_hours_to_decision(filters), 36.0)

    def test_another_partners_id_is_not_found(self):
        with pytest.raises(NotFound):
            report_filters_parse({"partner": str(self.partner_b.pk)}, user=self.alice)
        with pytest.raises(NotFound):
            report_filters_parse({"partner": "999999"}, user=self.alice)

    def test_own_partner_id_is_accepted(self):
        filters = report_filters_parse({"partner": str(self.partner_a.pk)}, user=self.alice)
        self.assertEqual(filters.partner_id, self.partner_a.pk)


class FilterValidationTests(ReportDataset):
    def test_bad_values_are_refused_with_fields(self):
        cases = [
            ({"from": "yesterday"}, "from"),
            ({"to": "2025-02-30"}, "to"),
            ({"from": "2025-03-10", "to": "2025-03-01"}, "to"),
            ({"partner": "abc"}, "partner"),
            ({"partner": "-1"}, "partner"),
            ({"partner": "424242"}, "partner"),
            ({"tier": "diamond"}, "tier"),
            ({"product_line": "nope"}, "product_line"),
            ({"product_line": "crm\x00"}, "product_line"),
            ({"tier": "g" * 5000}, "tier"),
            ({"from": "2025-03-01\x00"}, "from"),
        ]
        for params, field in cases:
            with self.subTest(params=params), pytest.raises(ValidationFailed) as info:
                self.manager_filters(**params)
            self.assertIn(field, info.value.fields)


class BusinessHoursExpressionTests(TestCase):
    """The SQL business-hours expression equals prm.lib.time.business_hours_between."""

    def test_matches_python_on_many_pairs_with_holidays(self):
        from django.db.models import DateTimeField, Value

        ProductLine.objects.create(code="probe", name="Probe")
        holidays = [dt.date(2025, 3, 5), dt.date(2025, 3, 8)]  # a Wednesday and a Saturday
        pairs = [
            (at(3, 9), at(4, 9)),
            (at(7, 12), at(12, 6)),
            (at(8, 10), at(9, 22)),  # weekend only
            (at(4, 23, 30), at(6, 0, 15)),  # across the holiday
            (at(1, 0), at(31, 23, 59)),
            (at(10, 14), at(10, 10)),  # end before start
            (dt.datetime(2024, 12, 27, 17, 45, 30, tzinfo=UTC), at(3, 8)),
        ]
        weekday_holidays = [d for d in holidays if d.weekday() < 5]
        for start, end in pairs:
            expression = business_hours_expression(
                Value(start, output_field=DateTimeField()),
                Value(end, output_field=DateTimeField()),
                weekday_holidays,
            )
            value = ProductLine.objects.annotate(h=expression).values_list("h", flat=True).get()
            with self.subTest(start=start, end=end):
                self.assertAlmostEqual(
                    value, business_hours_between(start, end, holidays), places=3
                )

    def test_window_percentiles_match_the_interpolation_definition(self):
        # Works on every backend (PostgreSQL uses percentile_cont in report_summary).
        from django.db.models import FloatField
        from django.db.models.functions import Cast

        for n, code in enumerate(["a", "b", "c", "d", "e"]):
            ProductLine.objects.create(code=f"pl-{code}", name=f"{n * n}")
        queryset = ProductLine.objects.filter(code__startswith="pl-")
        values = _percentiles_window(queryset, Cast("name", FloatField()), (0.5, 0.9))[None]
        # names 0, 1, 4, 9, 16: median 4; p90 at rank 3.6 -> 9 + 0.6*7
        self.assertAlmostEqual(values[0.5], 4.0)
        self.assertAlmostEqual(values[0.9], 13.2)

    def test_rank_percentiles_match_the_interpolation_definition(self):
        # percentiles_by_rank reads the values around each rank in order (from the top for
        # upper fractions); with ties and an even count.
        from django.db.models import FloatField
        from django.db.models.functions import Cast

        names = [7, 1, 4, 4, 9, 16, 0, 4, 25, 2]
        for i, value in enumerate(names):
            ProductLine.objects.create(code=f"rk-{i}", name=str(value))
        queryset = ProductLine.objects.filter(code__startswith="rk-").annotate(
            v=Cast("name", FloatField())
        )
        ordered = sorted(names)

        def expected(fraction):
            position = fraction * (len(ordered) - 1)
            low = int(position)
            high = min(low + 1, len(ordered) - 1)
            return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

        fractions = (0.0, 0.1, 0.5, 0.75, 0.9, 1.0)
        values = percentiles_by_rank(queryset, "v", len(names), fractions)
        for fraction in fractions:
            with self.subTest(fraction=fraction):
                self.assertAlmostEqual(values[fraction], expected(fraction))
        self.assertEqual(percentiles_by_rank(queryset.none(), "v", 0, (0.5,)), {})


class DecisionHoursTests(TestCase):
    """Time to decision is stored at the decision, under the policy's holidays then."""

    def test_stored_hours_use_the_holidays_of_the_policy_at_the_decision(self):
        partner = factories.PartnerFactory()
        alice = factories.partner_user(partner)
        manager = factories.manager_user()
        policy_publish(actor=manager, change_note="Holiday", holidays=["2025-03-05"])
        with time_machine.travel(at(3, 9), tick=False):
            first = services.registration_create(actor=alice, data=factories.registration_data())
            second = services.registration_create(actor=alice, data=factories.registration_data())
        self.assertIsNone(first.decision_hours)
        with time_machine.travel(at(6, 9), tick=False):
            services.registration_approve(registration=first, actor=manager)
            services.registration_reject(registration=second, actor=manager, reason="not_qualified")
        holidays = [dt.date(2025, 3, 5)]
        expected = business_hours_between(at(3, 9), at(6, 9), holidays)
        self.assertEqual(expected, 48.0)  # 72 h minus the Wednesday
        for registration in (first, second):
            registration.refresh_from_db()
            self.assertAlmostEqual(registration.decision_hours, expected)
        # A later policy change does not rewrite history.
        policy_publish(actor=manager, change_note="No holidays", holidays=[])
        first.refresh_from_db()
        self.assertAlmostEqual(first.decision_hours, 48.0)
        s = report_summary(manager, report_filters_parse({}, user=manager))
        self.assertAlmostEqual(s["median_hours_to_decision"], 48.0)

    def test_database_refuses_a_decision_without_hours(self):
        from django.db import IntegrityError, transaction

        registration = factories.make_registration(
            factories.partner_user(factories.PartnerFactory()), status="approved"
        )
        self.assertIsNotNone(registration.decision_hours)
        with self.assertRaises(IntegrityError), transaction.atomic():
            DealRegistration.objects.filter(pk=registration.pk).update(decision_hours=None)
