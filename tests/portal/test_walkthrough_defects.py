"""Issue 18 §6: defects a first walk through the portal found (one test per defect)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


# --- 6. A partner's draft is their private work ---------------------------------------------------


@pytest.fixture
def alice_draft(alice, product):
    return factories.make_registration(
        alice, status="draft", customer_name="Secret Draft Industries"
    )


def test_draft_is_not_on_managers_partner_page(manager_client, alice_draft):
    response = manager_client.get(reverse("manage_partner_detail", args=[alice_draft.partner_id]))
    assert response.status_code == 200
    assert "Secret Draft Industries" not in response.content.decode()


def test_draft_is_404_to_a_manager(manager_client, alice_draft):
    response = manager_client.get(reverse("manage_registration", args=[alice_draft.pk]))
    assert response.status_code == 404


def test_draft_is_not_in_managers_api(manager, alice_draft):
    api = client_for(manager)
    listing = api.get("/api/v1/registrations/").json()
    assert alice_draft.pk not in [r["id"] for r in listing["results"]]
    assert api.get(f"/api/v1/registrations/{alice_draft.pk}/").status_code == 404
    assert (
        api.get(f"/api/v1/registrations/?partner={alice_draft.partner_id}").json()["results"] == []
    )


def test_draft_is_still_visible_to_its_partner(alice, alice_draft):
    api = client_for(alice)
    assert api.get(f"/api/v1/registrations/{alice_draft.pk}/").status_code == 200


def test_draft_is_not_in_managers_csv_export(manager, alice_draft):
    response = client_for(manager).get("/api/v1/reports/registrations.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert "Secret Draft Industries" not in body.decode("utf-8-sig")
