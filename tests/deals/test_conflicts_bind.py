"""Conflicts that bind both sides (issue 14; PRODUCT.md "Conflicts that bind", API.md v1.1):

- both sides: the earlier registration shows the conflict to managers (representation, list
  filter, conflicts filter, queue, bulk approve, auto-approve);
- enforced protection: approving over an open conflict with another partner's approved
  registration or an open direct opportunity → unresolved_conflict, unless overridden (an event,
  in the history, the audit export and the report);
- resolutions take effect in every state of the losing registration (rejected or revoked),
  on both records, the index, the events, the notifications and the partner's message;
- moot conflicts close by themselves on every exit transition, and cannot be resolved.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conflicts.models import Conflict, IdentityEntry, IgnoredPair
from deals.events import registration_audit
from deals.models import DealRegistration, Notification, RegistrationEvent
from deals.registrations import services
from prm.exceptions import InvalidTransition, StateConflict
from tests import factories
from tests.api.conftest import client_for

NO_CONFLICT_REMAINS = "no conflict remains"


def actions(registration) -> list[str]:
    return list(
        RegistrationEvent.objects.filter(registration_id=registration.pk)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def kinds_for(user) -> set[str]:
    return set(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def indexed(registration) -> bool:
    return IdentityEntry.objects.filter(
        kind="registration", record_id=registration.pk, active=True
    ).exists()


def refreshed(registration) -> DealRegistration:
    return DealRegistration.objects.get(pk=registration.pk)


@pytest.fixture
def rep(db):
    return factories.UserFactory(email="rep@vendor.example", is_staff=True)


def make_pair(alice, bob, manager, *, earlier="submitted", later="submitted"):
    """Alice's earlier registration and Bob's later one for the same customer, in the given
    states, and the conflict Bob's submission raised."""
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    if earlier == "info_requested":
        services.registration_request_info(registration=first, actor=manager, message="Who?")
    if earlier == "approved":
        services.registration_approve(registration=first, actor=manager)
    second = factories.make_registration(
        bob, customer_name="Globex Corp", customer_domain="globex.com"
    )
    conflict = Conflict.objects.get(registration_id=second.pk, other_id=first.pk)
    if later == "info_requested":
        services.registration_request_info(registration=second, actor=manager, message="Who?")
    if later == "approved":
        services.registration_approve(registration=second, actor=manager)
    return refreshed(first), refreshed(second), conflict


def make_direct(bob, manager, *, state="submitted"):
    """Bob's registration against a direct opportunity, with the loser in `state`. An approved
    registration meets the opportunity the realistic way: a late CRM sync."""
    if state == "approved":
        registration = factories.make_registration(
            bob, customer_name="Contoso", customer_domain="contoso.com"
        )
        services.registration_approve(registration=registration, actor=manager)
        opportunity = factories.make_opportunity(
            account_name="Contoso Ltd", account_domain="contoso.com"
        )
    else:
        opportunity = factories.make_opportunity(
            account_name="Contoso Ltd", account_domain="contoso.com"
        )
        registration = factories.make_registration(
            bob, customer_name="Contoso", customer_domain="contoso.com"
        )
        if state == "info_requested":
            services.registration_request_info(
                registration=registration, actor=manager, message="Who?"
            )
    conflict = Conflict.objects.get(registration_id=registration.pk, kind="direct_opportunity")
    return opportunity, refreshed(registration), conflict


# --- 1. Both sides ------------------------------------------------------------------------------


def test_conflict_shows_on_both_registrations_for_managers(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager)
    body = client_for(manager).get(f"/api/v1/registrations/{first.pk}/").json()
    assert body["conflict_status"] == "conflict"
    assert [(c["id"], c["other_id"]) for c in body["conflicts"]] == [(conflict.pk, second.pk)]
    assert body["conflicts"][0]["other_label"].startswith(second.reference)
    # The partner's own verdict is unchanged (it was first): nothing learned about the other.
    partner_body = client_for(alice).get(f"/api/v1/registrations/{first.pk}/").json()
    assert partner_body["conflict_status"] == "clear"
    assert "conflicts" not in partner_body


def test_conflicts_filter_matches_either_side(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager)
    client = client_for(manager)
    for pk in (first.pk, second.pk):
        rows = client.get("/api/v1/conflicts/", {"registration": pk}).json()
        assert [r["id"] for r in rows] == [conflict.pk]
        assert (rows[0]["registration_id"], rows[0]["other_id"]) == (second.pk, first.pk)


