"""The report rollup (deals.reports.rollup): the cells the triggers keep must always add up to what the
registrations say, through every kind of write, and the summary must not depend on which of
the two sources it was computed from."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal
from unittest import mock

import time_machine
from django.db.models import Sum
from django.test import TestCase

from deals.models import DealRegistration, ReportCell, ReportHoursCell
from deals.registrations import services
from deals.registrations.extensions import extension_request_create, extension_request_decide
from deals.reports import breakdowns as breakdowns_module
from deals.reports import rollup
from deals.reports import series as series_module
from deals.reports import summary as summary_module
from deals.reports.breakdowns import report_breakdowns
from deals.reports.filters import registrations_for_report, report_filters_parse
from deals.reports.percentiles import percentiles_by_rank, percentiles_from_histogram
from deals.reports.series import report_weekly
from deals.reports.summary import _decided, _groups_from_cells, _groups_live, report_summary
from tests import factories

UTC = dt.UTC
START = dt.datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # a Monday


def _normalise(groups: list[dict]) -> dict:
    """Group rows keyed by (currency, status, reason); money as 2-place decimals."""

    def money(value):
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))

    fields = ("n", "decided", "approved", "decided_late", "extended")
    result = {}
    for g in groups:
        result[(g["currency"], g["status"], g["rejection_reason"])] = (
            *(g[f] for f in fields),
            money(g["estimated"]),
            money(g["actual"]),
            money(g["actual_co_sell"]),
        )
    return result


class RollupScenario(TestCase):
    """Two partners, thirty registrations moved through every transition that changes a
    report key, with a seeded random choice of paths (deterministic)."""

    @classmethod
    def setUpTestData(cls):
        cls.gold = factories.default_tier("gold")
        cls.silver = factories.default_tier("silver")
        cls.partner_a = factories.PartnerFactory(name="Rollup A", tier=cls.gold)
        cls.partner_b = factories.PartnerFactory(name="Rollup B", tier=cls.silver)
        cls.alice = factories.partner_user(cls.partner_a)
        cls.bob = factories.partner_user(cls.partner_b)
        cls.manager = factories.manager_user()
        rng = random.Random(20261127)
        currencies = ["USD", "USD", "EUR", "GBP"]
        for i in range(30):
            actor = cls.alice if i % 3 else cls.bob
            when = START + dt.timedelta(days=i // 2, hours=i % 5)
            with time_machine.travel(when, tick=False):
                registration = services.registration_create(
                    actor=actor,
                    data=factories.registration_data(
                        estimated_value=f"{rng.randint(1, 900) * 1000}.{rng.randint(0, 99):02d}",
                        currency=rng.choice(currencies),
                    ),
                    submit=i % 10 != 0,  # a few drafts, never counted
                )
            if registration.status == "draft":
                continue
            path = rng.choice(["stay", "approve", "reject", "withdraw", "info", "won", "lost"])
            later = when + dt.timedelta(hours=rng.choice([2, 30, 80]))
            with time_machine.travel(later, tick=False):
                if path == "reject":
                    services.registration_reject(
                        registration=registration, actor=cls.manager, reason="not_qualified"
                    )
                elif path == "withdraw":
                    services.registration_withdraw(registration=registration, actor=actor)
                elif path == "info":
                    services.registration_request_info(
                        registration=registration, actor=cls.manager, message="Which team?"
                    )
                elif path in {"approve", "won", "lost"}:
                    services.registration_approve(registration=registration, actor=cls.manager)
                    if path == "approve" and rng.random() < 0.5:
                        request = extension_request_create(
                            registration=registration, actor=actor, reason="Slow procurement"
                        )
                        extension_request_decide(request=request, actor=cls.manager, approve=True)
                    if path in {"won", "lost"}:
                        services.registration_close(
                            registration=registration,
                            actor=actor,
                            outcome=path,
                            close_date=later.date().isoformat(),
                            **({"actual_value": "12345.67"} if path == "won" else {}),
                        )

    def summaries(self, **params):
        filters = report_filters_parse(params, user=self.manager)
        now = START + dt.timedelta(days=40)
        from_cells = report_summary(self.manager, filters, now=now)
        with mock.patch.object(summary_module, "uses_report_cells", return_value=False):
            live = report_summary(self.manager, filters, now=now)
        return from_cells, live


class RollupAgreesWithRegistrationsTests(RollupScenario):
    def test_cells_hold_exactly_what_the_registrations_say(self):
        self.assertTrue(
            rollup.report_cells_expected(), "the scenario produced submitted registrations"
        )
        self.assertEqual(rollup.report_cells_stored(), rollup.report_cells_expected())
        self.assertEqual(rollup.report_cells_differences(), [])

    def test_check_command_reports_a_difference(self):
        from django.core.management import CommandError, call_command

        call_command("report_cells", "--check", stdout=io.StringIO())
        ReportCell.objects.filter(pk=ReportCell.objects.order_by("pk").first().pk).update(n=99)
        with self.assertRaises(CommandError):
            call_command("report_cells", "--check", stdout=io.StringIO())
        call_command("report_cells", "--rebuild", stdout=io.StringIO())
        call_command("report_cells", "--check", stdout=io.StringIO())

    def test_summary_is_the_same_from_cells_and_from_registrations(self):
        for params in ({}, {"from": "2025-06-05", "to": "2025-06-11"}, {"tier": "gold"}):
            with self.subTest(params=params):
                from_cells, live = self.summaries(**params)
                self.assertEqual(from_cells, live)

    def test_group_rows_agree(self):
        filters = report_filters_parse({}, user=self.manager)
        registrations = registrations_for_report(self.manager, filters)
        self.assertEqual(
            _normalise(_groups_from_cells(filters)),
            _normalise(_groups_live(registrations)),
        )

    def test_weekly_series_is_the_same_from_cells(self):
        filters = report_filters_parse({}, user=self.manager)
        from_cells = report_weekly(self.manager, filters)
        with mock.patch.object(series_module, "uses_report_cells", return_value=False):
            live = report_weekly(self.manager, filters)
        self.assertEqual(from_cells["registrations"], live["registrations"])
        self.assertTrue(from_cells["registrations"])

    def test_tier_breakdowns_are_the_same_from_cells(self):
        for params in ({}, {"from": "2025-06-05"}, {"tier": "silver"}):
            with self.subTest(params=params):
                filters = report_filters_parse(params, user=self.manager)
                from_cells = report_breakdowns(self.manager, filters)
                with mock.patch.object(breakdowns_module, "uses_report_cells", return_value=False):
                    live = report_breakdowns(self.manager, filters)
                self.assertEqual(from_cells, live)
        self.assertTrue(from_cells["win_rate_by_tier"])

    def test_compaction_folds_deltas_without_changing_any_total(self):
        before = rollup.report_cells_stored()
        rows_before = ReportCell.objects.count()
        rows_after = rollup.report_cells_compact()
        self.assertLess(rows_after, rows_before, "deltas of moved registrations were folded")
        cell_keys = [key for key in before if key[0] == rollup.CELLS.table]
        self.assertEqual(rows_after, len(cell_keys), "one row per non-empty key")
        self.assertEqual(
            ReportHoursCell.objects.count(),
            len(before) - len(cell_keys),
            "the hours histogram is folded too",
        )
        self.assertEqual(rollup.report_cells_stored(), before)
        self.assertEqual(rollup.report_cells_compact(), rows_after, "idempotent")

    def test_rebuild_gives_the_compacted_cells(self):
        compacted = (rollup.report_cells_compact(), rollup.report_cells_stored())
        rebuilt = (rollup.report_cells_rebuild(), rollup.report_cells_stored())
        self.assertEqual(rebuilt, compacted)

    def test_a_tier_change_moves_the_partners_registrations(self):
        gold_before = self.summaries(tier="gold")[0]["registrations"]["total"]
        silver_before = self.summaries(tier="silver")[0]["registrations"]["total"]
        moved = DealRegistration.objects.filter(
            partner=self.partner_b, first_submitted_at__isnull=False
        ).count()
        self.assertGreater(moved, 0)
        self.partner_b.tier = self.gold
        self.partner_b.save(update_fields=["tier"])
        self.assertEqual(
            self.summaries(tier="gold")[0]["registrations"]["total"], gold_before + moved
        )
        self.assertEqual(
            self.summaries(tier="silver")[0]["registrations"]["total"], silver_before - moved
        )
        self.assertEqual(rollup.report_cells_stored(), rollup.report_cells_expected())
        for params in ({"tier": "gold"}, {"tier": "silver"}):
            from_cells, live = self.summaries(**params)
            self.assertEqual(from_cells, live)

    def test_writes_outside_the_services_are_counted_too(self):
        # The admin, a data fix or a bulk job: the triggers are the one way in.
        DealRegistration.objects.filter(status="submitted").update(
            estimated_value=Decimal("1.00"), currency="CHF"
        )
        DealRegistration.objects.filter(status="approved").update(
            status="expired", first_submitted_at=START - dt.timedelta(days=3)
        )
        self.assertEqual(rollup.report_cells_stored(), rollup.report_cells_expected())
        from_cells, live = self.summaries()
        self.assertEqual(from_cells, live)

    def test_a_change_reports_ignore_writes_no_delta(self):
        rows = ReportCell.objects.count()
        DealRegistration.objects.filter(status="approved").update(
            description="Updated notes", conflict_message=""
        )
        self.assertEqual(ReportCell.objects.count(), rows)

    def test_histogram_percentiles_equal_rank_percentiles(self):
        filters = report_filters_parse({}, user=self.manager)
        decided = _decided(registrations_for_report(self.manager, filters))
        histogram = list(
            ReportHoursCell.objects.values("bucket")
            .annotate(count=Sum("n"))
            .values_list("bucket", "count")
        )
        self.assertGreater(len([c for _, c in histogram if c]), 1, "several buckets in play")
        fractions = (0.0, 0.1, 0.25, 0.5, 0.9, 1.0)
        by_rank = percentiles_by_rank(decided, "decision_hours", decided.count(), fractions)
        from_histogram = percentiles_from_histogram(
            decided, "decision_hours", histogram, rollup.HOURS_BUCKET, fractions
        )
        self.assertEqual(set(by_rank), set(fractions))
        for fraction in fractions:
            self.assertAlmostEqual(from_histogram[fraction], by_rank[fraction], places=6)

    def test_drafts_are_never_counted(self):
        drafts = DealRegistration.objects.filter(status="draft")
        self.assertTrue(drafts.exists())
        total = sum(
            v[0] for k, v in rollup.report_cells_stored().items() if k[0] == rollup.CELLS.table
        )
        self.assertEqual(total, DealRegistration.objects.exclude(status="draft").count())
