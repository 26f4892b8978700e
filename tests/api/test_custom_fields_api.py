"""The custom registration fields through the API (docs/api.md "Custom fields"):
GET|POST /api/v1/registration-fields/, PATCH|DELETE /api/v1/registration-fields/{key}/, the
`custom` object on registrations with its 400s, the `?custom.<key>=` filter, the CSV columns,
the program's required fields, and the list's constant query count."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals import customfields
from deals.models import DealRegistration, RegistrationField
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def silver_bob(partner_b, bob):
    partner_b.tier = factories.default_tier("silver")
    partner_b.save(update_fields=["tier"])
    return bob


@pytest.fixture
def fields(manager, product):
    """A required choice field for gold partners, an optional multi-choice for everyone, a
    yes/no field for silver partners."""
    customfields.field_create(
        actor=manager,
        data={
            "key": "segment",
            "label": "Customer segment",
            "type": "choice",
            "choices": ["SMB", "Enterprise"],
            "required": True,
            "tiers": ["gold"],
            "help": "The customer's size.",
        },
    )
    customfields.field_create(
        actor=manager,
        data={
            "key": "modules",
            "label": "Modules",
            "type": "multi_choice",
            "choices": ["billing", "crm", "hr"],
            "order": 2,
        },
    )
    customfields.field_create(
        actor=manager,
        data={"key": "budget", "label": "Budget confirmed", "type": "boolean", "tiers": ["silver"]},
    )


def _create(client, **overrides):
    return client.post(
        "/api/v1/registrations/", factories.registration_data(**overrides), format="json"
    )


def test_each_caller_lists_the_fields_of_their_tier_and_managers_all(
    fields, alice, silver_bob, manager
):
    gold = client_for(alice).get("/api/v1/registration-fields/").json()
    assert gold == [
        {
            "key": "segment",
            "label": "Customer segment",
            "type": "choice",
            "required": True,
            "choices": ["SMB", "Enterprise"],
            "help": "The customer's size.",
            "order": 0,
            "product_lines": [],
        },
        {
            "key": "modules",
            "label": "Modules",
            "type": "multi_choice",
            "required": False,
            "choices": ["billing", "crm", "hr"],
            "help": "",
            "order": 2,
            "product_lines": [],
        },
    ]
    silver = client_for(silver_bob).get("/api/v1/registration-fields/").json()
    assert [f["key"] for f in silver] == ["budget", "modules"]
    assert silver[0]["choices"] is None
    everything = client_for(manager).get("/api/v1/registration-fields/").json()
    assert [f["key"] for f in everything] == ["budget", "segment", "modules"]
    assert everything[1]["tiers"] == ["gold"]


def test_a_manager_creates_changes_and_deletes_a_field(manager, product):
    client = client_for(manager)
    created = client.post(
        "/api/v1/registration-fields/",
        {"key": "kickoff", "label": "Kick-off date", "type": "date", "product_lines": ["crm"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["product_lines"] == ["crm"]
    assert created.json()["choices"] is None
    changed = client.patch(
        "/api/v1/registration-fields/kickoff/", {"required": True}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["required"] is True
    assert customfields.form_current().version == 2
    refused = client.patch("/api/v1/registration-fields/kickoff/", {"type": "text"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"type": ["This field cannot be set."]}
    deleted = client.delete("/api/v1/registration-fields/kickoff/")
    assert deleted.status_code == 204
    assert not RegistrationField.objects.get(key="kickoff").active
    assert client.get("/api/v1/registration-fields/").json() == []
    assert client.delete("/api/v1/registration-fields/kickoff/").status_code == 404


def test_bad_definitions_answer_400_and_change_nothing(manager):
    client = client_for(manager)
    for body in (
        {"key": "x", "label": "X", "type": "choice"},
        {"key": "9x", "label": "X", "type": "text"},
        {"key": "x", "label": "X", "type": "text", "choices": ["a"]},
        {"key": "x", "label": "X", "type": "blob"},
        {"key": "x", "label": "X", "type": "text", "tiers": "gold"},
    ):
        response = client.post("/api/v1/registration-fields/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "validation_error"
    assert not RegistrationField.objects.exists()


def test_partners_cannot_write_fields_nor_learn_which_keys_exist(fields, alice):
    client = client_for(alice)
    created = client.post(
        "/api/v1/registration-fields/", {"key": "x", "label": "X", "type": "text"}, format="json"
    )
    assert created.status_code == 403
    existing = client.patch("/api/v1/registration-fields/segment/", {"label": "Y"}, format="json")
    missing = client.patch("/api/v1/registration-fields/nothing/", {"label": "Y"}, format="json")
    assert existing.status_code == missing.status_code == 404
    assert existing.content == missing.content
    assert RegistrationField.objects.get(key="segment").label == "Customer segment"


def test_registrations_accept_and_return_custom_values(fields, alice):
    client = client_for(alice)
    response = _create(client, custom={"segment": "SMB", "modules": ["hr", "crm"]})
    assert response.status_code == 201, response.content
    assert response.json()["custom"] == {"segment": "SMB", "modules": ["crm", "hr"]}
    detail = client.get(f"/api/v1/registrations/{response.json()['id']}/").json()
    assert detail["custom"] == {"segment": "SMB", "modules": ["crm", "hr"]}


@pytest.mark.parametrize(
    "custom,errors",
    [
        ({"segment": "SMB", "colour": "red"}, {"custom.colour": ["Unknown field."]}),
        ({"segment": 5}, {"custom.segment": ["Choose one of: SMB, Enterprise."]}),
        ({"segment": "Huge"}, {"custom.segment": ["Choose one of: SMB, Enterprise."]}),
        ({"segment": "SMB", "modules": "crm"}, {"custom.modules": ["Choose any of: billing, crm, hr."]}),
        ({"modules": ["crm"]}, {"custom.segment": ["This field is required."]}),
        ({"segment": "SMB", "budget": True}, {"custom.budget": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_custom_values_answer_400_under_custom_key_and_create_nothing(
    fields, alice, custom, errors
):
    response = _create(client_for(alice), custom=custom)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert response.json()["fields"] == errors
    assert not DealRegistration.objects.exists()


def test_custom_must_be_an_object(fields, alice):
    response = _create(client_for(alice), custom=["segment"])
    assert response.status_code == 400
    assert "custom" in response.json()["fields"]


def test_patch_changes_only_the_keys_sent(fields, alice):
    client = client_for(alice)
    draft = _create(client, draft=True, custom={"segment": "SMB", "modules": ["crm"]}).json()
    patched = client.patch(
        f"/api/v1/registrations/{draft['id']}/", {"custom": {"modules": None}}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["custom"] == {"segment": "SMB"}
    refused = client.patch(
        f"/api/v1/registrations/{draft['id']}/", {"custom": {"segment": "Nope"}}, format="json"
    )
    assert refused.status_code == 400
    assert client.get(f"/api/v1/registrations/{draft['id']}/").json()["custom"] == {
        "segment": "SMB"
    }


def test_the_list_filters_by_a_custom_choice_yes_no_and_multi_choice(fields, alice, silver_bob):
    client = client_for(alice)
    smb = _create(client, custom={"segment": "SMB", "modules": ["crm", "hr"]}).json()
    big = _create(client, custom={"segment": "Enterprise", "modules": ["billing"]}).json()

    def ids(query):
        response = client.get(f"/api/v1/registrations/?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("custom.segment=SMB") == [smb["id"]]
    assert ids("custom.segment=Enterprise") == [big["id"]]
    assert ids("custom.modules=hr") == [smb["id"]]
    assert ids("custom.modules=crm&custom.segment=Enterprise") == []
    unknown = client.get("/api/v1/registrations/?custom.colour=red")
    assert unknown.status_code == 400
    assert unknown.json()["fields"] == {"custom.colour": ["Unknown field."]}
    bob = client_for(silver_bob)
    yes = _create(bob, custom={"budget": True}).json()
    _create(bob, custom={"budget": False})
    listed = bob.get("/api/v1/registrations/?custom.budget=true").json()["results"]
    assert [r["id"] for r in listed] == [yes["id"]]
    assert bob.get("/api/v1/registrations/?custom.budget=maybe").status_code == 400


def test_a_manager_filters_by_a_deleted_field(fields, alice, manager):
    registration = _create(client_for(alice), custom={"segment": "SMB"}).json()
    customfields.field_deactivate(actor=manager, field=customfields.field_get("segment"))
    response = client_for(manager).get("/api/v1/registrations/?custom.segment=SMB")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [registration["id"]]


def test_the_filtered_list_runs_a_constant_number_of_queries(fields, alice, manager):
    client = client_for(manager)
    for _ in range(2):
        _create(client_for(alice), custom={"segment": "SMB", "modules": ["crm"]})
    client.get("/api/v1/registrations/?custom.segment=SMB")  # warm the caches

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/registrations/?custom.segment=SMB&custom.modules=crm")
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    few = count()
    for _ in range(5):
        _create(client_for(alice), custom={"segment": "SMB", "modules": ["crm"]})
    many = count()
    assert (few[1], many[1]) == (2, 7)
    assert many[0] == few[0]


def test_the_csv_export_has_a_column_per_custom_field(fields, alice, manager):
    _create(client_for(alice), custom={"segment": "SMB", "modules": ["crm", "hr"]})
    response = client_for(manager).get("/api/v1/reports/registrations.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = rows[0], rows[1]
    assert header[-3:] == ["custom.budget", "custom.segment", "custom.modules"]
    assert row[-3:] == ["", "SMB", "crm; hr"]


def test_program_rules_list_the_required_custom_fields(fields, alice, silver_bob):
    gold = client_for(alice).get("/api/v1/program/").json()
    assert "custom.segment" in gold["required_fields"]
    silver = client_for(silver_bob).get("/api/v1/program/").json()
    assert "custom.segment" not in silver["required_fields"]


def test_the_schema_documents_the_field_operations():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert set(paths["/api/v1/registration-fields/"]) >= {"get", "post"}
    detail = paths["/api/v1/registration-fields/{key}/"]
    assert set(detail) >= {"patch", "delete"}
    assert "204" in detail["delete"]["responses"] and "404" in detail["patch"]["responses"]
    registration = schema["components"]["schemas"]["Registration"]
    assert "custom" in registration["properties"]
    assert "custom" in registration["required"]
