"""Issue 18 §5: one reporting currency — totals converted at the rate of each deal's month,
the rates used shown, a missing rate shown as missing (never as zero), rates kept in the admin
and imported from CSV all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from deals.models import DealRegistration, ExchangeRate, ReportingCurrency
from deals.registrations import services
from deals.reports.currency import converted_totals, exchange_rates_import
from deals.reports.filters import ReportFilters
from prm.exceptions import ValidationFailed
from tests import factories

pytestmark = pytest.mark.django_db
ALL_TIME = ReportFilters(None, None, None, "", "")


def _submitted(actor, currency, value, month: dt.date):
    registration = factories.make_registration(
        actor, currency=currency, estimated_value=value, customer_domain=""
    )
    DealRegistration.objects.filter(pk=registration.pk).update(
        first_submitted_at=dt.datetime.combine(month, dt.time(12), tzinfo=dt.UTC)
    )
    return registration


def _won(actor, manager, currency, value, close: dt.date):
    registration = factories.make_registration(
        actor, status="approved", manager=manager, currency=currency, customer_domain=""
    )
    services.registration_close(
        registration=registration, actor=actor, outcome="won", actual_value=value,
        close_date=close.isoformat(),
    )  # fmt: skip
    return registration


def test_totals_convert_at_each_months_rate_and_missing_rates_stay_missing(alice, manager, product):
    ReportingCurrency.objects.create(code="USD")
    oct1, nov1 = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    ExchangeRate.objects.create(reporting_currency="USD", currency="EUR", month=oct1, rate="1.10")
    ExchangeRate.objects.create(reporting_currency="USD", currency="EUR", month=nov1, rate="1.20")
    _submitted(alice, "USD", "10000.00", oct1)
    _submitted(alice, "EUR", "10000.00", oct1)
    _submitted(alice, "EUR", "10000.00", nov1)
    _submitted(alice, "GBP", "5000.00", nov1)  # no GBP rate: missing, not zero
    result = converted_totals(manager, ALL_TIME)
    pipeline = {f["key"]: f for f in result["figures"]}["pipeline"]
    assert result["currency"] == "USD"
    assert pipeline["total"] == Decimal("33000.00")  # 10000 + 11000 + 12000
    assert pipeline["complete"] is False
    assert pipeline["missing"] == [{"currency": "GBP", "month": nov1, "amount": Decimal("5000.00")}]
    assert pipeline["by_currency"] == {
        "EUR": Decimal("20000.00"),
        "GBP": Decimal("5000.00"),
        "USD": Decimal("10000.00"),
    }
    assert [(r["currency"], r["month"]) for r in result["rates"]] == [
        ("EUR", oct1),
        ("EUR", nov1),
    ]


def test_won_value_converts_at_the_close_months_rate(alice, manager, product):
    ReportingCurrency.objects.create(code="EUR")
    ExchangeRate.objects.create(
        reporting_currency="EUR", currency="USD", month=dt.date(2026, 9, 1), rate="0.5"
    )
    _won(alice, manager, "USD", "4000.00", dt.date(2026, 9, 15))
    figures = {f["key"]: f for f in converted_totals(manager, ALL_TIME)["figures"]}
    assert figures["won"]["total"] == Decimal("2000.00") and figures["won"]["complete"]


def test_without_a_reporting_currency_there_is_no_conversion(manager):
    assert converted_totals(manager, ALL_TIME) is None


def test_a_partner_converts_only_its_own_registrations(alice, bob, manager, product):
    ReportingCurrency.objects.create(code="USD")
    _submitted(alice, "USD", "10000.00", dt.date(2026, 10, 1))
    _submitted(bob, "USD", "70000.00", dt.date(2026, 10, 1))
    pipeline = converted_totals(alice, ALL_TIME)["figures"][0]
    assert pipeline["total"] == Decimal("10000.00")


def test_the_dashboard_shows_converted_totals_and_missing_rates(alice, manager, product):
    ReportingCurrency.objects.create(code="USD")
    _submitted(alice, "EUR", "10000.00", dt.date(2026, 10, 1))
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("reports-dashboard"), {"from": "", "to": ""}).content.decode()
    assert 'data-testid="converted-totals"' in page
    assert "incomplete: rates missing" in page
    assert "10,000.00 EUR (Oct 2026) — missing" in page


def test_rates_csv_import_is_all_or_nothing():
    ok = exchange_rates_import(text="currency,month,rate\nEUR,2026-10,1.1\nGBP,2026-10,1.3\n",
                               reporting="USD")  # fmt: skip
    assert ok == 2 and ExchangeRate.objects.count() == 2
    with pytest.raises(ValidationFailed) as caught:
        exchange_rates_import(text="EUR,2026-11,1.2\nZZZ,2026-11,1\nEUR,11/2026,1\n",
                              reporting="USD")  # fmt: skip
    assert caught.value.fields["file"][0].startswith("Line 2:")
    assert caught.value.fields["file"][1].startswith("Line 3:")
    assert ExchangeRate.objects.count() == 2  # nothing of the bad file was stored
    # A rate again for the same month replaces it.
    exchange_rates_import(text="EUR,2026-10,1.15\n", reporting="USD")
    assert ExchangeRate.objects.get(currency="EUR").rate == Decimal("1.15")


@pytest.mark.parametrize("rate", ["0", "-1", "abc", "NaN", "1e12"])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValidationFailed):
        exchange_rates_import(text=f"EUR,2026-10,{rate}\n", reporting="USD")
    assert not ExchangeRate.objects.exists()


def test_the_admin_imports_a_csv_of_rates(client):
    admin_client = client
    admin_client.force_login(factories.manager_user(email="root@vendor.example", superuser=True))
    admin_client.post(reverse("admin:deals_reportingcurrency_add"), {"code": "usd"})
    assert ReportingCurrency.objects.get().code == "USD"
    url = reverse("admin:deals_exchangerate_import")
    upload = SimpleUploadedFile("rates.csv", b"EUR,2026-10,1.0843\n", content_type="text/csv")
    response = admin_client.post(url, {"file": upload})
    assert response.status_code == 302
    assert ExchangeRate.objects.get().rate == Decimal("1.0843")
    bad = SimpleUploadedFile("rates.csv", b"EUR,october,1\n", content_type="text/csv")
    page = admin_client.post(url, {"file": bad})
    assert page.status_code == 200 and "Line 1: the month is YYYY-MM." in page.content.decode()
    assert ExchangeRate.objects.count() == 1


def test_the_converted_totals_run_a_constant_number_of_queries(alice, manager, product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ReportingCurrency.objects.create(code="USD")
    ExchangeRate.objects.create(
        reporting_currency="USD", currency="EUR", month=dt.date(2026, 10, 1), rate="1.1"
    )
    _submitted(alice, "EUR", "10000.00", dt.date(2026, 10, 1))
    converted_totals(manager, ALL_TIME)  # warm the shared cache (the manager's role)
    with CaptureQueriesContext(connection) as few:
        converted_totals(manager, ALL_TIME)
    for month in (dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 9, 1)):
        for _ in range(3):
            _submitted(alice, "EUR", "10000.00", month)
    with CaptureQueriesContext(connection) as many:
        converted_totals(manager, ALL_TIME)
    assert len(few) == len(many) <= 4
