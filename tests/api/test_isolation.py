"""ISO-01 (IDOR matrix), ISO-02 (role matrix) and the meta-test that keeps them complete."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from conflicts.models import Conflict
from deals.customfields import field_create
from deals.models import Notification
from deals.registrations.collaboration import comment_create
from deals.registrations.extensions import extension_request_create
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.services import new_secret
from partners.services import integration_create
from rewards.services import win_verify
from tests import factories
from tests.api import matrix
from tests.api.conftest import changed_tables, client_for, hash_all_tables

MISSING = 999_999_999


def test_meta_every_api_route_is_in_the_matrices():
    routes = matrix.api_routes()
    assert routes, "the resolver walk found no /api/v1/ routes"
    in_urlconf = {(name, method) for _, name, _, methods in routes for method in methods}
    assert in_urlconf == set(matrix.ROLE_MATRIX), (
        "routes missing from ROLE_MATRIX: "
        f"{sorted(in_urlconf - set(matrix.ROLE_MATRIX))}; stale entries: "
        f"{sorted(set(matrix.ROLE_MATRIX) - in_urlconf)}"
    )
    with_ids = {name for route, name, _, _ in routes if matrix.has_params(route)}
    assert with_ids == set(matrix.OBJECT_ROUTES)
    for route, name, _, _ in routes:
        params = set(re.findall(r"<(?:\w+:)?(\w+)>", route))
        assert params == set(matrix.OBJECT_ROUTES.get(name, {})), route


def _notification(user, key):
    return Notification.objects.create(
        recipient=user, kind="approved", channel="in_app", dedupe_key=key, title="t"
    )


@pytest.fixture
def sales_rep(db):
    return factories.sales_rep_user(email="rita.rep@vendor.example")


@pytest.fixture
def world(alice, alice_admin, bob, bob_admin, manager, product, partner_a, partner_b, sales_rep):
    """Own objects (partner A) and foreign ones (partner B, or manager-only kinds)."""
    # Partner B is of another tier than A (custom fields apply per tier).
    partner_b.tier = factories.default_tier("silver")
    partner_b.save(update_fields=["tier"])
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    b_reg = factories.make_registration(
        bob,
        customer_name="Globex Corp",
        customer_domain="globex.com",
        status="approved",
        manager=manager,
    )
    b_ext = extension_request_create(registration=b_reg, actor=bob, reason="time")
    comment_create(registration=b_reg, actor=bob, body="B-CANARY comment")
    factories.make_registration(bob, customer_name="Initech LLC", customer_domain="initech.com")
    a_reg = factories.make_registration(
        alice,
        customer_name="Initech",
        customer_domain="initech.com",
        status="approved",
        manager=manager,
    )
    a_ext = extension_request_create(registration=a_reg, actor=alice, reason="time")
    comment_create(registration=a_reg, actor=alice, body="hello")
    opportunity = factories.make_opportunity()
    webhook = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/x", events=["registration.submitted"], secret=new_secret()
    )
    webhook_delivery = WebhookDelivery.objects.create(
        endpoint=webhook, event="registration.submitted", message_id="msg_1", dedupe_key="k",
        payload={"type": "registration.submitted"}, status="failed",
    )  # fmt: skip
    integration, _ = integration_create(
        actor=manager, name="CRM sync", scopes=["registrations:read"]
    )
    # Custom fields: one for partner A's tier, one only for partner B's (another tier), with a
    # value on B's registration that A must never reach.
    a_field = field_create(
        actor=manager,
        data={"key": "a_budget", "label": "Budget", "type": "boolean", "tiers": ["gold"]},
    )
    b_field = field_create(
        actor=manager,
        data={"key": "b_secret", "label": "B-CANARY field", "type": "text", "tiers": ["silver"]},
    )
    b_custom = factories.make_registration(
        bob,
        customer_name="Soylent Industries",
        customer_domain="soylent.com",
        custom={"b_secret": "B-CANARY value"},
    )
    b_won = factories.make_registration(bob, status="won", manager=manager)
    a_won = factories.make_registration(alice, status="won", manager=manager)
    b_accrual = win_verify(registration=b_won, actor=manager)
    a_accrual = win_verify(registration=a_won, actor=manager)
    foreign_conflict = Conflict.objects.get(registration_id=b_reg.pk)
    own_conflict = Conflict.objects.get(registration_id=a_reg.pk)
    # The sales rep's own conflict (an opportunity they own, the e-mail in another case) and
    # another rep's.
    factories.make_opportunity(
        account_name="Umbrella Corp",
        account_domain="umbrella.com",
        owner_email="Rita.Rep@Vendor.example",
    )
    rep_reg = factories.make_registration(
        alice, customer_name="Umbrella Corporation", customer_domain="umbrella.com"
    )
    comment_create(registration=rep_reg, actor=manager, body="B-CANARY internal", internal=True)
    factories.make_opportunity(
        account_name="Hooli Inc", account_domain="hooli.com", owner_email="other.rep@vendor.example"
    )
    other_rep_reg = factories.make_registration(
        bob, customer_name="Hooli", customer_domain="hooli.com"
    )
    rep_conflict = Conflict.objects.get(registration_id=rep_reg.pk)
    other_rep_conflict = Conflict.objects.get(registration_id=other_rep_reg.pk)
    # Evidence (issue 17 §2): a file on each side, named with the canary.
    canary = b"B-CANARY evidence text\n"
    b_file = factories.make_attachment(bob, b_reg, name="B-CANARY.txt", content=canary)
    a_file = factories.make_attachment(alice, a_reg, name="quote.txt", content=b"our quote\n")
    rep_file = factories.make_attachment(alice, rep_reg)
    other_rep_file = factories.make_attachment(bob, other_rep_reg, content=canary)
    return {
        "rep_own": {
            "registration": rep_reg.pk,
            "conflict": rep_conflict.pk,
            "attachment": rep_file.pk,
        },
        "rep_foreign": [
            {
                "registration": other_rep_reg.pk,
                "conflict": other_rep_conflict.pk,
                "attachment": other_rep_file.pk,
            },
            {"registration": b_reg.pk, "conflict": foreign_conflict.pk, "attachment": b_file.pk},
        ],
        "foreign": {
            "partner": partner_b.pk,
            "partner_user": bob.pk,
            "registration": b_reg.pk,
            "extension_request": b_ext.pk,
            "conflict": foreign_conflict.pk,
            "opportunity": opportunity.pk,
            "notification": _notification(bob, "bob:1").pk,
            "webhook": webhook.pk,
            "webhook_delivery": webhook_delivery.pk,
            "integration": integration.pk,
            "accrual": b_accrual.pk,
            "attachment": b_file.pk,
            "registration_field": b_field.key,
            "custom_registration": b_custom.pk,
        },
        "own": {
            "partner": partner_a.pk,
            "partner_user": alice.pk,
            "registration": a_reg.pk,
            "extension_request": a_ext.pk,
            "conflict": own_conflict.pk,
            "opportunity": opportunity.pk,
            "notification": _notification(alice, "alice:1").pk,
            "webhook": webhook.pk,
            "webhook_delivery": webhook_delivery.pk,
            "integration": integration.pk,
            "accrual": a_accrual.pk,
            "attachment": a_file.pk,
            "registration_field": a_field.key,
        },
    }


def _url(route: str, values: dict[str, int]) -> str:
    def sub(match):
        return str(values[match.group(1)])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", sub, route)


def _call(client, method, url, body):
    return getattr(client, method.lower())(url, body, format="json")


def _object_cases():
    return [
        (route, name, method)
        for route, name, _, methods in matrix.api_routes()
        if name in matrix.OBJECT_ROUTES
        for method in methods
    ]


@pytest.mark.parametrize("attacker", ["member", "admin"])
def test_iso01_foreign_objects_are_404_identical_and_change_nothing(
    world, alice, alice_admin, attacker
):
    """Every object route × method × foreign object kind, for a partner member and a partner
    admin of A: 404, byte-identical to a non-existent id, and no row changed anywhere."""
    client = client_for(alice if attacker == "member" else alice_admin)
    client.get("/api/v1/me/")  # token bookkeeping happens once, before the hash
    cases = _object_cases()
    assert len(cases) >= 20
    before = hash_all_tables()
    failures = []
    for route, name, method in cases:
        kinds = matrix.OBJECT_ROUTES[name]
        pairs = [({p: world["foreign"][k] for p, k in kinds.items()}, {p: MISSING for p in kinds})]
        if name == "api-partner-user":
            # Own partner, a user of another partner vs a user id that does not exist.
            pairs.append(
                ({"pk": world["own"]["partner"], "user_id": world["foreign"]["partner_user"]},
                 {"pk": world["own"]["partner"], "user_id": MISSING})
            )  # fmt: skip
        body = matrix.body_for(name, method)
        for foreign_values, missing_values in pairs:
            foreign = _call(client, method, _url(route, foreign_values), body)
            missing = _call(client, method, _url(route, missing_values), body)
            if not (
                foreign.status_code == missing.status_code == 404
                and foreign.content == missing.content
                and b"B-CANARY" not in foreign.content
            ):
                failures.append((method, route, foreign.status_code, foreign.content[:200]))
    assert failures == []
    assert changed_tables(before, hash_all_tables()) == []


def _role_cases():
    return [
        pytest.param(route, name, m, id=f"{m} {route}")
        for route, name, _, methods in matrix.api_routes()
        for m in methods
    ]


def test_iso01_sales_rep_sees_foreign_objects_as_missing_and_changes_nothing(world, sales_rep):
    """Every object route × method for a sales rep, with another rep's conflict and
    registration and an unrelated one: the same answer as a non-existent id (404 on reads and
    on co-sell, 403 on every other write), nothing leaked, no row changed."""
    client = client_for(sales_rep)
    client.get("/api/v1/me/")
    before = hash_all_tables()
    failures = []
    for route, name, method in _object_cases():
        kinds = matrix.OBJECT_ROUTES[name]
        body = matrix.body_for(name, method)
        for foreign_ids in world["rep_foreign"]:
            values = {**world["foreign"], **foreign_ids}
            foreign = _call(
                client, method, _url(route, {p: values[k] for p, k in kinds.items()}), body
            )
            missing = _call(client, method, _url(route, {p: MISSING for p in kinds}), body)
            want = 404 if method == "GET" or name == "api-conflict-co-sell" else 403
            if not (
                foreign.status_code == missing.status_code == want
                and foreign.content == missing.content
                and b"B-CANARY" not in foreign.content
            ):
                failures.append((method, route, foreign.status_code, foreign.content[:200]))
    assert failures == []
    assert changed_tables(before, hash_all_tables()) == []


@pytest.mark.parametrize("route,name,method", _role_cases())
def test_iso02_role_matrix(
    world, anon, alice, alice_admin, manager, sales_rep, route, name, method
):
    rule = matrix.ROLE_MATRIX[(name, method)]
    url = _url(route, {p: world["own"][k] for p, k in matrix.OBJECT_ROUTES.get(name, {}).items()})
    body = matrix.body_for(name, method)

    anonymous = _call(anon, method, url, body)
    if rule == "public":
        assert anonymous.status_code not in (401, 403) and anonymous.status_code < 500
    else:
        assert anonymous.status_code == 401, anonymous.content
        assert anonymous.json()["code"] == "not_authenticated"

    expected = {
        "member": {
            "manager": 403,
            "manager_object": 404,
            "admin": 403,
            "sales_rep_object": 404,
        },
        "admin": {"manager": 403, "manager_object": 404, "sales_rep_object": 404},
        "manager": {"partner": 403, "sales_rep_object": 403},
    }
    clients = {"member": alice, "admin": alice_admin, "manager": manager}
    for role, user in clients.items():
        if rule == "public":
            continue
        if name == "api-notification-read":
            # Notifications belong to one user: each role reads its own.
            own = _notification(user, f"{role}:own")
            url = _url(route, {"pk": own.pk})
        response = _call(client_for(user), method, url, body)
        want = expected[role].get(rule)
        if want is not None:
            assert response.status_code == want, (role, rule, response.content)
            assert response.json()["code"] in ("permission_denied", "not_found")
        else:
            assert response.status_code not in (401, 403, 404), (role, rule, response.content)
            assert response.status_code < 500

    # The sales rep, on their own objects (their conflict and its registration).
    if rule == "public":
        return
    rep_values = {**world["own"], **world["rep_own"]}
    url = _url(route, {p: rep_values[k] for p, k in matrix.OBJECT_ROUTES.get(name, {}).items()})
    if name == "api-notification-read":
        url = _url(route, {"pk": _notification(sales_rep, "rep:own").pk})
    response = _call(client_for(sales_rep), method, url, body)
    want = matrix.sales_rep_rule(name, method)
    if want == "ok":
        assert response.status_code not in (401, 403, 404), ("sales_rep", response.content)
        assert response.status_code < 500
    else:
        assert response.status_code == want, ("sales_rep", rule, response.content)
        assert response.json()["code"] in ("permission_denied", "not_found")


def test_role_check_follows_scoping_for_approve(world, alice):
    client = client_for(alice)
    own = client.post(
        f"/api/v1/registrations/{world['own']['registration']}/approve/", {}, format="json"
    )
    foreign = client.post(
        f"/api/v1/registrations/{world['foreign']['registration']}/approve/", {}, format="json"
    )
    assert (own.status_code, foreign.status_code) == (403, 404)


def test_lists_never_leak_the_other_tenant(world, alice):
    client = client_for(alice)
    for url in (
        "/api/v1/registrations/?search=Globex",
        "/api/v1/registrations/?ordering=-customer_name&page_size=200",
        "/api/v1/notifications/",
        "/api/v1/accruals/",
        "/api/v1/reports/payouts.csv?status=pending,approved,paid",
        f"/api/v1/registrations/{world['own']['registration']}/comments/",
        f"/api/v1/registrations/{world['own']['registration']}/history/",
        f"/api/v1/registrations/{world['own']['registration']}/attachments/",
    ):
        response = client.get(url)
        assert response.status_code == 200
        text = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        assert "B-CANARY" not in text and "Bravo" not in text and "bob@" not in text, url
    assert timezone.now()


def test_iso01_custom_values_of_another_partner_are_never_reachable(world, alice, bob):
    """Partner B's custom field (another tier) and its value on B's registration: A's member
    finds neither through the field list, the field routes, the registration, the list filter
    or the CSV export, while B reads and filters by it."""
    client = client_for(alice)
    foreign = world["foreign"]
    fields = client.get("/api/v1/registration-fields/")
    assert fields.status_code == 200
    assert "b_secret" not in {f["key"] for f in fields.json()}
    assert "a_budget" in {f["key"] for f in fields.json()}
    detail = client.get(f"/api/v1/registrations/{foreign['custom_registration']}/")
    assert detail.status_code == 404 and b"B-CANARY" not in detail.content
    probe = client.get("/api/v1/registrations/?custom.b_secret=B-CANARY%20value")
    assert probe.status_code == 400
    assert probe.json()["fields"] == {"custom.b_secret": ["Unknown field."]}
    assert b"B-CANARY" not in probe.content
    listed = client.get("/api/v1/registrations/?page_size=200")
    assert b"B-CANARY" not in listed.content
    export = client.get("/api/v1/reports/registrations.csv")
    assert export.status_code == 200
    body = b"".join(export.streaming_content)
    assert b"B-CANARY" not in body and b"custom.b_secret" not in body
    assert b"custom.a_budget" in body
    own = client_for(bob).get("/api/v1/registrations/?custom.b_secret=B-CANARY%20value")
    assert own.status_code == 200
    assert [r["id"] for r in own.json()["results"]] == [foreign["custom_registration"]]
    assert own.json()["results"][0]["custom"] == {"b_secret": "B-CANARY value"}
