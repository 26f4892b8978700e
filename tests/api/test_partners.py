"""/me, partners (+ users), tiers."""

from __future__ import annotations

from django.core import mail

from partners.models import ApiToken, Invitation, Partner, Tier, User
from tests import factories
from tests.api.conftest import changed_tables, client_for, hash_all_tables


def test_me_for_each_role(as_alice, as_alice_admin, as_manager, alice, manager):
    assert as_alice.get("/api/v1/me/").json() == {
        "id": alice.pk,
        "email": alice.email,
        "name": alice.name,
        "role": "partner",
        "partner": {"id": alice.membership.partner_id, "name": "Acme Resellers"},
    }
    assert as_alice_admin.get("/api/v1/me/").json()["role"] == "partner_admin"
    body = as_manager.get("/api/v1/me/").json()
    assert body["role"] == "manager"
    assert body["partner"] is None


def test_tiers_show_effective_values(as_alice, db):
    Tier.objects.filter(code="platinum").update(protection_days=180, max_extensions=3)
    body = as_alice.get("/api/v1/tiers/").json()
    assert isinstance(body, list)  # docs/api.md: GET /tiers/ → [{...}]
    tiers = {t["code"]: t for t in body}
    assert {"registered", "silver", "gold", "platinum"} <= set(tiers)
    assert tiers["gold"]["protection_days"] == 90
    assert tiers["gold"]["max_extensions"] == 1
    assert tiers["platinum"]["protection_days"] == 180
    assert tiers["platinum"]["max_extensions"] == 3
    assert set(tiers["gold"]) == {
        "code",
        "name",
        "protection_days",
        "max_extensions",
        "auto_approve_ceiling",
        "discount_percent",
    }


