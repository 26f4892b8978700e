"""deals.sql, the plain SQL of the hot detail read (issue 13). The ISO-07 guard does not see raw
SQL, so these tests hold it to the selector-scoped ORM fetch: the same registration, the same
representation, and nothing of another partner's."""

from __future__ import annotations

import pytest
from rest_framework.renderers import JSONRenderer

from deals import access, sql
from deals.api.views import registrations_data, registrations_for_output
from deals.registrations import selectors
from prm.exceptions import NotFound
from tests import factories


@pytest.fixture
def registrations(alice, bob, manager, product, other_line_product):
    own = factories.make_registration(
        alice, products=[other_line_product.code, product.code], status="approved", manager=manager
    )
    draft = factories.make_registration(alice, status="draft", products=[])
    foreign = factories.make_registration(bob)
    return own, draft, foreign


def test_the_tenant_condition_is_in_the_sql_text():
    assert sql.REGISTRATION_DETAIL_FOR_PARTNER.rstrip().endswith(
        "WHERE r.id = %s AND r.partner_id = %s"
    )
    # Managers never read a draft (the partner's private work).
    assert sql.REGISTRATION_DETAIL_FOR_MANAGER.rstrip().endswith(
        "WHERE r.id = %s AND r.status <> 'draft'"
    )


def test_a_partner_never_reads_another_partners_registration(registrations, alice):
    own, _, foreign = registrations
    partner_id = alice.membership.partner_id
    assert sql.registration_detail(own.pk, partner_id=partner_id).pk == own.pk
    assert sql.registration_detail(foreign.pk, partner_id=partner_id) is None
    assert sql.registration_detail(10**9, partner_id=partner_id) is None
    assert sql.registration_detail(foreign.pk, partner_id=None).pk == foreign.pk  # managers


@pytest.mark.parametrize("role", ["partner", "manager"])
def test_the_representation_equals_the_orm_fetchs(role, registrations, alice, manager):
    user = alice if role == "partner" else manager
    for registration in registrations[:2] if role == "partner" else registrations[:1]:
        plain = access.access_registration_detail_for_user(user, registration.pk)
        orm = registrations_for_output(selectors.registrations_visible_to(user), user).get(
            pk=registration.pk
        )
        render = JSONRenderer().render
        assert render(registrations_data(plain, user, many=False)) == render(
            registrations_data(orm, user, many=False)
        )


def test_decider_and_products_come_with_the_row(registrations, manager):
    own, draft, _ = registrations
    row = sql.registration_detail(own.pk, partner_id=None)
    assert row.decided_by.email == manager.email
    assert row.partner.name == own.partner.name
    assert row.submitted_by.email == own.submitted_by.email
    assert sql.registration_detail(draft.pk, partner_id=draft.partner_id).decided_by is None
    assert sql.registration_detail(draft.pk, partner_id=None) is None  # not for managers
    if hasattr(row, "_product_codes"):  # PostgreSQL
        assert row._product_codes == [p.code for p in own.products.all()]


def test_foreign_and_missing_ids_are_the_same_404(registrations, alice, bob):
    own, _, foreign = registrations
    for pk in (foreign.pk, 10**9, "x", -1):
        with pytest.raises(NotFound):
            access.access_registration_detail_for_user(alice, pk)
    with pytest.raises(NotFound):
        access.access_registration_detail_for_user(factories.UserFactory(), own.pk)
