"""Registrations: create, list, detail, PATCH; representations (ISO-05, ISO-06)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from deals.api.serializers import MANAGER_REGISTRATION_FIELDS, PARTNER_REGISTRATION_FIELDS
from deals.models import DealRegistration, RegistrationEvent
from tests import factories
from tests.api.conftest import changed_tables, hash_all_tables

URL = "/api/v1/registrations/"

# ISO-06 snapshot: the keys a partner may see, and no more.
PARTNER_KEYS_SNAPSHOT = {
    "id", "reference", "status", "conflict_status", "conflict_message", "partner",
    "submitted_by", "customer_name", "customer_domain", "customer_country", "customer_address",
    "contact_name", "contact_email", "contact_phone", "products", "estimated_value", "currency",
    "expected_close_date", "stage", "description", "competitors", "submitted_at", "decided_at",
    "approved_at", "expires_at", "revoked_at", "extensions_used", "rejection_reason", "decision_note",
    "outcome", "actual_value", "close_date", "lost_reason", "created_at", "updated_at",
    # issue 19: the benefit frozen at approval and when the win was verified
    "benefit", "win_verified_at",
    # issue 17 §3: the partner-side owner
    "owner",
    # issue 17 §1: the custom field values (API.md "Custom fields and attachments")
    "custom",
}  # fmt: skip


def test_partner_allow_list_matches_the_snapshot():
    assert set(PARTNER_REGISTRATION_FIELDS) == PARTNER_KEYS_SNAPSHOT


def test_create_submits_and_answers_the_partner_representation(as_alice, alice, product):
    data = factories.registration_data(
        customer_name="Globex Corporation", customer_domain="globex.com"
    )
    response = as_alice.post(URL, data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PARTNER_KEYS_SNAPSHOT
    assert body["status"] == "submitted"
    assert body["conflict_status"] == "clear"
    assert body["estimated_value"] == "125000.00"
    assert body["products"] == ["crm-pro"]
    assert body["partner"] == {"id": alice.membership.partner_id, "name": "Acme Resellers"}
    assert body["submitted_by"] == alice.email
    assert body["reference"].startswith("DR-")
    assert DealRegistration.objects.get(pk=body["id"]).status == "submitted"


def test_create_as_draft(as_alice, product):
    response = as_alice.post(URL, {**factories.registration_data(), "draft": True}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert response.json()["conflict_status"] is None


def _invalid_cases():
    past = (timezone.now().date() - dt.timedelta(days=3)).isoformat()
    return {
        "below_minimum": ({"estimated_value": "10.00"}, "estimated_value"),
        "missing_name": ({"customer_name": ""}, "customer_name"),
        "unknown_product": ({"products": ["no-such-product"]}, "products"),
        "past_close": ({"expected_close_date": past}, "expected_close_date"),
        "bad_country": ({"customer_country": "XX"}, "customer_country"),
        "bad_currency": ({"currency": "ZZZ"}, "currency"),
        "bad_money": ({"estimated_value": "12.345"}, "estimated_value"),
        "bad_stage": ({"stage": "closing"}, "stage"),
        "bad_domain": ({"customer_domain": "not a domain"}, "customer_domain"),
    }


@pytest.mark.parametrize("case", list(_invalid_cases()))
def test_validation_errors_are_400_and_write_nothing(as_alice, product, case):
    overrides, field = _invalid_cases()[case]
    before = hash_all_tables()
    response = as_alice.post(URL, factories.registration_data(**overrides), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"]
    assert changed_tables(before, hash_all_tables()) == []


def test_missing_required_fields_are_listed(as_alice, db):
    response = as_alice.post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"customer_name", "customer_country", "estimated_value"} <= set(
        response.json()["fields"]
    )


def test_duplicate_of_own_active_registration_is_409_with_existing_id(as_alice, alice, product):
    first = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    before = DealRegistration.objects.count()
    response = as_alice.post(
        URL,
        factories.registration_data(customer_name="Initech Inc.", customer_domain="initech.com"),
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_registration"
    assert response.json()["existing_id"] == first.pk
    assert DealRegistration.objects.count() == before


def test_manager_cannot_create(as_manager, product):
    response = as_manager.post(URL, factories.registration_data(), format="json")
    assert response.status_code == 403
    assert not DealRegistration.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [
        ("status", "approved"),
        ("partner", 999),
        ("conflict_status", "clear"),
        ("approved_at", "2030-01-01T00:00:00Z"),
        ("expires_at", "2030-01-01T00:00:00Z"),
        ("extensions_used", 5),
        ("submitted_by", "mallory@example.com"),
        ("decided_at", "2030-01-01T00:00:00Z"),
        ("internal", True),
        ("reference", "DR-1999-000001"),
    ],
)
def test_iso05_server_owned_fields_are_refused_on_create_and_patch(
    as_alice, alice, product, field, value
):
    before = hash_all_tables()
    response = as_alice.post(URL, {**factories.registration_data(), field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert changed_tables(before, hash_all_tables()) == []

    draft = factories.make_registration(alice, status="draft")
    before = hash_all_tables()
    response = as_alice.patch(f"{URL}{draft.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert changed_tables(before, hash_all_tables()) == []


def test_iso05_foreign_product_reference_reads_like_a_missing_one(as_alice, product):
    factories.ProductFactory(code="retired", active=False)
    a = as_alice.post(URL, factories.registration_data(products=["retired"]), format="json")
    b = as_alice.post(URL, factories.registration_data(products=["never-existed"]), format="json")
    assert a.status_code == b.status_code == 400
    assert (
        a.json()["fields"]["products"][0].split(":")[0]
        == b.json()["fields"]["products"][0].split(":")[0]
    )


def test_list_shows_only_own_partner(as_alice, alice, bob, product):
    mine = factories.make_registration(alice)
    factories.make_registration(bob)
    body = as_alice.get(URL).json()
    assert body["count"] == 1
    assert [r["id"] for r in body["results"]] == [mine.pk]
    assert set(body) == {"count", "next", "previous", "results"}


def test_list_filters_search_and_ordering(as_alice, alice, product):
    a = factories.make_registration(alice, customer_name="Alpha Widgets", estimated_value="9000.00")
    b = factories.make_registration(alice, customer_name="Beta Gadgets", status="draft")
    c = factories.make_registration(alice, customer_name="Gamma Tools", estimated_value="70000.00")
    ids = lambda r: [x["id"] for x in r.json()["results"]]  # noqa: E731
    assert ids(as_alice.get(URL, {"status": "draft"})) == [b.pk]
    assert set(ids(as_alice.get(URL, {"status": "submitted,draft"}))) == {a.pk, b.pk, c.pk}
    assert ids(as_alice.get(URL, {"search": "beta"})) == [b.pk]
    assert ids(as_alice.get(URL, {"search": a.reference})) == [a.pk]
    assert ids(as_alice.get(URL, {"conflict_status": "clear", "ordering": "estimated_value"})) == [
        a.pk,
        c.pk,
    ]
    assert ids(as_alice.get(URL, {"ordering": "-customer_name"})) == [c.pk, b.pk, a.pk]
    bad = as_alice.get(URL, {"ordering": "partner__name"})
    assert bad.status_code == 400
    assert "ordering" in bad.json()["fields"]
    # Partners cannot order by manager-only fields.
    assert as_alice.get(URL, {"ordering": "sla_due_at"}).status_code == 400


def test_manager_list_filters_by_partner_and_overdue(as_manager, alice, bob, product):
    factories.make_registration(alice)
    theirs = factories.make_registration(bob)
    body = as_manager.get(URL, {"partner": bob.membership.partner_id}).json()
    assert [r["id"] for r in body["results"]] == [theirs.pk]
    assert as_manager.get(URL, {"overdue": "true"}).json()["count"] == 0
    DealRegistration.objects.filter(pk=theirs.pk).update(
        sla_due_at=timezone.now() - dt.timedelta(hours=1)
    )
    overdue = as_manager.get(URL, {"overdue": "true"}).json()
    assert [r["id"] for r in overdue["results"]] == [theirs.pk]
    assert overdue["results"][0]["overdue"] is True


def test_manager_representation_adds_conflicts_and_overdue(as_manager, alice, bob, product):
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    body = as_manager.get(f"{URL}{second.pk}/").json()
    assert set(MANAGER_REGISTRATION_FIELDS) <= set(body)
    assert body["overdue"] is False
    assert len(body["conflicts"]) == 1
    conflict = body["conflicts"][0]
    assert conflict["kind"] == "registration"
    assert "domain" in conflict["reasons"]
    assert set(conflict) == {
        "id",
        "kind",
        "other_id",
        "other_label",
        "score",
        "reasons",
        "status",
        "resolution",
    }


def test_iso06_partner_never_sees_the_other_party(as_bob, alice, bob, product):
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    response = as_bob.get(f"{URL}{second.pk}/")
    body = response.json()
    assert set(body) <= PARTNER_KEYS_SNAPSHOT
    assert body["conflict_status"] == "conflict"
    text = response.content.decode()
    for canary in ("Acme", first.reference, "alice@", "other_label", "conflicts"):
        assert canary not in text


def test_detail_and_foreign_404(as_alice, alice, bob, product):
    mine = factories.make_registration(alice)
    theirs = factories.make_registration(bob)
    assert as_alice.get(f"{URL}{mine.pk}/").status_code == 200
    foreign = as_alice.get(f"{URL}{theirs.pk}/")
    missing = as_alice.get(f"{URL}999999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


def test_patch_draft_by_owner(as_alice, alice, product):
    draft = factories.make_registration(alice, status="draft")
    response = as_alice.patch(
        f"{URL}{draft.pk}/", {"customer_name": "Renamed Ltd", "stage": "negotiation"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["customer_name"] == "Renamed Ltd"
    assert RegistrationEvent.objects.filter(registration=draft, action="edited").count() == 1


def test_patch_outside_editable_status_is_409(as_alice, alice, product):
    submitted = factories.make_registration(alice)
    before = hash_all_tables()
    response = as_alice.patch(f"{URL}{submitted.pk}/", {"customer_name": "X Corp"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert changed_tables(before, hash_all_tables()) == []


def test_patch_validation_error_writes_nothing(as_alice, alice, product):
    draft = factories.make_registration(alice, status="draft")
    before = hash_all_tables()
    response = as_alice.patch(f"{URL}{draft.pk}/", {"customer_country": "ZZ"}, format="json")
    assert response.status_code == 400
    assert changed_tables(before, hash_all_tables()) == []


def test_manager_cannot_patch(as_manager, alice, manager, product):
    awaiting = factories.make_registration(alice, status="info_requested", manager=manager)
    assert (
        as_manager.patch(f"{URL}{awaiting.pk}/", {"customer_name": "Y"}, format="json").status_code
        == 403
    )
    draft = factories.make_registration(alice, status="draft")  # never seen by a manager
    assert (
        as_manager.patch(f"{URL}{draft.pk}/", {"customer_name": "Y"}, format="json").status_code
        == 404
    )


def test_non_json_bodies_are_refused(as_alice, product):
    response = as_alice.post(
        URL, "customer_name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    broken = as_alice.post(URL, "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"