def test_registration_list_filter_counts_either_side(alice, bob, manager, product):
    first, second, _ = make_pair(alice, bob, manager)
    clear = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    client = client_for(manager)
    ids = {
        r["id"]
        for r in client.get("/api/v1/registrations/", {"conflict_status": "conflict"}).json()[
            "results"
        ]
    }
    assert {first.pk, second.pk} <= ids and clear.pk not in ids
    ids = {
        r["id"]
        for r in client.get("/api/v1/registrations/", {"conflict_status": "clear"}).json()[
            "results"
        ]
    }
    assert clear.pk in ids and first.pk not in ids


def test_bulk_approve_skips_a_registration_with_a_conflict_on_either_side(
    alice, bob, manager, product, client
):
    first, second, _ = make_pair(alice, bob, manager)
    clear = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    client.force_login(manager)
    client.post(
        "/manage/queue/bulk-approve/", {"ids": [first.pk, second.pk, clear.pk]}, follow=True
    )
    assert refreshed(clear).status == "approved"
    assert refreshed(first).status == "submitted"
    assert refreshed(second).status == "submitted"


def test_auto_approve_skips_a_registration_with_an_open_conflict_on_either_side(
    alice, bob, manager, product
):
    first, second, conflict = make_pair(alice, bob, manager, earlier="info_requested")
    tier = first.partner.tier
    tier.auto_approve_ceiling = 10_000_000
    tier.save()
    # Alice corrects the customer: her check is now clear, but Bob's conflict still names her.
    services.registration_update(
        registration=first,
        actor=alice,
        data={"customer_name": "Umbrella Pharma", "customer_domain": "umbrella-pharma.com"},
    )
    resubmitted = services.registration_submit(registration=first, actor=alice)
    assert resubmitted.conflict_status == "clear"
    assert refreshed(first).status == "submitted"  # not auto-approved
    conflict.refresh_from_db()
    assert conflict.status == "open"


# --- 2. Enforced protection -----------------------------------------------------------------------


