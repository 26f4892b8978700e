from conflicts.models import Conflict
from deals.registrations import services
from tests import factories


def test_first_come_first_served_conflict_flow(alice, bob, manager, product):
    first = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    second = factories.make_registration(
        bob, customer_name="GLOBEX Corp., Inc.", customer_domain="https://www.globex.com/"
    )
    assert first.conflict_status == "clear"
    assert second.conflict_status == "conflict"
    conflict = Conflict.objects.get(registration_id=second.pk)
    assert conflict.other_id == first.pk
    services.conflict_resolve(
        conflict=conflict, actor=manager, resolution="first_registration_wins"
    )
    second.refresh_from_db()
    assert second.status == "rejected"
    assert second.rejection_reason == "partner_registration"
