"""Co-sell agreements (issue 14; API.md v1.1 "Conflicts that bind"): the terms on a co_sell
resolution (defaults 100/100), the conflict representation's `co_sell` with its
confirmations, the event chain, and the reports per rep and per partner."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conflicts.models import Conflict
from deals.models import RegistrationEvent
from deals.registrations import services
from tests import factories
from tests.api.conftest import client_for


@pytest.fixture
def direct(bob, manager, product):
    factories.make_opportunity(
        account_name="Contoso Ltd", account_domain="contoso.com", owner_email="Rep@Vendor.example"
    )
    registration = factories.make_registration(
        bob, customer_name="Contoso", customer_domain="contoso.com"
    )
    return registration, Conflict.objects.get(registration_id=registration.pk)


def resolve(client, conflict, **body):
    return client.post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/",
        {"resolution": "co_sell", **body},
        format="json",
    )


def test_co_sell_terms_and_confirmations(direct, manager):
    registration, conflict = direct
    response = resolve(
        client_for(manager),
        conflict,
        co_sell={"lead": "direct", "partner_credit_percent": 50, "rep_credit_percent": 100},
    )
    assert response.status_code == 200, response.json()
    co_sell = response.json()["co_sell"]
    assert (co_sell["lead"], co_sell["partner_credit_percent"], co_sell["rep_credit_percent"]) == (
        "direct",
        50,
        100,
    )
    [confirmation] = co_sell["confirmations"]
    assert (confirmation["by"], confirmation["role"]) == (manager.email, "manager")
    assert confirmation["at"]
    listed = client_for(manager).get("/api/v1/conflicts/", {"registration": registration.pk}).json()
    assert listed[0]["co_sell"] == co_sell
    event = RegistrationEvent.objects.get(registration=registration, action="conflict_resolved")
    assert event.details["co_sell"]["confirmations"] == co_sell["confirmations"]


def test_co_sell_defaults_are_comp_neutral(direct, manager):
    _, conflict = direct
    co_sell = resolve(client_for(manager), conflict).json()["co_sell"]
    assert (co_sell["lead"], co_sell["partner_credit_percent"], co_sell["rep_credit_percent"]) == (
        "partner",
        100,
        100,
    )


@pytest.mark.parametrize(
    "terms",
    [
        {"partner_credit_percent": 101},
        {"rep_credit_percent": -1},
        {"lead": "nobody"},
        {"lead": "partner", "extra": 1},
        {"partner_credit_percent": "fifty"},
    ],
)
def test_bad_co_sell_terms_answer_400(direct, manager, terms):
    _, conflict = direct
    response = resolve(client_for(manager), conflict, co_sell=terms)
    assert response.status_code == 400, response.json()
    conflict.refresh_from_db()
    assert conflict.status == "open"


def test_terms_only_with_co_sell(direct, manager):
    _, conflict = direct
    response = client_for(manager).post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/",
        {"resolution": "not_a_conflict", "co_sell": {"lead": "partner"}},
        format="json",
    )
    assert response.status_code == 400
    other = Conflict.objects.get(pk=conflict.pk)
    assert (
        other.status == "open"
        and client_for(manager)
        .get("/api/v1/conflicts/", {"registration": other.registration_id})
        .json()[0]["co_sell"]
        is None
    )


def test_reports_count_co_sell_per_rep_and_partner(direct, bob, manager):
    registration, conflict = direct
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    services.registration_approve(registration=registration, actor=manager)
    services.registration_close(
        registration=registration,
        actor=bob,
        outcome="won",
        close_date=timezone.now().date().isoformat(),
        actual_value="90000.00",
    )
    summary = client_for(manager).get("/api/v1/reports/summary/").json()
    assert summary["co_sell_by_rep"] == {
        "rep@vendor.example": {"count": 1, "won_value": {"USD": "90000.00"}}
    }
    assert summary["co_sell_by_partner"] == [
        {
            "partner": {"id": registration.partner_id, "name": registration.partner.name},
            "count": 1,
            "won_value": {"USD": "90000.00"},
        }
    ]
    partner = client_for(bob).get("/api/v1/reports/summary/").json()
    assert "co_sell_by_rep" not in partner  # never the rep's e-mail to a partner
    assert partner["co_sell_by_partner"][0]["count"] == 1
