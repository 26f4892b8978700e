"""Reports API and pages: roles, tenant isolation (canaries), CSV streaming and
neutralisation, 400s on bad filters, and constant query counts of the dashboard."""

from __future__ import annotations

import csv
import io

from django.db import connection
from django.http import StreamingHttpResponse
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from deals.models import DealRegistration
from tests import factories
from tests.reports.test_figures import ReportDataset

SUMMARY_URL = "/api/v1/reports/summary/"
CSV_URL = "/api/v1/reports/registrations.csv"


def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


class ReportApiTests(ReportDataset):
    def test_anonymous_gets_401(self):
        for url in (SUMMARY_URL, CSV_URL):
            response = self.client.get(url)
            self.assertEqual(response.status_code, 401, url)
            self.assertEqual(response.json()["code"], "not_authenticated")

    def test_staff_without_review_role_gets_403(self):
        user = factories.UserFactory(email="clerk@vendor.example", is_staff=True)
        factories.enrol_totp(user)
        self.client.force_login(user)
        self.assertEqual(self.client.get(SUMMARY_URL).status_code, 403)

    def test_manager_summary_shape_and_values(self):
        self.client.force_login(self.manager)
        response = self.client.get(SUMMARY_URL)
        self.assertEqual(response.status_code, 200)
        data = response.json()
        for key in (
            "registrations",
            "approval_rate",
            "median_hours_to_decision",
            "overdue",
            "conflict_rate",
            "conflicts_by_resolution",
            "pipeline_value",
            "won_value",
            "win_rate",
            "co_sell_won_value",
        ):
            self.assertIn(key, data)
        self.assertEqual(data["registrations"]["total"], 8)
        self.assertEqual(data["pipeline_value"], {"GBP": "80000.00", "USD": "200000.00"})
        self.assertEqual(data["co_sell_won_value"], {"USD": "300000.00"})
        self.assertEqual(data["median_hours_to_decision"], 36.0)
        self.assertNotIn("program_median_hours_to_decision", data)

    def test_manager_filters_apply(self):
        self.client.force_login(self.manager)
        data = self.client.get(
            SUMMARY_URL, {"partner": self.partner_b.pk, "from": "2025-03-01", "to": "2025-03-31"}
        ).json()
        self.assertEqual(data["registrations"]["total"], 2)
        data = self.client.get(SUMMARY_URL, {"product_line": "erp", "tier": "gold"}).json()
        self.assertEqual(data["registrations"]["total"], 2)

    def test_bad_filters_answer_400_with_the_error_shape(self):
        self.client.force_login(self.manager)
        for params in (
            {"from": "03/10/2025"},
            {"partner": "x"},
            {"partner": "999999"},
            {"tier": "diamond"},
            {"product_line": "<script>"},
            {"from": "2025-03-10", "to": "2025-03-01"},
        ):
            for url in (SUMMARY_URL, CSV_URL):
                response = self.client.get(url, params, HTTP_ACCEPT="text/csv")
                self.assertEqual(response.status_code, 400, (url, params))
                body = response.json()
                self.assertEqual(body["code"], "validation_error")
                self.assertTrue(body["fields"])

    def test_partner_summary_is_scoped_and_has_the_program_median(self):
        self.client.force_login(self.alice)
        data = self.client.get(SUMMARY_URL).json()
        self.assertEqual(data["registrations"]["total"], 6)
        self.assertEqual(data["co_sell_won_value"], {})
        self.assertEqual(data["won_value"], {"USD": "100000.00"})
        self.assertEqual(data["program_median_hours_to_decision"], 36.0)
        self.assertNotIn("CANARY", str(data))

    def test_partner_asking_for_another_partner_gets_404(self):
        self.client.force_login(self.alice)
        for url in (SUMMARY_URL, CSV_URL):
            response = self.client.get(url, {"partner": self.partner_b.pk})
            self.assertEqual(response.status_code, 404, url)
            self.assertEqual(response.json()["code"], "not_found")

    def test_partner_tier_filter_cannot_widen_scope(self):
        self.client.force_login(self.alice)
        data = self.client.get(SUMMARY_URL, {"tier": "silver"}).json()
        self.assertEqual(data["registrations"]["total"], 0)

    def test_manager_csv_streams_every_row_with_neutralised_cells(self):
        self.client.force_login(self.manager)
        response = self.client.get(CSV_URL)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/csv"))
        self.assertIn("attachment;", response["Content-Disposition"])
        rows = read_csv(response)
        self.assertEqual(len(rows), 8)
        by_name = {r["customer_name"]: r for r in rows}
        self.assertEqual(by_name["Quokka Foods"]["contact_name"], "'=cmd|' /C calc'!A0")
        self.assertEqual(by_name["Velvet Robotics"]["products"].split(), ["crm-pro", "erp-core"])
        self.assertEqual(by_name["Velvet Robotics"]["estimated_value"], "200000.00")
        self.assertEqual(by_name["Velvet Robotics"]["extensions_used"], "1")
        self.assertNotIn("Draft Only Ltd", by_name)
        self.assertNotIn("INTERNAL-CANARY", str(rows))  # the export never carries comments
        self.assertIn("Bravo CANARY-B Solutions", {r["partner"] for r in rows})
        # The owner column names the partner-side owner (the submitter unless reassigned).
        velvet = DealRegistration.objects.get(customer_name="Velvet Robotics")
        self.assertEqual(by_name["Velvet Robotics"]["owner_email"], velvet.owner.email)

    def test_partner_csv_contains_only_their_rows(self):
        self.client.force_login(self.alice)
        response = self.client.get(CSV_URL)
        body = b"".join(response.streaming_content).decode()
        self.assertNotIn("CANARY", body)  # neither partner B's data nor the internal note
        rows = list(csv.DictReader(io.StringIO(body)))
        self.assertEqual(len(rows), 6)
        self.assertEqual({r["partner"] for r in rows}, {"Acme Resellers"})
        # A1 and B1 name the same customer: only A1's row is Alice's.
        self.assertEqual([r["customer_name"] for r in rows].count("Umbra Logistics"), 1)
        self.assertNotIn("description", rows[0])

    def test_csv_filters_apply(self):
        self.client.force_login(self.manager)
        rows = read_csv(self.client.get(CSV_URL, {"product_line": "erp"}))
        self.assertEqual(
            sorted(r["customer_name"] for r in rows), ["Tundra Mining", "Velvet Robotics"]
        )


