"""Reports (issue 19, item 4): partner-sourced revenue, incentive cost and the cost's share of
the revenue, per tier and period."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from deals.registrations import services
from partners.models import Tier
from rewards.selectors import incentive_report
from rewards.services import win_verify
from tests import factories
from tests.rewards.conftest import logged_in


def _won(actor, manager, value, currency="USD"):
    registration = factories.make_registration(
        actor, status="approved", manager=manager, currency=currency
    )
    return services.registration_close(
        registration=registration,
        actor=actor,
        outcome="won",
        actual_value=value,
        close_date=timezone.now().date().isoformat(),
    )


def test_incentive_cost_share_per_tier_and_period(alice, bob, manager, product, gold_discount):
    silver, _ = Tier.objects.get_or_create(code="silver", defaults={"name": "Silver", "rank": 1})
    silver.discount_percent = Decimal("5.00")
    silver.save()
    bob.membership.partner.tier = silver
    bob.membership.partner.save()
    win_verify(registration=_won(alice, manager, "10000.00"), actor=manager)
    win_verify(registration=_won(alice, manager, "30000.00"), actor=manager)
    win_verify(registration=_won(bob, manager, "20000.00"), actor=manager)
    period = timezone.now().date().strftime("%Y-%m")
    rows = {row["tier"]: row for row in incentive_report(manager)}
    assert rows["gold"]["period"] == period
    assert rows["gold"]["wins"] == 2
    assert rows["gold"]["revenue"] == {"USD": Decimal("40000.00")}
    assert rows["gold"]["cost"] == {"USD": Decimal("4800.00")}
    assert rows["gold"]["share"] == {"USD": Decimal("0.12")}
    assert rows["silver"]["cost"] == {"USD": Decimal("1000.00")}
    # A partner's report holds only their own company.
    assert [row["tier"] for row in incentive_report(alice)] == ["gold"]
    page = logged_in(manager).get("/manage/rewards/").content.decode()
    assert 'data-testid="incentive-report"' in page and "12 %" in page


def test_the_incentive_report_api(alice, manager, product, gold_discount):
    from tests.api.conftest import client_for

    win_verify(registration=_won(alice, manager, "10000.00"), actor=manager)
    period = timezone.now().date().strftime("%Y-%m")
    body = client_for(manager).get("/api/v1/reports/incentives/").json()
    assert body == [
        {
            "tier": "gold",
            "period": period,
            "wins": 1,
            "revenue": {"USD": "10000.00"},
            "incentive_cost": {"USD": "1200.00"},
            "cost_share": {"USD": 0.12},
        }
    ]
    assert client_for(manager).get("/api/v1/reports/incentives/?from=2999-01-01").json() == []
    bad = client_for(manager).get("/api/v1/reports/incentives/?to=never")
    assert bad.status_code == 400
