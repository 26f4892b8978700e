"""GET /registrations/{id}/history/: partners never see internal events or details."""

from __future__ import annotations

from conflicts.models import Conflict
from deals.registrations import services
from deals.registrations.collaboration import comment_create
from tests import factories


def hurl(registration):
    return f"/api/v1/registrations/{registration.pk}/history/"


def test_history_for_partner_and_manager(
    as_alice, as_bob, as_manager, alice, bob, manager, product
):
    factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk)
    comment_create(registration=second, actor=manager, body="INTERNAL-CANARY", internal=True)
    services.conflict_resolve(
        conflict=conflict, actor=manager, resolution="first_registration_wins", note="first wins"
    )

    manager_view = as_manager.get(hurl(second)).json()
    assert isinstance(manager_view, list)  # docs/api.md: history is an array
    actions = [e["action"] for e in manager_view]
    assert {
        "created",
        "submitted",
        "conflict_detected",
        "internal_note",
        "conflict_resolved",
        "rejected",
    } <= set(actions)
    assert set(manager_view[0]) == {
        "at",
        "actor",
        "action",
        "from_status",
        "to_status",
        "details",
    }

    partner_view = as_bob.get(hurl(second))
    assert partner_view.status_code == 200
    partner_actions = [e["action"] for e in partner_view.json()]
    assert "conflict_detected" not in partner_actions
    assert "internal_note" not in partner_actions
    assert "conflict_resolved" not in partner_actions
    assert "rejected" in partner_actions
    text = partner_view.content.decode()
    assert "INTERNAL-CANARY" not in text
    assert '"conflict":' not in text and "matches" not in text and "Acme" not in text
    assert as_alice.get(hurl(second)).status_code == 404
