"""FUZZ-04: size limits hold (page size, bodies, bulk rows, CSV files)."""

from __future__ import annotations

from tests import factories


def test_page_size_is_capped_at_200(as_manager, alice, product):
    from deals.models import Notification

    manager_user = as_manager.get("/api/v1/me/").json()["id"]
    Notification.objects.bulk_create(
        Notification(
            recipient_id=manager_user,
            kind="approved",
            channel="in_app",
            dedupe_key=f"lim:{i}",
            title="t",
        )
        for i in range(205)
    )
    body = as_manager.get("/api/v1/notifications/", {"page_size": 10**9}).json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["next"] is not None


def test_odd_paging_parameters_never_500(as_alice, alice, product):
    factories.make_registration(alice)
    for params in (
        {"page_size": "-1"},
        {"page_size": "abc"},
        {"page_size": "1e9"},
        {"page": "0"},
        {"page": "999"},
        {"page": "x"},
    ):
        response = as_alice.get("/api/v1/registrations/", params)
        assert response.status_code in (200, 404), (params, response.content)
        assert response["Content-Type"] == "application/json"


def test_body_larger_than_the_upload_limit_is_400_json(as_alice, settings, product):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = as_alice.post(
        "/api/v1/registrations/",
        {**factories.registration_data(), "description": "x" * 5000},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


def test_huge_ids_and_strings_are_404_or_400(as_alice, db):
    assert as_alice.get(f"/api/v1/registrations/{10**30}/").status_code == 404
    response = as_alice.post(
        "/api/v1/conflict-check/",
        {"customer_name": "x" * 10_000, "customer_country": "US"},
        format="json",
    )
    assert response.status_code == 400