def test_approving_over_a_protected_registration_is_refused(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager, earlier="approved")
    with pytest.raises(StateConflict) as refused:
        services.registration_approve(registration=second, actor=manager)
    assert refused.value.code == "unresolved_conflict"
    assert refused.value.extra["conflict_ids"] == [conflict.pk]
    assert refreshed(second).status == "submitted"
    response = client_for(manager).post(
        f"/api/v1/registrations/{second.pk}/approve/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "unresolved_conflict"
    assert response.json()["conflict_ids"] == [conflict.pk]


def test_approving_over_an_open_direct_opportunity_is_refused(bob, manager, product):
    _, registration, conflict = make_direct(bob, manager)
    response = client_for(manager).post(
        f"/api/v1/registrations/{registration.pk}/approve/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json() | {"detail": ""} == {
        "code": "unresolved_conflict",
        "conflict_ids": [conflict.pk],
        "detail": "",
    }


def test_approving_next_to_a_registration_awaiting_a_decision_is_allowed(
    alice, bob, manager, product
):
    first, second, _ = make_pair(alice, bob, manager)
    services.registration_approve(registration=second, actor=manager)
    assert refreshed(second).status == "approved"


def test_override_reason_approves_and_is_recorded(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager, earlier="approved")
    response = client_for(manager).post(
        f"/api/v1/registrations/{second.pk}/approve/",
        {"override_reason": "Different subsidiaries, agreed by phone"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    event = RegistrationEvent.objects.get(registration=second, action="approval_override")
    assert event.internal is True
    assert event.details == {
        "override_reason": "Different subsidiaries, agreed by phone",
        "conflicts": [conflict.pk],
    }
    manager_history = client_for(manager).get(f"/api/v1/registrations/{second.pk}/history/").json()
    assert "approval_override" in [h["action"] for h in manager_history]
    partner_history = client_for(bob).get(f"/api/v1/registrations/{second.pk}/history/").json()
    assert "approval_override" not in [h["action"] for h in partner_history]
    audit = registration_audit(second)
    assert "approval_override" in [e["action"] for e in audit["events"]]
    assert audit["verification"]["verified"] is True
    summary = client_for(manager).get("/api/v1/reports/summary/").json()
    assert summary["approval_overrides"] == 1
    assert "approval_overrides" not in client_for(bob).get("/api/v1/reports/summary/").json()


# --- 3. Resolutions in every state ----------------------------------------------------------------

LOSER_STATES = ["submitted", "info_requested", "approved"]


def _assert_lost(loser, state, reason, *, partner_user):
    loser = refreshed(loser)
    if state == "approved":
        assert (loser.status, loser.rejection_reason) == ("revoked", reason)
        assert loser.revoked_at is not None
        assert "revoked" in actions(loser)
        assert "revoked" in kinds_for(partner_user)
        assert not loser.is_protected
    else:
        assert (loser.status, loser.rejection_reason) == ("rejected", reason)
        assert "rejected" in kinds_for(partner_user)
    assert not indexed(loser)
    assert NO_CONFLICT_REMAINS not in loser.conflict_message
    body = client_for(partner_user).get(f"/api/v1/registrations/{loser.pk}/").json()
    assert body["status"] == loser.status
    assert body["rejection_reason"] == reason
    assert ("revoked_at" in body) and ((body["revoked_at"] is not None) is (state == "approved"))
    return loser


@pytest.mark.parametrize("state", LOSER_STATES)
@pytest.mark.parametrize(
    "resolution,reason",
    [
        ("first_registration_wins", "partner_registration"),
        ("duplicate", "duplicate"),
    ],
)
def test_registration_conflict_later_one_loses_in_every_state(
    alice, bob, manager, product, state, resolution, reason
):
    first, second, conflict = make_pair(alice, bob, manager, later=state)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution=resolution)
    conflict.refresh_from_db()
    assert (conflict.status, conflict.resolution) == ("resolved", resolution)
    _assert_lost(second, state, reason, partner_user=bob)
    first = refreshed(first)
    assert first.status == "submitted" and indexed(first)
    assert "conflict_resolved" in actions(first) and "conflict_resolved" in actions(second)


@pytest.mark.parametrize("state", LOSER_STATES)
def test_partner_wins_the_earlier_registration_loses_in_every_state(
    alice, bob, manager, product, state
):
    first, second, conflict = make_pair(alice, bob, manager, earlier=state)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="partner_wins")
    _assert_lost(first, state, "partner_registration", partner_user=alice)
    second = refreshed(second)
    assert second.status == "submitted" and indexed(second)
    assert second.conflict_status == "clear"
    # The winner can now be approved: nothing blocks it any more.
    services.registration_approve(registration=second, actor=manager)


@pytest.mark.parametrize("state", LOSER_STATES)
def test_direct_wins_the_registration_loses_in_every_state(bob, manager, product, rep, state):
    opportunity, registration, conflict = make_direct(bob, manager, state=state)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="direct_wins")
    _assert_lost(registration, state, "direct_opportunity", partner_user=bob)
    opportunity.refresh_from_db()
    assert opportunity.partner_led is False
    assert "conflict_resolved" in kinds_for(rep)


@pytest.mark.parametrize("state", LOSER_STATES)
def test_first_registration_wins_against_direct_picks_the_earlier_record(
    bob, manager, product, rep, state
):
    opportunity, registration, conflict = make_direct(bob, manager, state=state)
    services.conflict_resolve(
        conflict=conflict, actor=manager, resolution="first_registration_wins"
    )
    opportunity.refresh_from_db()
    if state == "approved":  # the registration came first (a late CRM sync)
        assert refreshed(registration).status == "approved"
        assert opportunity.partner_led is True
    else:
        _assert_lost(registration, state, "direct_opportunity", partner_user=bob)
        assert opportunity.partner_led is False


@pytest.mark.parametrize("state", LOSER_STATES)
def test_partner_wins_marks_the_opportunity_partner_led_and_tells_the_rep(
    bob, manager, product, rep, state
):
    opportunity, registration, conflict = make_direct(bob, manager, state=state)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="partner_wins")
    opportunity.refresh_from_db()
    assert opportunity.partner_led is True
    assert opportunity.partner_led_registration_id == registration.pk
    assert refreshed(registration).status == state
    note = Notification.objects.get(recipient=rep, kind="conflict_resolved", channel="in_app")
    assert "partner-led" in note.body
    assert "conflict_resolved" not in kinds_for(bob)  # nothing to tell the partner here


