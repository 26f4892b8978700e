"""Accruals and payouts (issue 19, item 3): a verified win creates an accrual (basis, rate,
amount, currency, status pending -> approved -> paid with who and when); co-sell agreements
apply their partner credit; amounts are Decimal, rounded per ISO 4217 minor units."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from deals.models import CoSellAgreement, DealRegistration, RegistrationEvent
from rewards.models import Accrual
from rewards.money import format_money, round_money
from rewards.services import accrual_approve, accrual_mark_paid, accruals_approve, win_verify
from tests import factories
from tests.api.conftest import client_for
from tests.rewards.conftest import incentive_rule, logged_in


def _won(actor, manager, *, actual_value, currency="USD", **overrides):
    registration = factories.make_registration(
        actor, status="approved", manager=manager, currency=currency, **overrides
    )
    from django.utils import timezone

    from deals.registrations import services

    return services.registration_close(
        registration=registration,
        actor=actor,
        outcome="won",
        actual_value=actual_value,
        close_date=timezone.now().date().isoformat(),
    )


def _co_sell(registration, percent: int) -> None:
    CoSellAgreement.objects.create(
        conflict_id=900_000 + registration.pk,
        registration=registration,
        partner_credit_percent=percent,
    )


# --- Arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1200.005"), "USD", Decimal("1200.01")),
        (Decimal("15432.5"), "JPY", Decimal("15433")),
        (Decimal("15432.49"), "JPY", Decimal("15432")),
        (Decimal("1.2345"), "BHD", Decimal("1.235")),
        (Decimal("10"), "EUR", Decimal("10.00")),
    ],
)
def test_amounts_round_half_up_to_the_currencys_minor_units(amount, currency, expected):
    rounded = round_money(amount, currency)
    assert rounded == expected
    assert str(rounded) == str(expected)


def test_api_amounts_carry_the_currencys_decimals():
    assert format_money(Decimal("15433"), "JPY") == "15433"
    assert format_money(Decimal("1200.0100"), "USD") == "1200.01"
    assert format_money(Decimal("1.2350"), "BHD") == "1.235"


def test_discount_accrual_is_the_rate_of_the_won_value(alice, manager, product, gold_discount):
    registration = _won(alice, manager, actual_value="10000.05")
    accrual = win_verify(registration=registration, actor=manager)
    assert (accrual.kind, accrual.basis, accrual.rate) == (
        "discount_percent",
        Decimal("10000.05"),
        Decimal("12.00"),
    )
    assert accrual.amount == Decimal("1200.01")  # 1200.006 rounded half-up to cents
    assert accrual.currency == "USD"


def test_co_sell_credit_applies_and_jpy_rounds_to_whole_yen(alice, manager, product, gold_discount):
    incentive_rule(gold_discount, kind="percent_of_won", value="2.50")
    registration = _won(alice, manager, actual_value="1234567", currency="JPY")
    _co_sell(registration, 50)
    accrual = win_verify(registration=registration, actor=manager)
    # 1,234,567 × 2.5 % × 50 % = 15,432.0875 → 15,432 yen
    assert (accrual.rate, accrual.credit_percent, accrual.amount) == (
        Decimal("2.50"),
        50,
        Decimal("15432"),
    )
    row = client_for(alice).get("/api/v1/accruals/").json()["results"][0]
    assert (row["amount"], row["currency"], row["credit_percent"]) == ("15432", "JPY", 50)


def test_fixed_incentive_is_paid_in_its_own_currency_times_the_co_sell_credit(
    alice, manager, product, gold_discount
):
    incentive_rule(gold_discount, kind="fixed", value="999.99", currency="EUR")
    registration = _won(alice, manager, actual_value="50000.00")
    _co_sell(registration, 33)
    accrual = win_verify(registration=registration, actor=manager)
    # 999.99 × 100 % × 33 % = 329.9967 → 330.00 EUR
    assert (accrual.kind, accrual.basis, accrual.rate) == ("fixed", Decimal("999.99"), 100)
    assert (accrual.amount, accrual.currency) == (Decimal("330.00"), "EUR")


def test_a_win_without_benefit_leaves_a_zero_accrual(alice, manager, product):
    registration = _won(alice, manager, actual_value="5000.00")
    accrual = win_verify(registration=registration, actor=manager)
    assert (accrual.kind, accrual.amount) == ("none", Decimal("0.00"))


# --- Transitions ----------------------------------------------------------------------------


@pytest.fixture
def accrual(alice, manager, product, gold_discount):
    return win_verify(registration=_won(alice, manager, actual_value="10000.00"), actor=manager)


def test_approve_then_mark_paid_records_who_and_when(accrual, manager, alice):
    client = client_for(manager)
    approved = client.post(f"/api/v1/accruals/{accrual.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    paid = client.post(
        f"/api/v1/accruals/{accrual.pk}/mark-paid/", {"reference": "PAY-2026-11"}, format="json"
    )
    assert paid.status_code == 200, paid.content
    assert (paid.json()["status"], paid.json()["reference"]) == ("paid", "PAY-2026-11")
    accrual.refresh_from_db()
    assert accrual.approved_by == manager and accrual.approved_at is not None
    assert accrual.paid_by == manager and accrual.paid_at is not None
    actions = list(
        RegistrationEvent.objects.filter(registration_id=accrual.registration_id)
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == ["win_verified", "accrual_approved", "accrual_paid"]
    paid_event = RegistrationEvent.objects.filter(
        registration_id=accrual.registration_id, action="accrual_paid"
    ).get()
    assert paid_event.details["amount"] == "1200.00"
    timeline = logged_in(alice).get(f"/registrations/{accrual.registration_id}/").content.decode()
    assert "Incentive of 1200.00 USD paid (reference PAY-2026-11)." in timeline
    assert "Verified by a channel manager." in timeline


def test_illegal_accrual_moves_are_409(accrual, manager):
    client = client_for(manager)
    early = client.post(
        f"/api/v1/accruals/{accrual.pk}/mark-paid/", {"reference": "PAY-1"}, format="json"
    )
    assert early.status_code == 409
    assert early.json()["code"] == "invalid_transition"
    assert (
        client.post(f"/api/v1/accruals/{accrual.pk}/approve/", {}, format="json").status_code == 200
    )
    again = client.post(f"/api/v1/accruals/{accrual.pk}/approve/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


@pytest.mark.parametrize(
    "body", [{}, {"reference": ""}, {"reference": "x" * 101}, {"reference": ["PAY"]}]
)
def test_mark_paid_needs_a_reference(accrual, manager, body):
    accrual_approve(accrual=accrual, actor=manager)
    response = client_for(manager).post(
        f"/api/v1/accruals/{accrual.pk}/mark-paid/", body, format="json"
    )
    assert response.status_code == 400
    assert "reference" in response.json()["fields"]
    accrual.refresh_from_db()
    assert accrual.status == "approved"


def test_partners_cannot_approve_or_pay(accrual, alice, bob):
    assert (
        client_for(alice)
        .post(f"/api/v1/accruals/{accrual.pk}/approve/", {}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(bob)
        .post(f"/api/v1/accruals/{accrual.pk}/approve/", {}, format="json")
        .status_code
        == 404
    )


def test_bulk_approve_skips_what_is_no_longer_pending(alice, manager, product, gold_discount):
    accruals = [
        win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
        for _ in range(3)
    ]
    accrual_approve(accrual=accruals[0], actor=manager)
    assert accruals_approve(accrual_ids=[a.pk for a in accruals], actor=manager) == 2
    assert set(Accrual.objects.values_list("status", flat=True)) == {"approved"}


# --- Lists, filters, query counts -----------------------------------------------------------


def test_partners_list_their_own_accruals_managers_all(alice, bob, manager, product, gold_discount):
    mine = win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
    theirs = win_verify(registration=_won(bob, manager, actual_value="2000.00"), actor=manager)
    assert [r["id"] for r in client_for(alice).get("/api/v1/accruals/").json()["results"]] == [
        mine.pk
    ]
    all_ids = {r["id"] for r in client_for(manager).get("/api/v1/accruals/").json()["results"]}
    assert all_ids == {mine.pk, theirs.pk}
    only_b = client_for(manager).get(f"/api/v1/accruals/?partner={theirs.partner_id}").json()
    assert [r["id"] for r in only_b["results"]] == [theirs.pk]
    # A partner asking for another partner's accruals gets nothing of theirs.
    probe = client_for(alice).get(f"/api/v1/accruals/?partner={theirs.partner_id}").json()
    assert probe["results"] == []


def test_the_accrual_representation(accrual, alice):
    row = client_for(alice).get("/api/v1/accruals/").json()["results"][0]
    assert {
        "id",
        "registration_id",
        "partner",
        "basis",
        "rate",
        "amount",
        "currency",
        "status",
        "reference",
    } <= set(row)
    assert row["registration_id"] == accrual.registration_id
    assert (row["basis"], row["rate"], row["amount"], row["status"], row["reference"]) == (
        "10000.00",
        "12.00",
        "1200.00",
        "pending",
        None,
    )


@pytest.mark.parametrize(
    "query",
    [
        "status=unknown",
        "from=2026-13-01",
        "to=yesterday",
        "partner=abc",
        "from=2027-01-02&to=2027-01-01",
        "currency=€€€",
    ],
)
def test_bad_filters_are_400(accrual, manager, query):
    response = client_for(manager).get(f"/api/v1/accruals/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_filters_by_status_and_period(accrual, manager):
    client = client_for(manager)
    day = accrual.created_at.date().isoformat()
    assert client.get(f"/api/v1/accruals/?status=pending&from={day}&to={day}").json()["count"] == 1
    assert client.get("/api/v1/accruals/?status=paid").json()["count"] == 0
    assert client.get("/api/v1/accruals/?to=2000-01-01").json()["count"] == 0


def test_the_accrual_list_runs_a_constant_number_of_queries(
    alice, manager, product, gold_discount, django_assert_max_num_queries
):
    client = client_for(manager)
    client.get("/api/v1/me/")

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/accruals/?page_size=50").status_code == 200
        return len(ctx.captured_queries)

    win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
    win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
    small = count()
    for _ in range(8):
        win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
    assert count() == small
    assert small <= 6


# --- Payouts CSV, earnings ------------------------------------------------------------------


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_payouts_csv_per_period_and_currency(alice, bob, manager, product, gold_discount):
    usd = win_verify(registration=_won(alice, manager, actual_value="10000.00"), actor=manager)
    jpy = win_verify(
        registration=_won(bob, manager, actual_value="2000000", currency="JPY"), actor=manager
    )
    pending = win_verify(registration=_won(alice, manager, actual_value="500.00"), actor=manager)
    for a in (usd, jpy):
        accrual_approve(accrual=a, actor=manager)
    accrual_mark_paid(accrual=usd, actor=manager, reference="=HYPERLINK(evil)")
    client = client_for(manager)
    day = usd.created_at.date().isoformat()
    response = client.get(f"/api/v1/reports/payouts.csv?from={day}&to={day}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert {r["accrual_id"] for r in rows} == {str(usd.pk), str(jpy.pk)}  # not the pending one
    assert str(pending.pk) not in {r["accrual_id"] for r in rows}
    by_id = {r["accrual_id"]: r for r in rows}
    assert (by_id[str(jpy.pk)]["amount"], by_id[str(jpy.pk)]["currency"]) == ("240000", "JPY")
    assert by_id[str(usd.pk)]["reference"] == "'=HYPERLINK(evil)"  # formula-safe
    only_jpy = _csv(client.get("/api/v1/reports/payouts.csv?currency=JPY"))
    assert [r["accrual_id"] for r in only_jpy] == [str(jpy.pk)]
    # Partners export their own payouts only.
    mine = _csv(client_for(alice).get("/api/v1/reports/payouts.csv"))
    assert [r["accrual_id"] for r in mine] == [str(usd.pk)]


def test_partners_see_earned_pending_and_paid_on_earnings_and_scorecard(
    alice, bob, manager, product, gold_discount
):
    a1 = win_verify(registration=_won(alice, manager, actual_value="10000.00"), actor=manager)
    win_verify(registration=_won(alice, manager, actual_value="5000.00"), actor=manager)
    win_verify(registration=_won(bob, manager, actual_value="7777.00"), actor=manager)
    accrual_approve(accrual=a1, actor=manager)
    accrual_mark_paid(accrual=a1, actor=manager, reference="PAY-7")
    client = logged_in(alice)
    page = client.get("/earnings/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "1,800.00" in text  # earned: 1,200 + 600
    assert "600.00" in text and "1,200.00" in text and "PAY-7" in text
    assert "933.24" not in text  # bob's 12 % of 7,777
    scorecard = client.get("/scorecard/")
    assert scorecard.status_code == 200
    assert 'data-testid="earnings-summary"' in scorecard.content.decode()


def test_managers_cannot_open_the_partner_earnings_page_and_partners_not_the_manager_one(
    alice, manager
):
    assert logged_in(manager).get("/earnings/").status_code == 403
    assert logged_in(alice).get("/manage/rewards/").status_code == 403


def test_manager_rewards_page_bulk_approves_and_marks_paid(alice, manager, product, gold_discount):
    accruals = [
        win_verify(registration=_won(alice, manager, actual_value="1000.00"), actor=manager)
        for _ in range(2)
    ]
    client = logged_in(manager)
    page = client.get("/manage/rewards/")
    assert page.status_code == 200
    response = client.post("/manage/rewards/approve/", {"accrual": [str(a.pk) for a in accruals]})
    assert response.status_code == 302
    assert set(Accrual.objects.values_list("status", flat=True)) == {"approved"}
    client.post(f"/manage/rewards/accruals/{accruals[0].pk}/mark-paid/", {"reference": "PAY-9"})
    accruals[0].refresh_from_db()
    assert (accruals[0].status, accruals[0].reference) == ("paid", "PAY-9")


def test_registration_model_is_untouched_by_accrual_moves(accrual, manager):
    before = DealRegistration.objects.get(pk=accrual.registration_id).status
    accrual_approve(accrual=accrual, actor=manager)
    assert DealRegistration.objects.get(pk=accrual.registration_id).status == before == "won"
