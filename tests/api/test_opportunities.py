"""Direct opportunities: CRUD, bulk upsert (all or nothing), CSV import (FUZZ-04)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from deals.models import DirectOpportunity
from deals.opportunities.csv_import import opportunities_import_csv
from prm.exceptions import ValidationFailed
from tests import factories
from tests.api.conftest import changed_tables, hash_all_tables

URL = "/api/v1/opportunities/"


def row(n, **overrides):
    data = {
        "external_id": f"CRM-{n}",
        "account_name": f"Account {n} Ltd",
        "account_domain": f"account{n}.example.org",
        "country": "DE",
        "owner_email": "rep@vendor.example",
        "products": ["crm-pro"],
        "amount": "1000.00",
        "currency": "EUR",
        "stage": "discovery",
        "close_date": "2030-01-31",
        "status": "open",
    }
    data.update(overrides)
    return data


def test_crud(as_manager, product):
    created = as_manager.post(URL, row(1), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["amount"] == "1000.00"
    assert body["products"] == ["crm-pro"]
    assert {"id", "created_at", "updated_at"} <= set(body)
    upsert = as_manager.post(URL, row(1, amount="2000.00"), format="json")
    assert upsert.status_code == 200
    assert DirectOpportunity.objects.count() == 1
    detail = f"{URL}{body['id']}/"
    assert as_manager.get(detail).json()["amount"] == "2000.00"
    patched = as_manager.patch(detail, {"status": "won"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["status"] == "won"
    assert patched.json()["won_at"] is not None
    assert as_manager.patch(detail, {"country": "QQ"}, format="json").status_code == 400
    assert as_manager.delete(detail).status_code == 204
    assert not DirectOpportunity.objects.exists()
    assert as_manager.get(detail).status_code == 404


def test_empty_domain_and_owner_are_fine(as_manager, product):
    response = as_manager.post(URL, row(2, account_domain="", owner_email=""), format="json")
    assert response.status_code == 201


def test_list_filters(as_manager, product):
    factories.make_opportunity(
        external_id="SF-1", account_name="Hooli", owner_email="a@vendor.example", country="US"
    )
    factories.make_opportunity(
        external_id="SF-2",
        account_name="Pied Piper",
        owner_email="b@vendor.example",
        country="DE",
        status="won",
    )
    ids = lambda **p: [o["external_id"] for o in as_manager.get(URL, p).json()["results"]]  # noqa: E731
    assert ids(status="won") == ["SF-2"]
    assert ids(owner_email="A@vendor.example") == ["SF-1"]
    assert ids(external_id="SF-1") == ["SF-1"]
    assert ids(country="de") == ["SF-2"]
    assert ids(search="piper") == ["SF-2"]
    assert ids(ordering="external_id") == ["SF-1", "SF-2"]
    assert as_manager.get(URL, {"ordering": "owner_email"}).status_code == 400


def test_partners_get_403_on_collections_and_404_on_objects(as_alice, product):
    opportunity = factories.make_opportunity()
    assert as_alice.get(URL).status_code == 403
    assert as_alice.post(URL, row(3), format="json").status_code == 403
    assert (
        as_alice.post(f"{URL}bulk/", {"opportunities": [row(4)]}, format="json").status_code == 403
    )
    for method in ("get", "patch", "delete"):
        foreign = getattr(as_alice, method)(f"{URL}{opportunity.pk}/", {}, format="json")
        missing = getattr(as_alice, method)(f"{URL}99999999/", {}, format="json")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.content == missing.content


def test_bulk_upsert(as_manager, product):
    factories.make_opportunity(external_id="CRM-0")
    response = as_manager.post(
        f"{URL}bulk/", {"opportunities": [row(0), row(1), row(2)]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 1}
    assert DirectOpportunity.objects.count() == 3


def test_bulk_is_all_or_nothing_with_errors_by_index(as_manager, product):
    before = hash_all_tables()
    rows = [row(1), row(2, country="XX"), row(3, amount="-5"), row(1)]
    response = as_manager.post(f"{URL}bulk/", {"opportunities": rows}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert set(body["rows"]) == {"1", "2", "3"}
    assert "country" in body["rows"]["1"]
    assert "amount" in body["rows"]["2"]
    assert "external_id" in body["rows"]["3"]
    assert changed_tables(before, hash_all_tables()) == []


def test_bulk_over_1000_rows_is_400_and_writes_nothing(as_manager, product):
    before = hash_all_tables()
    rows = [row(i) for i in range(1001)]
    response = as_manager.post(f"{URL}bulk/", {"opportunities": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_rows"
    assert changed_tables(before, hash_all_tables()) == []


@pytest.mark.parametrize(
    "body", [{}, {"opportunities": "x"}, {"opportunities": [], "extra": 1}, [1, 2]]
)
def test_bulk_shape_errors(as_manager, db, body):
    assert as_manager.post(f"{URL}bulk/", body, format="json").status_code == 400


HEADER = "external_id,account_name,account_domain,country,owner_email,products,amount,currency,stage,close_date,status\n"


def _csv(text: str | bytes, name="opps.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_csv_import_with_bom_and_products_list(as_manager, product, other_line_product):
    text = (
        "\ufeff"
        + HEADER
        + (
            "CSV-1,Hooli,hooli.com,US,,crm-pro;erp-core,5000.00,USD,,2030-01-01,open\n"
            "CSV-2,Pied Piper,,US,rep@vendor.example,,1.00,USD,negotiation,,won\n"
        )
    )
    response = as_manager.post(f"{URL}import/", {"file": _csv(text)}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 0}
    hooli = DirectOpportunity.objects.get(external_id="CSV-1")
    assert sorted(p.code for p in hooli.products.all()) == ["crm-pro", "erp-core"]
    again = as_manager.post(f"{URL}import/", {"file": _csv(text)}, format="multipart")
    assert again.json() == {"created": 0, "updated": 2}


@pytest.mark.parametrize(
    "content,expect",
    [
        ((HEADER + "CSV-1,Hooli,,US,,crm-pro,5000,USD,,,open\n").encode("utf-16"), "UTF-8"),
        (
            (HEADER + "CSV-1,Hooli,,US,,crm-pro,5000,USD,,,open\n").encode("latin-1")
            + "Zürich".encode("latin-1"),
            "UTF-8",
        ),
        ((HEADER + "CSV-1,Hoo\x00li,,US,,crm-pro,5000,USD,,,open\n").encode(), "NUL"),
        (b"", "empty"),
        (b"foo,bar\n1,2\n", "Unknown column"),
        ((HEADER.replace("currency,", "")).encode(), "Missing column"),
    ],
)
def test_csv_file_errors_are_400_and_write_nothing(as_manager, product, content, expect):
    before = hash_all_tables()
    response = as_manager.post(f"{URL}import/", {"file": _csv(content)}, format="multipart")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert expect in " ".join(body["fields"]["file"])
    assert changed_tables(before, hash_all_tables()) == []


def test_csv_over_5_mb_is_400(as_manager, product):
    line = "CSV-{n},Account {n},,US,,crm-pro,5000,USD,,,open\n"
    text = HEADER + "".join(line.format(n=i) for i in range(120_000))
    assert len(text.encode()) > 5 * 1024 * 1024
    response = as_manager.post(f"{URL}import/", {"file": _csv(text)}, format="multipart")
    assert response.status_code == 400
    assert "larger than 5 MB" in response.json()["fields"]["file"][0]
    assert not DirectOpportunity.objects.exists()


def test_csv_row_errors_are_keyed_by_index(as_manager, product):
    text = HEADER + (
        "CSV-1,Hooli,,US,,crm-pro,5000,USD,,,open\n"
        "CSV-2,,,US,,crm-pro,5000,USD,,,open\n"
        "CSV-3,Initech,,US,,crm-pro,5000,USD,,not-a-date,open\n"
        "CSV-4,Too,Few\n"
    )
    response = as_manager.post(f"{URL}import/", {"file": _csv(text)}, format="multipart")
    assert response.status_code == 400
    assert set(response.json()["rows"]) == {"3"}
    fixed = text.replace("CSV-4,Too,Few\n", "")
    response = as_manager.post(f"{URL}import/", {"file": _csv(fixed)}, format="multipart")
    assert set(response.json()["rows"]) == {"1", "2"}
    assert "account_name" in response.json()["rows"]["1"]
    assert "close_date" in response.json()["rows"]["2"]
    assert not DirectOpportunity.objects.exists()


def test_csv_import_function_for_the_admin(product):
    """The admin calls the same function with a plain file object."""
    result = opportunities_import_csv(
        io.BytesIO((HEADER + "CSV-9,Hooli,,US,,crm-pro,5000,USD,,,open\n").encode())
    )
    assert result == {"created": 1, "updated": 0}
    with pytest.raises(ValidationFailed) as excinfo:
        opportunities_import_csv(io.BytesIO(b"\x00"))
    assert excinfo.value.extra["rows"] == {}


@override_settings(CSV_IMPORT_MAX_ROWS=2)
def test_csv_row_cap(as_manager, product):
    text = HEADER + "".join(f"C-{i},Acc {i},,US,,crm-pro,5000,USD,,,open\n" for i in range(3))
    response = as_manager.post(f"{URL}import/", {"file": _csv(text)}, format="multipart")
    assert response.status_code == 400
    assert not DirectOpportunity.objects.exists()


def test_import_without_file_and_as_json(as_manager, db):
    assert as_manager.post(f"{URL}import/", {}, format="multipart").status_code == 400
    assert as_manager.post(f"{URL}import/", {"file": "x"}, format="json").status_code == 415