def test_manager_creates_lists_and_updates_partners(as_manager, partner_a):
    response = as_manager.post(
        "/api/v1/partners/",
        {
            "name": "Delta Distribution",
            "domains": ["https://www.delta-dist.example.com/"],
            "country": "de",
            "tier": "silver",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tier"] == "silver"
    assert body["country"] == "DE"
    assert body["status"] == "active"
    assert {"id", "name", "domains", "country", "tier", "status"} <= set(body)
    listed = as_manager.get("/api/v1/partners/", {"search": "delta"}).json()
    assert [p["id"] for p in listed["results"]] == [body["id"]]
    patched = as_manager.patch(
        f"/api/v1/partners/{body['id']}/", {"tier": "gold", "status": "suspended"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["tier"] == "gold"
    assert patched.json()["status"] == "suspended"


def test_partner_validation(as_manager, partner_a):
    before = hash_all_tables()
    for data, field in [
        ({"name": "Acme Resellers", "country": "US", "tier": "gold"}, "name"),
        ({"name": "X", "country": "XX", "tier": "gold"}, "country"),
        ({"name": "X", "country": "US", "tier": "diamond"}, "tier"),
        # Checked as text before the lookup: PostgreSQL refuses NUL in a query (was a 500).
        ({"name": "X", "country": "US", "tier": "go\x00ld"}, "tier"),
        ({"name": "X", "country": "US", "tier": 7}, "tier"),
        ({"name": "X", "country": "US", "tier": "gold", "domains": ["not a domain"]}, "domains"),
        ({"name": "X", "country": "US", "tier": "gold", "status": "active"}, "status"),
    ]:
        response = as_manager.post("/api/v1/partners/", data, format="json")
        assert response.status_code == 400, (data, response.content)
        assert field in response.json()["fields"]
    assert changed_tables(before, hash_all_tables()) == []


def test_partner_roles(as_alice, as_alice_admin, as_bob, partner_a, partner_b):
    assert as_alice.get("/api/v1/partners/").status_code == 403
    own_list = as_alice_admin.get("/api/v1/partners/")
    assert own_list.status_code == 200
    assert [p["id"] for p in own_list.json()["results"]] == [partner_a.pk]
    assert as_alice_admin.get(f"/api/v1/partners/{partner_a.pk}/").status_code == 200
    assert as_alice.get(f"/api/v1/partners/{partner_a.pk}/").status_code == 403
    assert (
        as_alice_admin.patch(
            f"/api/v1/partners/{partner_a.pk}/", {"name": "Mine"}, format="json"
        ).status_code
        == 403
    )
    foreign = as_alice_admin.get(f"/api/v1/partners/{partner_b.pk}/")
    missing = as_alice_admin.get("/api/v1/partners/99999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


def test_partner_admin_invites_a_user(
    as_alice_admin, partner_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_alice_admin.post(
            f"/api/v1/partners/{partner_a.pk}/users/",
            {"email": "new@acme-resellers.example", "name": "New Person"},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "member"
    assert body["is_active"] is True
    user = User.objects.get(email="new@acme-resellers.example")
    assert not user.has_usable_password()
    assert Invitation.objects.filter(user=user, partner=partner_a).exists()
    assert len(mail.outbox) == 1
    assert "new@acme-resellers.example" in mail.outbox[0].to
    listed = as_alice_admin.get(f"/api/v1/partners/{partner_a.pk}/users/").json()
    assert "new@acme-resellers.example" in [u["email"] for u in listed["results"]]


def test_manager_creates_user_with_password(as_manager, partner_a):
    response = as_manager.post(
        f"/api/v1/partners/{partner_a.pk}/users/",
        {
            "email": "pw@acme-resellers.example",
            "role": "admin",
            "password": "a-long-enough-passphrase-9",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["role"] == "admin"
    assert "password" not in response.json()
    assert User.objects.get(email="pw@acme-resellers.example").check_password(
        "a-long-enough-passphrase-9"
    )
    weak = as_manager.post(
        f"/api/v1/partners/{partner_a.pk}/users/",
        {"email": "weak@acme-resellers.example", "password": "123"},
        format="json",
    )
    assert weak.status_code == 400
    assert "password" in weak.json()["fields"]
    duplicate = as_manager.post(
        f"/api/v1/partners/{partner_a.pk}/users/",
        {"email": "PW@acme-resellers.example"},
        format="json",
    )
    assert duplicate.status_code == 400


def test_deactivate_user(as_alice_admin, alice, alice_admin, bob, partner_a, partner_b):
    client = client_for(alice)
    response = as_alice_admin.delete(f"/api/v1/partners/{partner_a.pk}/users/{alice.pk}/")
    assert response.status_code == 204
    assert not User.objects.get(pk=alice.pk).is_active
    assert client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert (
        as_alice_admin.delete(
            f"/api/v1/partners/{partner_a.pk}/users/{alice_admin.pk}/"
        ).status_code
        == 409
    )
    # Bob is not a user of partner A; partner B is not visible.
    assert (
        as_alice_admin.delete(f"/api/v1/partners/{partner_a.pk}/users/{bob.pk}/").status_code == 404
    )
    assert (
        as_alice_admin.delete(f"/api/v1/partners/{partner_b.pk}/users/{bob.pk}/").status_code == 404
    )
    assert User.objects.get(pk=bob.pk).is_active


def test_member_cannot_manage_users(as_alice, alice_admin, partner_a):
    assert as_alice.get(f"/api/v1/partners/{partner_a.pk}/users/").status_code == 403
    response = as_alice.post(
        f"/api/v1/partners/{partner_a.pk}/users/",
        {"email": "x@acme-resellers.example"},
        format="json",
    )
    assert response.status_code == 403
    assert (
        as_alice.delete(f"/api/v1/partners/{partner_a.pk}/users/{alice_admin.pk}/").status_code
        == 403
    )
    assert not User.objects.filter(email="x@acme-resellers.example").exists()


def test_suspension_by_manager_cuts_tokens(as_manager, alice, partner_a):
    client = client_for(alice)
    as_manager.patch(f"/api/v1/partners/{partner_a.pk}/", {"status": "suspended"}, format="json")
    assert Partner.objects.get(pk=partner_a.pk).status == "suspended"
    assert client.get("/api/v1/me/").status_code == 401


def test_products(as_alice, as_manager, product):
    factories.ProductFactory(code="old", active=False)
    body = as_alice.get("/api/v1/products/").json()
    assert body == [
        {
            "code": "crm-pro",
            "name": "CRM Pro",
            "product_line": "crm",
            "product_line_name": "Crm",
            "active": True,
        }
    ]
    assert (
        as_alice.post(
            "/api/v1/products/", {"code": "x", "name": "X", "product_line": "crm"}, format="json"
        ).status_code
        == 403
    )
    created = as_manager.post(
        "/api/v1/products/",
        {"code": "bi-suite", "name": "BI Suite", "product_line": "analytics"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["product_line"] == "analytics"
    duplicate = as_manager.post(
        "/api/v1/products/",
        {"code": "bi-suite", "name": "Again", "product_line": "analytics"},
        format="json",
    )
    assert duplicate.status_code == 400
    assert "code" in duplicate.json()["fields"]
    assert (
        as_manager.post(
            "/api/v1/products/",
            {"code": "bad code!", "name": "X", "product_line": "a"},
            format="json",
        ).status_code
        == 400
    )