def test_co_sell_tells_both_partners_the_same_sentence(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    first, second = refreshed(first), refreshed(second)
    assert second.co_sell is True
    assert first.conflict_message == second.conflict_message
    assert "co-sell" in first.conflict_message and "vendor's team" in first.conflict_message
    bodies = {
        Notification.objects.get(
            recipient=u, kind="conflict_resolved", channel="in_app"
        ).body.replace(r.customer_name, "<customer>")
        for u, r in ((alice, first), (bob, second))
    }
    assert len(bodies) == 1
    body = bodies.pop()
    for secret in ("Acme", "Bravo", "rep@"):
        assert secret not in body


def test_co_sell_with_direct_uses_the_same_partner_sentence(alice, bob, manager, product, rep):
    first, second, pair_conflict = make_pair(alice, bob, manager)
    services.conflict_resolve(conflict=pair_conflict, actor=manager, resolution="co_sell")
    _, registration, conflict = make_direct(bob, manager)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    assert refreshed(registration).conflict_message == refreshed(second).conflict_message
    partner_bodies = {
        n.body.replace(n.registration.customer_name, "<customer>")
        for n in Notification.objects.filter(
            recipient=bob, kind="conflict_resolved", channel="in_app"
        ).select_related("registration")
    }
    assert len(partner_bodies) == 1
    assert "rep@vendor.example" not in partner_bodies.pop()
    assert "conflict_resolved" in kinds_for(rep)


def test_not_a_conflict_remembers_the_pair_and_never_flags_it_again(alice, bob, manager, product):
    first, second, conflict = make_pair(alice, bob, manager)
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="not_a_conflict")
    assert IgnoredPair.objects.filter(id_a=second.pk, id_b=first.pk).exists()
    services.registration_request_info(registration=second, actor=manager, message="Again?")
    resubmitted = services.registration_submit(registration=second, actor=bob)
    assert resubmitted.conflict_status == "clear"
    assert Conflict.objects.filter(registration_id=second.pk).count() == 1
    assert refreshed(first).status == refreshed(second).status == "submitted"


