"""The sales rep pages (issue 14 item 6): managers add reps on a page and in the admin; a rep's
workspace lists only the conflicts touching their own opportunities and opens, read-only, the
registrations involved (activity log and public comments, never internal notes); another
rep's or an unrelated registration answers 404; co-sell from the page is recorded with role
sales_rep."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conflicts.models import Conflict
from deals.models import RegistrationEvent
from deals.registrations.collaboration import activity_create, comment_create
from partners.models import User
from tests import factories


@pytest.fixture
def rep(db):
    return factories.sales_rep_user(email="rita.rep@vendor.example")


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def world(alice, bob, product, rep, manager):
    factories.make_opportunity(
        account_name="Contoso Ltd",
        account_domain="contoso.com",
        owner_email="Rita.Rep@vendor.example",
    )
    own = factories.make_registration(alice, customer_name="Contoso", customer_domain="contoso.com")
    factories.make_opportunity(
        account_name="Fabrikam", account_domain="fabrikam.com", owner_email="otto@vendor.example"
    )
    others = factories.make_registration(
        bob, customer_name="Fabrikam Inc", customer_domain="fabrikam.com"
    )
    unrelated = factories.make_registration(bob, customer_name="Initech")
    comment_create(registration=own, actor=manager, body="INTERNAL-CANARY", internal=True)
    comment_create(registration=own, actor=alice, body="When can we meet?")
    activity_create(
        registration=own,
        actor=alice,
        kind="demo",
        occurred_on=timezone.localdate().isoformat(),
        summary="Demo with the CIO",
    )
    return {
        "own": own,
        "conflict": Conflict.objects.get(registration_id=own.pk),
        "others": others,
        "unrelated": unrelated,
    }


def test_manager_adds_a_sales_rep_on_the_page(manager_client):
    page = manager_client.get(reverse("manage_sales_reps"))
    assert page.status_code == 200
    created = manager_client.post(
        reverse("manage_sales_reps"), {"email": "Sam.Rep@vendor.example", "name": "Sam"}
    )
    assert created.status_code == 302
    user = User.objects.get(email="sam.rep@vendor.example")
    assert user.is_sales_rep and not user.is_staff
    assert b"sam.rep@vendor.example" in manager_client.get(reverse("manage_sales_reps")).content
    invalid = manager_client.post(reverse("manage_sales_reps"), {"email": "nope"})
    assert invalid.status_code == 400 and b"valid e-mail" in invalid.content


def test_only_managers_use_the_sales_reps_page(alice_client, rep, client):
    assert alice_client.get(reverse("manage_sales_reps")).status_code == 403
    client.force_login(rep)
    assert client.get(reverse("manage_sales_reps")).status_code == 403


def test_administrator_adds_a_sales_rep_in_the_admin(db, client):
    root = factories.manager_user(email="root@vendor.example", superuser=True)
    client.force_login(root)
    response = client.post(
        "/admin/partners/user/add/",
        {
            "email": "Ada.Rep@vendor.example",
            "name": "Ada",
            "is_sales_rep": "on",
            "usable_password": "false",
            "password1": "",
            "password2": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="ada.rep@vendor.example")
    assert user.is_sales_rep and not user.is_staff
    listing = client.get("/admin/partners/user/", {"is_sales_rep__exact": "1"})
    assert b"ada.rep@vendor.example" in listing.content


def test_rep_workspace_lists_only_the_reps_own_conflicts(world, rep_client):
    home = rep_client.get("/")
    assert home.status_code == 302 and home["Location"] == reverse("rep_workspace")
    page = rep_client.get(reverse("rep_workspace"))
    assert page.status_code == 200
    assert [i.conflict.pk for i in page.context["items"]] == [world["conflict"].pk]
    html = page.content.decode()
    assert "Contoso" in html and "Fabrikam" not in html and "Initech" not in html


def test_rep_workspace_runs_a_constant_number_of_queries(world, rep, rep_client, alice):
    rep_client.get(reverse("rep_workspace"))
    with CaptureQueriesContext(connection) as one:
        rep_client.get(reverse("rep_workspace"))
    for n in range(3):
        factories.make_opportunity(
            account_name=f"Northwind {n}", account_domain=f"northwind{n}.com", owner_email=rep.email
        )
        factories.make_registration(
            alice, customer_name=f"Northwind {n}", customer_domain=f"northwind{n}.com"
        )
    with CaptureQueriesContext(connection) as four:
        page = rep_client.get(reverse("rep_workspace"))
    assert len(page.context["items"]) == 4
    assert len(four) == len(one)


def test_rep_reads_the_registration_without_internal_notes(world, rep_client):
    page = rep_client.get(reverse("rep_registration", args=[world["own"].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for shown in ("Contoso", "Acme Resellers", "Demo with the CIO", "When can we meet?"):
        assert shown in html
    assert "INTERNAL-CANARY" not in html
    assert "Propose co-sell" in html
    # The partner portal's page sends a rep to the rep page.
    portal = rep_client.get(reverse("registration_detail", args=[world["own"].pk]))
    assert portal["Location"] == reverse("rep_registration", args=[world["own"].pk])


def test_another_reps_or_an_unrelated_registration_is_404(world, rep_client):
    for other in (world["others"], world["unrelated"]):
        assert rep_client.get(reverse("rep_registration", args=[other.pk])).status_code == 404
    other_conflict = Conflict.objects.get(registration_id=world["others"].pk)
    response = rep_client.post(
        reverse("rep_co_sell", args=[other_conflict.pk]), {"action": "propose"}
    )
    assert response.status_code == 404


def test_rep_proposes_co_sell_from_the_page(world, rep, rep_client):
    response = rep_client.post(
        reverse("rep_co_sell", args=[world["conflict"].pk]), {"action": "propose", "note": "Yes"}
    )
    assert response["Location"] == reverse("rep_registration", args=[world["own"].pk])
    event = RegistrationEvent.objects.get(action="co_sell_proposed")
    assert event.details["confirmation"]["role"] == "sales_rep"
    page = rep_client.get(response["Location"])
    assert b"You proposed co-sell" in page.content
    again = rep_client.post(
        reverse("rep_co_sell", args=[world["conflict"].pk]), {"action": "propose"}
    )
    assert again.status_code == 302  # refused with a message, not an error page
    assert RegistrationEvent.objects.filter(action="co_sell_proposed").count() == 1


def test_partners_and_managers_never_use_the_rep_pages(world, alice_client):
    assert alice_client.get(reverse("rep_workspace")).status_code == 403
    assert alice_client.get(reverse("rep_registration", args=[world["own"].pk])).status_code == 403


def test_reports_dashboard_shows_co_sell_per_rep(world, rep, manager, manager_client):
    from deals.registrations import services

    services.conflict_resolve(conflict=world["conflict"], actor=manager, resolution="co_sell")
    page = manager_client.get(reverse("reports-dashboard"))
    assert page.status_code == 200
    assert page.context["co_sell_by_rep"] == {rep.email: {"count": 1, "won_value": {}}}
    assert b'data-testid="co-sell-by-rep"' in page.content


def test_the_manager_sees_the_reps_proposal_on_the_review_page(world, rep, rep_client, client):
    rep_client.post(reverse("rep_co_sell", args=[world["conflict"].pk]), {"action": "propose"})
    manager = factories.manager_user(email="mia@vendor.example")
    client.force_login(manager)
    page = client.get(reverse("manage_registration", args=[world["own"].pk]))
    assert f"Co-sell proposed by {rep.email}".encode() in page.content


def test_rep_reads_the_registrations_custom_field_values(world, rep_client, manager):
    from deals import customfields

    customfields.field_create(
        actor=manager, data={"key": "seats", "label": "Seats", "type": "number"}
    )
    world["own"].custom = {"seats": 250}
    world["own"].save(update_fields=["custom"])
    page = rep_client.get(reverse("rep_registration", args=[world["own"].pk]))
    html = page.content.decode()
    assert 'data-testid="custom-value"><dt>Seats</dt><dd>250</dd>' in html