class ReportPageTests(ReportDataset):
    def test_dashboard_renders_kpis_charts_and_tables(self):
        self.client.force_login(self.manager)
        response = self.client.get("/manage/reports/", {"from": "", "to": ""})  # all time
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        for text in (
            "Approval rate",
            "66.7%",
            "36.0 h",
            "Pipeline by partner (USD)",
            "Pipeline by product line (USD)",
            "Win rate by tier",
            "Conflicts by resolution",
            "<svg",
            "<details>",
            "<table",
            "reports.css",
            "registrations.csv",
        ):
            self.assertIn(text, html)
        content = html.split("<main", 1)[1].split("</main>", 1)[0]
        self.assertNotIn("style=", content)  # CSP: no inline styles
        self.assertNotIn("<script", content)  # no JS needed
        self.assertEqual(content.count("<details>"), content.count('<svg class="chart"'))

    def test_dashboard_filters_and_bad_values(self):
        self.client.force_login(self.manager)
        response = self.client.get("/manage/reports/", {"partner": self.partner_b.pk})
        self.assertContains(response, "Bravo CANARY-B Solutions")
        response = self.client.get("/manage/reports/", {"from": "nonsense"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Use a date in the form YYYY-MM-DD.", status_code=400)

    def test_pages_default_to_the_last_13_weeks(self):
        self.client.force_login(self.manager)
        response = self.client.get("/manage/reports/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["summary"]["registrations"]["total"], 0)  # all in 2025
        self.assertContains(response, 'name="from" value="')
        self.assertContains(response, "All time")
        response = self.client.get("/manage/reports/", {"from": "", "to": ""})
        self.assertEqual(response.context["summary"]["registrations"]["total"], 8)

    def test_partner_is_sent_to_the_scorecard(self):
        self.client.force_login(self.alice)
        response = self.client.get("/manage/reports/")
        self.assertRedirects(response, "/scorecard/", fetch_redirect_response=False)

    def test_anonymous_must_sign_in(self):
        response = self.client.get("/scorecard/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("login", response["Location"])

    def test_scorecard_shows_own_figures_and_program_median_only(self):
        self.client.force_login(self.alice)
        response = self.client.get("/scorecard/", {"from": "2025-03-01", "to": "2025-03-31"})
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn("Scorecard: Acme Resellers", html)
        self.assertIn("Program median time to decision", html)
        self.assertIn("Not qualified", html)
        self.assertIn("75.0%", html)  # own approval rate
        self.assertNotIn("CANARY", html)
        self.assertNotIn("Bravo", html)
        self.assertNotIn("Direct wins", html.split("Why registrations")[1])

    def test_scorecard_refuses_another_partner(self):
        self.client.force_login(self.alice)
        response = self.client.get("/scorecard/", {"partner": self.partner_b.pk})
        self.assertEqual(response.status_code, 404)

    def test_manager_on_scorecard_goes_to_dashboard(self):
        self.client.force_login(self.manager)
        response = self.client.get("/scorecard/")
        self.assertRedirects(response, "/manage/reports/", fetch_redirect_response=False)


class DashboardQueryCountTests(TestCase):
    """The dashboard's queries do not grow with the number of registrations."""

    def count_queries(self, client, url) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_same_query_count_for_5_and_50_registrations(self):
        factories.ProductFactory(code="erp-core", product_line__code="erp")
        partner = factories.PartnerFactory(name="Counting Partners")
        user = factories.partner_user(partner)
        manager = factories.manager_user()
        self.client.force_login(manager)

        def add(n, start):
            for i in range(start, start + n):
                registration = factories.make_registration(
                    user,
                    status="submitted",
                    customer_name=f"Zq{i}x Vendorless",
                    customer_domain=f"zq{i}x-count.com",
                    products=["crm-pro", "erp-core"] if i % 2 else ["crm-pro"],
                )
                if i % 3 == 0:
                    from deals.registrations import services

                    services.registration_approve(registration=registration, actor=manager)

        add(5, 0)
        small = self.count_queries(self.client, "/manage/reports/")
        small_scorecard_client = self.client_class()
        small_scorecard_client.force_login(user)
        small_card = self.count_queries(small_scorecard_client, "/scorecard/")
        add(45, 5)
        large = self.count_queries(self.client, "/manage/reports/")
        large_card = self.count_queries(small_scorecard_client, "/scorecard/")
        self.assertEqual(small, large)
        self.assertEqual(small_card, large_card)
        # 25 + the co-sell per rep table (one query) + the reporting currency in force (one).
        self.assertLessEqual(large, 27)
