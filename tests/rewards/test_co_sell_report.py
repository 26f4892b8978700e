"""Reports (issue 19, item 4): co-sell revenue with credits by partner and by rep — the won
value of registrations closed won under a co-sell agreement, and each side's credit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from conflicts.models import Conflict
from deals.registrations import services
from deals.registrations.services import conflict_resolve
from rewards.selectors import co_sell_report
from tests import factories
from tests.api.conftest import client_for
from tests.rewards.conftest import logged_in


def _co_sold_win(actor, manager, *, name, domain, rep, value, partner_pct, rep_pct, currency="USD"):
    factories.make_opportunity(
        account_name=name, account_domain=domain, owner_email=rep.email, amount="40000.00"
    )
    registration = factories.make_registration(
        actor, customer_name=name, customer_domain=domain, currency=currency
    )
    conflict = Conflict.objects.get(registration_id=registration.pk)
    conflict_resolve(
        conflict=conflict,
        actor=manager,
        resolution="co_sell",
        co_sell={
            "lead": "partner",
            "partner_credit_percent": partner_pct,
            "rep_credit_percent": rep_pct,
        },
    )
    services.registration_approve(registration=registration, actor=manager)
    registration.refresh_from_db()
    return services.registration_close(
        registration=registration,
        actor=actor,
        outcome="won",
        actual_value=value,
        close_date=timezone.now().date().isoformat(),
    )


@pytest.fixture
def rep():
    return factories.sales_rep_user(email="dana.rep@vendor.example", name="Dana Rep")


def test_co_sell_revenue_with_credits_by_partner_and_by_rep(alice, bob, manager, product, rep):
    _co_sold_win(
        alice, manager, name="Initech", domain="initech.com", rep=rep,
        value="10000.00", partner_pct=50, rep_pct=100,
    )  # fmt: skip
    _co_sold_win(
        alice, manager, name="Globex", domain="globex.com", rep=rep,
        value="333.33", partner_pct=33, rep_pct=70,
    )  # fmt: skip
    _co_sold_win(
        bob, manager, name="Hooli", domain="hooli.com", rep=rep,
        value="2000.00", partner_pct=100, rep_pct=100,
    )  # fmt: skip
    # A co-sold registration that is still open is not revenue.
    factories.make_opportunity(
        account_name="Umbrella", account_domain="umbrella.com", owner_email=rep.email
    )
    open_one = factories.make_registration(
        alice, customer_name="Umbrella", customer_domain="umbrella.com"
    )
    conflict_resolve(
        conflict=Conflict.objects.get(registration_id=open_one.pk),
        actor=manager,
        resolution="co_sell",
    )
    period = timezone.now().date().strftime("%Y-%m")
    report = co_sell_report(manager)
    by_partner = {row["partner"]: row for row in report["by_partner"]}
    alice_partner = alice.membership.partner.name
    assert by_partner[alice_partner]["period"] == period
    assert by_partner[alice_partner]["deals"] == 2
    assert by_partner[alice_partner]["revenue"] == Decimal("10333.33")
    # 5000.00 + round(333.33 × 33 %) = 5000.00 + 110.00 (109.9989 rounds once per deal)
    assert by_partner[alice_partner]["credit"] == Decimal("5110.00")
    assert by_partner[bob.membership.partner.name]["credit"] == Decimal("2000.00")
    [rep_row] = report["by_rep"]
    assert rep_row["rep"] == "Dana Rep" and rep_row["rep_email"] == rep.email
    assert rep_row["deals"] == 3
    assert rep_row["revenue"] == Decimal("12333.33")
    assert rep_row["credit"] == Decimal("10000.00") + Decimal("233.33") + Decimal("2000.00")


def test_a_partner_sees_only_its_own_co_sell_rows_and_never_the_rep(
    alice, bob, manager, product, rep
):
    _co_sold_win(
        alice, manager, name="Initech", domain="initech.com", rep=rep,
        value="10000.00", partner_pct=50, rep_pct=100,
    )  # fmt: skip
    _co_sold_win(
        bob, manager, name="Hooli", domain="hooli.com", rep=rep,
        value="2000.00", partner_pct=100, rep_pct=100,
    )  # fmt: skip
    body = client_for(alice).get("/api/v1/reports/co-sell/").json()
    assert [row["partner"] for row in body["by_partner"]] == [alice.membership.partner.name]
    assert body["by_partner"][0]["partner_credit"] == "5000.00"
    assert body["by_rep"] == []
    assert "Dana" not in str(body) and rep.email not in str(body)
    # The rep sees their own credits only, without the partner side.
    rep_body = client_for(rep).get("/api/v1/reports/co-sell/").json()
    assert rep_body["by_partner"] == []
    assert [row["rep_credit"] for row in rep_body["by_rep"]] == ["12000.00"]
    other_rep = factories.sales_rep_user(email="other.rep@vendor.example")
    assert client_for(other_rep).get("/api/v1/reports/co-sell/").json() == {
        "by_partner": [],
        "by_rep": [],
    }


def test_the_co_sell_report_api_filters_and_page(alice, manager, product, rep):
    _co_sold_win(
        alice, manager, name="Initech", domain="initech.com", rep=rep,
        value="1500", partner_pct=50, rep_pct=100, currency="JPY",
    )  # fmt: skip
    body = client_for(manager).get("/api/v1/reports/co-sell/").json()
    assert body["by_partner"][0]["revenue"] == "1500"
    assert body["by_partner"][0]["partner_credit"] == "750"
    assert body["by_rep"][0]["rep_credit"] == "1500"
    empty = client_for(manager).get("/api/v1/reports/co-sell/?from=2999-01-01").json()
    assert empty == {"by_partner": [], "by_rep": []}
    for query in ("to=never", "from=2026-02-01&to=2026-01-01"):
        bad = client_for(manager).get(f"/api/v1/reports/co-sell/?{query}")
        assert bad.status_code == 400, query
    page = logged_in(manager).get("/manage/rewards/").content.decode()
    assert 'data-testid="co-sell-by-partner"' in page and "Dana Rep" in page
    assert "750 JPY" in page