def test_revoke_endpoint_ends_protection(alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    client = client_for(manager)
    response = client.post(
        f"/api/v1/registrations/{registration.pk}/revoke/",
        {"reason": "outside_territory", "note": "Wrong region"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "revoked" and body["rejection_reason"] == "outside_territory"
    assert body["revoked_at"]
    assert not indexed(registration)
    again = client.post(
        f"/api/v1/registrations/{registration.pk}/revoke/", {"reason": "other"}, format="json"
    )
    assert again.status_code == 400  # note required for `other`
    again = client.post(
        f"/api/v1/registrations/{registration.pk}/revoke/",
        {"reason": "not_qualified"},
        format="json",
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert (
        client_for(alice)
        .post(
            f"/api/v1/registrations/{registration.pk}/revoke/",
            {"reason": "not_qualified"},
            format="json",
        )
        .status_code
        == 403
    )
    # Another customer's availability is not blocked by the revoked registration any more.
    check = (
        client_for(alice)
        .post(
            "/api/v1/conflict-check/",
            {
                "customer_name": registration.customer_name,
                "customer_domain": registration.customer_domain,
                "customer_country": "US",
                "products": ["crm-pro"],
            },
            format="json",
        )
        .json()
    )
    assert check["status"] == "clear"


def test_revoke_page_button(alice, manager, product, client):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    client.force_login(manager)
    page = client.get(f"/manage/registrations/{registration.pk}/").content.decode()
    assert f"/manage/registrations/{registration.pk}/revoke/" in page
    client.post(
        f"/manage/registrations/{registration.pk}/revoke/",
        {"reason": "not_qualified", "note": ""},
    )
    assert refreshed(registration).status == "revoked"


# --- 4. Moot conflicts close --------------------------------------------------------------------

EXITS = ["reject", "withdraw", "expire", "revoke", "close_won", "close_lost"]


def _exit(registration, how, *, owner, manager):
    today = timezone.now().date().isoformat()
    if how == "reject":
        services.registration_reject(
            registration=registration, actor=manager, reason="not_qualified"
        )
    elif how == "withdraw":
        services.registration_withdraw(registration=registration, actor=owner)
    elif how == "expire":
        assert services.registration_expire(
            registration=registration, now=timezone.now() + dt.timedelta(days=400)
        )
    elif how == "revoke":
        services.registration_revoke(
            registration=registration, actor=manager, reason="not_qualified"
        )
    else:
        services.registration_close(
            registration=registration,
            actor=owner,
            outcome=how.removeprefix("close_"),
            close_date=today,
        )


@pytest.mark.parametrize("how", EXITS)
def test_a_conflict_closes_when_the_earlier_registration_leaves(alice, bob, manager, product, how):
    needs_approval = how in ("expire", "revoke", "close_won", "close_lost")
    first, second, conflict = make_pair(alice, bob, manager)
    if needs_approval:
        services.registration_approve(registration=first, actor=manager)  # B awaits: allowed
    _exit(refreshed(first), how, owner=alice, manager=manager)
    conflict.refresh_from_db()
    assert conflict.status == "closed"
    second = refreshed(second)
    assert second.conflict_status == "clear"
    assert "conflict_closed" in actions(first) and "conflict_closed" in actions(second)
    with pytest.raises(InvalidTransition):
        services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    response = client_for(manager).post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/", {"resolution": "duplicate"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("how", ["reject", "withdraw"])
def test_a_conflict_closes_when_the_later_registration_leaves(alice, bob, manager, product, how):
    first, second, conflict = make_pair(alice, bob, manager)
    _exit(second, how, owner=bob, manager=manager)
    conflict.refresh_from_db()
    assert conflict.status == "closed"
    body = client_for(manager).get(f"/api/v1/registrations/{first.pk}/").json()
    assert body["conflict_status"] == "clear"
    assert [c["status"] for c in body["conflicts"]] == ["closed"]


def test_resolving_a_resolved_conflict_answers_409(alice, bob, manager, product):
    _, _, conflict = make_pair(alice, bob, manager)
    client = client_for(manager)
    first = client.post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/", {"resolution": "not_a_conflict"}, format="json"
    )
    assert first.status_code == 200 and first.json()["status"] == "resolved"
    again = client.post(
        f"/api/v1/conflicts/{conflict.pk}/resolve/", {"resolution": "duplicate"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_a_late_sync_conflict_on_an_approved_registration_is_visible(bob, manager, product):
    _, registration, conflict = make_direct(bob, manager, state="approved")
    body = client_for(manager).get(f"/api/v1/registrations/{registration.pk}/").json()
    assert body["conflict_status"] == "conflict"
    assert [c["id"] for c in body["conflicts"]] == [conflict.pk]


# --- 8. Candid messages (ISO-04) ------------------------------------------------------------------


def test_revocation_reads_the_same_whoever_won(alice, bob, manager, product):
    """A registration revoked against another partner and one revoked against direct sales
    read the same sentence (page message, e-mail body, page label), never naming the winner."""
    first, second, conflict = make_pair(alice, bob, manager, later="approved")
    services.conflict_resolve(
        conflict=conflict, actor=manager, resolution="first_registration_wins"
    )
    _, registration, direct_conflict = make_direct(bob, manager, state="approved")
    services.conflict_resolve(conflict=direct_conflict, actor=manager, resolution="direct_wins")
    second, registration = refreshed(second), refreshed(registration)
    assert second.status == registration.status == "revoked"
    assert second.conflict_message == registration.conflict_message
    assert second.partner_reason_label == registration.partner_reason_label
    bodies = {
        n.body.replace(n.registration.customer_name, "<customer>")
        for n in Notification.objects.filter(
            recipient=bob, kind="revoked", channel="in_app"
        ).select_related("registration")
    }
    assert len(bodies) == 1
    body = bodies.pop()
    for secret in ("Acme", "direct", "Contoso Ltd", "rep@", NO_CONFLICT_REMAINS):
        assert secret not in body


def test_partner_pages_show_a_revocation_in_neutral_words(bob, manager, product, client):
    _, registration, conflict = make_direct(bob, manager, state="approved")
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="direct_wins")
    client.force_login(bob)
    page = client.get(f"/registrations/{registration.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Protection ended" in html and "The customer is already engaged" in html
    assert "Existing direct opportunity" not in html and NO_CONFLICT_REMAINS not in html
    assert client.get("/").status_code == 200


def test_data_migration_closes_conflicts_that_were_already_moot(alice, bob, manager, product):
    """deals 0011: conflicts left open by registrations that exited before issue 14."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("deals.migrations.0012_close_moot_conflicts")
    first, second, conflict = make_pair(alice, bob, manager)
    live = factories.make_registration(
        alice, customer_name="Initech", customer_domain="initech.com"
    )
    rival = factories.make_registration(
        bob, customer_name="Initech Inc", customer_domain="initech.com"
    )
    still_open = Conflict.objects.get(registration_id=rival.pk, other_id=live.pk)
    DealRegistration.objects.filter(pk=first.pk).update(status="withdrawn")  # the old way
    migration.close_moot(apps, None)
    conflict.refresh_from_db()
    still_open.refresh_from_db()
    assert (conflict.status, still_open.status) == ("closed", "open")
