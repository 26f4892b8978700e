"""Direct sales reps (issue 14 item 6; API.md v1.1 "Roles" and "Conflicts that bind"): managers
create them, `/me/` says `sales_rep`, a rep sees only the conflicts against opportunities they
own (e-mail, any case) and the registrations involved, never internal notes, makes one write
(co-sell propose/accept, recorded with role sales_rep) and hears of the outcome with links
into the rep workspace."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conflicts.models import Conflict
from deals.events import events_verify_chain
from deals.models import CoSellAgreement, Notification, RegistrationEvent
from deals.registrations import services
from deals.registrations.collaboration import activity_create, comment_create
from partners.models import User
from tests import factories
from tests.api.conftest import client_for


@pytest.fixture
def rep(db):
    return factories.sales_rep_user(email="rita.rep@vendor.example", name="Rita Rep")


@pytest.fixture
def other_rep(db):
    return factories.sales_rep_user(email="otto.rep@vendor.example")


@pytest.fixture
def rep_world(alice, bob, manager, product, rep, other_rep):
    """Rita owns Contoso (her e-mail in another case); Otto owns Fabrikam; Initech is a
    conflict between two partners, no rep involved."""
    factories.make_opportunity(
        account_name="Contoso Ltd",
        account_domain="contoso.com",
        owner_email="RITA.Rep@vendor.example",
    )
    own = factories.make_registration(alice, customer_name="Contoso", customer_domain="contoso.com")
    factories.make_opportunity(
        account_name="Fabrikam", account_domain="fabrikam.com", owner_email=other_rep.email
    )
    others = factories.make_registration(
        bob, customer_name="Fabrikam Inc", customer_domain="fabrikam.com"
    )
    factories.make_registration(alice, customer_name="Initech", customer_domain="initech.com")
    unrelated = factories.make_registration(
        bob, customer_name="Initech LLC", customer_domain="initech.com"
    )
    return {
        "own": own,
        "own_conflict": Conflict.objects.get(registration_id=own.pk),
        "others": others,
        "others_conflict": Conflict.objects.get(registration_id=others.pk),
        "unrelated": unrelated,
        "unrelated_conflict": Conflict.objects.get(registration_id=unrelated.pk),
    }


# --- Creating reps ------------------------------------------------------------------------------


def test_manager_creates_a_sales_rep_and_lists_them(manager):
    client = client_for(manager)
    response = client.post(
        "/api/v1/sales-reps/",
        {"email": "New.Rep@Vendor.example", "name": "New Rep", "password": "a-Long-passphrase-42"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "email", "name"}
    assert (body["email"], body["name"]) == ("new.rep@vendor.example", "New Rep")
    user = User.objects.get(pk=body["id"])
    assert user.is_sales_rep and not user.is_staff and user.check_password("a-Long-passphrase-42")
    without_password = client.post(
        "/api/v1/sales-reps/", {"email": "second.rep@vendor.example"}, format="json"
    )
    assert without_password.status_code == 201
    assert not User.objects.get(pk=without_password.json()["id"]).has_usable_password()
    listed = client.get("/api/v1/sales-reps/").json()
    assert [r["email"] for r in listed] == ["new.rep@vendor.example", "second.rep@vendor.example"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "carol@vendor.example"}, "email"),  # the manager's own address: taken
        ({"email": "x.rep@vendor.example", "password": "123"}, "password"),
        ({"email": "x.rep@vendor.example", "role": "manager"}, "role"),
        ({"email": "x.rep@vendor.example", "name": "n" * 151}, "name"),
        ({"email": ["x"]}, "email"),
    ],
)
def test_invalid_sales_rep_input_answers_400_with_the_field(manager, body, field):
    response = client_for(manager).post("/api/v1/sales-reps/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_only_managers_create_or_list_sales_reps(alice, alice_admin, rep):
    for user in (alice, alice_admin, rep):
        client = client_for(user)
        assert client.get("/api/v1/sales-reps/").status_code == 403
        created = client.post("/api/v1/sales-reps/", {"email": "e@vendor.example"}, format="json")
        assert created.status_code == 403
    assert not User.objects.filter(email="e@vendor.example").exists()


def test_me_says_sales_rep(rep):
    me = client_for(rep).get("/api/v1/me/").json()
    assert (me["role"], me["partner"], me["email"]) == ("sales_rep", None, rep.email)


def test_a_partner_user_marked_as_rep_stays_a_partner_user(alice):
    User.objects.filter(pk=alice.pk).update(is_sales_rep=True)
    assert client_for(alice).get("/api/v1/me/").json()["role"] == "partner"


# --- What a rep sees ----------------------------------------------------------------------------


def test_rep_sees_only_registrations_in_conflict_with_their_own_opportunities(rep_world, rep):
    client = client_for(rep)
    listed = client.get("/api/v1/registrations/").json()
    assert [r["id"] for r in listed["results"]] == [rep_world["own"].pk]
    detail = client.get(f"/api/v1/registrations/{rep_world['own'].pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["customer_name"] == "Contoso" and body["partner"]["name"] == "Acme Resellers"
    assert "conflicts" not in body and "co_sell" not in body  # the partner representation
    missing = client.get("/api/v1/registrations/999999999/")
    for other in (rep_world["others"], rep_world["unrelated"]):
        response = client.get(f"/api/v1/registrations/{other.pk}/")
        assert response.status_code == 404
        assert response.content == missing.content
        assert client.get(f"/api/v1/registrations/{other.pk}/history/").status_code == 404
        assert client.get(f"/api/v1/registrations/{other.pk}/comments/").status_code == 404


def test_rep_conflicts_list_only_their_own(rep_world, rep, other_rep):
    listed = client_for(rep).get("/api/v1/conflicts/").json()
    assert [c["id"] for c in listed] == [rep_world["own_conflict"].pk]
    assert listed[0]["kind"] == "direct_opportunity"
    assert listed[0]["other"]["label"].endswith("Contoso Ltd")
    by_registration = client_for(rep).get(
        "/api/v1/conflicts/", {"registration": rep_world["others"].pk}
    )
    assert by_registration.json() == []
    otto = client_for(other_rep).get("/api/v1/conflicts/").json()
    assert [c["id"] for c in otto] == [rep_world["others_conflict"].pk]


def test_rep_never_reads_internal_notes(rep_world, rep, manager, alice):
    registration = rep_world["own"]
    comment_create(registration=registration, actor=manager, body="INTERNAL-CANARY", internal=True)
    comment_create(registration=registration, actor=alice, body="Public question")
    activity_create(
        registration=registration,
        actor=alice,
        kind="meeting",
        occurred_on=timezone.localdate().isoformat(),
        summary="Discovery call",
    )
    services.conflict_resolve(
        conflict=rep_world["own_conflict"],
        actor=manager,
        resolution="co_sell",
        note="INTERNAL-CANARY resolution",
    )
    client = client_for(rep)
    comments = client.get(f"/api/v1/registrations/{registration.pk}/comments/").json()
    assert [c["body"] for c in comments["results"]] == ["Public question"]
    everything = b"".join(
        client.get(url).content
        for url in (
            f"/api/v1/registrations/{registration.pk}/",
            f"/api/v1/registrations/{registration.pk}/history/",
            f"/api/v1/registrations/{registration.pk}/comments/",
            "/api/v1/registrations/",
            "/api/v1/conflicts/",
        )
    )
    assert b"INTERNAL-CANARY" not in everything
    history = client.get(f"/api/v1/registrations/{registration.pk}/history/").json()
    assert "conflict_resolved" not in {e["action"] for e in history}


def test_rep_lists_run_a_constant_number_of_queries(rep_world, rep, alice):
    client = client_for(rep)
    client.get("/api/v1/me/")

    def counts():
        with CaptureQueriesContext(connection) as registrations:
            assert client.get("/api/v1/registrations/").status_code == 200
        with CaptureQueriesContext(connection) as conflicts:
            assert client.get("/api/v1/conflicts/").status_code == 200
        return len(registrations), len(conflicts)

    few = counts()
    for n in range(4):
        factories.make_opportunity(
            account_name=f"Northwind {n}", account_domain=f"northwind{n}.com", owner_email=rep.email
        )
        factories.make_registration(
            alice, customer_name=f"Northwind {n}", customer_domain=f"northwind{n}.com"
        )
    assert len(client_for(rep).get("/api/v1/conflicts/").json()) == 5
    assert counts() == few


# --- What a rep may write -----------------------------------------------------------------------


def test_every_rep_write_but_co_sell_is_403(rep_world, rep):
    client = client_for(rep)
    own = rep_world["own"].pk
    conflict = rep_world["own_conflict"].pk
    writes = [
        ("post", "/api/v1/registrations/", {"customer_name": "X"}),
        ("patch", f"/api/v1/registrations/{own}/", {"customer_name": "X"}),
        ("post", f"/api/v1/registrations/{own}/comments/", {"body": "x"}),
        ("post", f"/api/v1/registrations/{own}/close/", {"outcome": "won"}),
        ("post", f"/api/v1/registrations/{own}/withdraw/", {}),
        ("post", f"/api/v1/registrations/{own}/approve/", {}),
        ("post", f"/api/v1/conflicts/{conflict}/resolve/", {"resolution": "co_sell"}),
        ("post", "/api/v1/conflict-check/", {"customer_name": "Contoso", "customer_country": "US"}),
        ("post", "/api/v1/opportunities/", {"external_id": "X"}),
        ("post", "/api/v1/notifications/read-all/", {}),
        ("post", "/api/v1/sales-reps/", {"email": "y@vendor.example"}),
    ]
    for method, url, body in writes:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (url, response.content)
        assert response.json()["code"] == "permission_denied"
    assert Conflict.objects.get(pk=conflict).status == "open"


def _co_sell(user, conflict, action, **extra):
    return client_for(user).post(
        f"/api/v1/conflicts/{conflict.pk}/co-sell/", {"action": action, **extra}, format="json"
    )


def test_rep_proposal_is_recorded_with_role_sales_rep_and_joins_the_agreement(
    rep_world, rep, manager
):
    registration, conflict = rep_world["own"], rep_world["own_conflict"]
    Notification.objects.all().delete()
    response = _co_sell(rep, conflict, "propose", note="Happy to work with Acme.")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "open" and response.json()["co_sell"] is None
    event = RegistrationEvent.objects.get(registration=registration, action="co_sell_proposed")
    assert event.internal and event.actor_id == rep.pk
    assert event.details["confirmation"]["role"] == "sales_rep"
    assert event.details["confirmation"]["by"] == rep.email
    told = Notification.objects.filter(recipient=manager, kind="co_sell_proposed")
    assert told.filter(channel="in_app").get().url == f"/manage/registrations/{registration.pk}/"
    assert not Notification.objects.filter(recipient__membership__isnull=False).exists()

    again = _co_sell(rep, conflict, "propose")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")

    resolved = client_for(manager).post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/", {"resolution": "co_sell"}, format="json"
    )
    confirmations = resolved.json()["co_sell"]["confirmations"]
    assert [(c["by"], c["role"]) for c in confirmations] == [
        (rep.email, "sales_rep"),
        (manager.email, "manager"),
    ]
    resolution = RegistrationEvent.objects.get(
        registration=registration, action="conflict_resolved"
    )
    assert resolution.details["co_sell"]["confirmations"] == confirmations
    assert events_verify_chain(f"r:{registration.pk}") == []
    # Proposing made the rep's confirmation: nothing left to accept.
    assert _co_sell(rep, conflict, "accept").status_code == 409


def test_rep_accepts_the_co_sell_a_manager_agreed(rep_world, rep, manager):
    registration, conflict = rep_world["own"], rep_world["own_conflict"]
    early = _co_sell(rep, conflict, "accept")
    assert (early.status_code, early.json()["code"]) == (409, "invalid_transition")
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    assert _co_sell(rep, conflict, "propose").status_code == 409  # no longer open
    response = _co_sell(rep, conflict, "accept", note="Agreed.")
    assert response.status_code == 200, response.content
    confirmations = response.json()["co_sell"]["confirmations"]
    assert [c["role"] for c in confirmations] == ["manager", "sales_rep"]
    assert CoSellAgreement.objects.get(conflict_id=conflict.pk).confirmations == confirmations
    event = RegistrationEvent.objects.get(registration=registration, action="co_sell_accepted")
    assert event.internal and event.details["confirmation"] == confirmations[1]
    assert events_verify_chain(f"r:{registration.pk}") == []
    assert _co_sell(rep, conflict, "accept").status_code == 409  # once


@pytest.mark.parametrize(
    "body", [{"action": "reject"}, {}, {"action": "propose", "note": "n" * 2001}, {"x": 1}]
)
def test_bad_co_sell_input_answers_400(rep_world, rep, body):
    response = client_for(rep).post(
        f"/api/v1/conflicts/{rep_world['own_conflict'].pk}/co-sell/", body, format="json"
    )
    assert response.status_code == 400, response.content


def test_co_sell_on_anything_but_the_reps_own_conflict(rep_world, rep, manager, alice):
    missing = client_for(rep).post(
        "/api/v1/conflicts/999999999/co-sell/", {"action": "propose"}, format="json"
    )
    for conflict in (rep_world["others_conflict"], rep_world["unrelated_conflict"]):
        response = _co_sell(rep, conflict, "propose")
        assert response.status_code == 404 and response.content == missing.content
    assert _co_sell(manager, rep_world["own_conflict"], "propose").status_code == 403
    assert _co_sell(alice, rep_world["own_conflict"], "propose").status_code == 404
    assert not RegistrationEvent.objects.filter(action="co_sell_proposed").exists()


# --- Notifications ------------------------------------------------------------------------------


def test_rep_is_told_of_a_conflict_with_a_link_into_the_rep_workspace(rep_world, rep):
    detected = Notification.objects.filter(recipient=rep, kind="conflict_detected")
    assert {n.url for n in detected} == {f"/rep/registrations/{rep_world['own'].pk}/"}
    assert {n.channel for n in detected} == {"in_app", "email"}
    assert not Notification.objects.filter(
        recipient=rep, registration__in=[rep_world["others"], rep_world["unrelated"]]
    ).exists()


def test_rep_is_told_the_co_sell_outcome_with_links_into_the_rep_workspace(
    rep_world, rep, manager, django_capture_on_commit_callbacks, client
):
    registration, conflict = rep_world["own"], rep_world["own_conflict"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.conflict_resolve(
            conflict=conflict,
            actor=manager,
            resolution="co_sell",
            co_sell={"lead": "direct", "partner_credit_percent": 100, "rep_credit_percent": 100},
        )
    rows = Notification.objects.filter(recipient=rep, kind="conflict_resolved")
    assert {r.channel for r in rows} == {"in_app", "email"}
    path = f"/rep/registrations/{registration.pk}/"
    assert {r.url for r in rows} == {path}
    [email] = [m for m in mail.outbox if rep.email in m.to]
    assert "co-sell" in email.body and path in email.body
    assert "/manage/" not in email.body
    client.force_login(rep)
    page = client.get(path)
    assert page.status_code == 200
    assert b"Co-sell agreed" in page.content
    assert client.get(f"/manage/registrations/{registration.pk}/").status_code == 403
    bell = rows.get(channel="in_app")
    opened = client.post(f"/notifications/{bell.pk}/read/", {"next": "open"})
    assert opened.status_code == 302 and opened["Location"] == path


def test_sales_reps_must_enrol_mfa_like_managers(db, client):
    rep = factories.sales_rep_user(email="new.rep@vendor.example", mfa=False)
    response = client_for(rep).get("/api/v1/conflicts/")
    assert (response.status_code, response.json()["code"]) == (403, "mfa_required")
    client.force_login(rep)
    page = client.get("/rep/")
    assert page.status_code == 302 and "/accounts/2fa/" in page["Location"]
    factories.enrol_totp(rep)
    assert client.get("/rep/").status_code == 200


# --- Reports ------------------------------------------------------------------------------------


def test_co_sell_by_rep_counts_a_reps_co_sell_and_its_won_value(rep_world, rep, manager, alice):
    registration, conflict = rep_world["own"], rep_world["own_conflict"]
    _co_sell(rep, conflict, "propose")
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    services.registration_approve(registration=registration, actor=manager)
    services.registration_close(
        registration=registration,
        actor=alice,
        outcome="won",
        close_date=timezone.localdate().isoformat(),
        actual_value="75000.00",
    )
    summary = client_for(manager).get("/api/v1/reports/summary/").json()
    assert summary["co_sell_by_rep"] == {rep.email: {"count": 1, "won_value": {"USD": "75000.00"}}}
    assert client_for(rep).get("/api/v1/reports/summary/").status_code == 403
