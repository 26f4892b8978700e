"""The managers' conflicts work list (issue 14): every open conflict, post-approval ones too,
oldest first, with its own SLA; filters by kind, partner (either side), rep and age; linked
from the queue and the dashboard; managers only."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from conflicts.models import Conflict
from deals.registrations import services
from tests import factories

URL = "/manage/conflicts/"


@pytest.fixture
def world(alice, bob, manager, product):
    with time_machine.travel(timezone.now() - dt.timedelta(days=10), tick=False):
        factories.make_registration(
            alice, customer_name="Globex Corporation", customer_domain="globex.com"
        )
        second = factories.make_registration(
            bob, customer_name="Globex Corp", customer_domain="globex.com"
        )
    approved = factories.make_registration(
        bob, customer_name="Contoso", customer_domain="contoso.com"
    )
    services.registration_approve(registration=approved, actor=manager)
    factories.make_opportunity(
        account_name="Contoso Ltd", account_domain="contoso.com", owner_email="Rep@Vendor.example"
    )
    resolved_a = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    resolved_b = factories.make_registration(
        bob, customer_name="Initech Inc", customer_domain="initech.com"
    )
    services.conflict_resolve(
        conflict=Conflict.objects.get(registration_id=resolved_b.pk),
        actor=manager,
        resolution="not_a_conflict",
    )
    pair = Conflict.objects.get(registration_id=second.pk)
    late = Conflict.objects.get(registration_id=approved.pk)
    return pair, late, resolved_a


def rows(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200
    return [item.conflict.pk for item in response.context["items"]]


def test_every_open_conflict_oldest_first_with_its_sla(manager_client, world):
    pair, late, _ = world
    response = manager_client.get(URL)
    items = response.context["items"]
    assert [i.conflict.pk for i in items] == [pair.pk, late.pk]
    assert items[0].overdue is True and items[1].overdue is False
    assert items[1].after_approval is True  # found by a CRM sync after approval
    html = response.content.decode()
    assert "After approval" in html and "Overdue" in html


def test_filters(manager_client, world, partner_a, partner_b):
    pair, late, _ = world
    assert rows(manager_client, kind="direct_opportunity") == [late.pk]
    assert rows(manager_client, kind="registration") == [pair.pk]
    assert rows(manager_client, partner=partner_a.pk) == [pair.pk]  # the earlier side
    assert rows(manager_client, partner=partner_b.pk) == [pair.pk, late.pk]
    assert rows(manager_client, rep="rep@vendor.example") == [late.pk]
    assert rows(manager_client, age="7") == [pair.pk]
    assert manager_client.get(URL, {"partner": "x"}).status_code == 400
    assert manager_client.get(URL, {"age": "-1"}).status_code == 400


def test_linked_from_the_queue_and_the_dashboard(manager_client, world):
    assert URL in manager_client.get(reverse("manage_queue")).content.decode()
    dashboard = manager_client.get("/manage/reports/")
    assert dashboard.status_code == 200
    assert URL in dashboard.content.decode()


def test_partners_cannot_open_it(client, alice, world):
    client.force_login(alice)
    assert client.get(URL).status_code == 403
