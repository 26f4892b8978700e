"""ISO-07: the unscoped-query guard (tests/security/guard.py) is active for the whole suite;
these tests prove it trips on a deliberate violation and stays quiet on scoped code."""

from __future__ import annotations

import pytest
from django.test import Client

from deals.models import Comment, DealRegistration
from tests import factories
from tests.security.guard import UnscopedQueryError

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_probe")]


@pytest.fixture
def foreign(bob):
    return factories.make_registration(bob)


@pytest.fixture
def own(alice):
    return factories.make_registration(alice)


def test_iso07_deliberate_unscoped_read_trips_the_guard(alice, foreign, unscoped_query_guard):
    client = Client()
    client.force_login(alice)
    with pytest.raises(UnscopedQueryError, match="unscoped deals.DealRegistration"):
        client.get(f"/probe/unscoped/{foreign.pk}/")
    assert len(unscoped_query_guard) == 1


def test_iso07_unscoped_read_trips_even_when_the_error_is_swallowed(
    alice, foreign, unscoped_query_guard
):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    assert client.get(f"/probe/unscoped/{foreign.pk}/").status_code == 500
    assert unscoped_query_guard, "the violation must be recorded for the teardown check"


def test_iso07_token_requests_are_guarded_too(alice, foreign, unscoped_query_guard):
    from partners.services import token_create

    _, raw = token_create(user=alice)
    client = Client(HTTP_AUTHORIZATION=f"Token {raw}", raise_request_exception=False)
    # The API resolves the user inside DRF; the guard sees it through request.user.
    response = client.get(f"/api/v1/registrations/{foreign.pk}/")
    assert response.status_code == 404
    assert unscoped_query_guard == []  # the API is scoped: nothing recorded


def test_iso07_child_rows_of_a_foreign_registration_trip(alice, foreign, unscoped_query_guard):
    from prm.security_log import current_request

    class FakeRequest:
        method, path, user = "GET", "/probe", alice

    token = current_request.set(FakeRequest())
    try:
        with pytest.raises(UnscopedQueryError):
            list(Comment.objects.filter(registration_id=foreign.pk))
        with pytest.raises(UnscopedQueryError):
            list(DealRegistration.objects.filter(customer_name__icontains="a"))
        # Scoped forms pass: by partner, by an owned registration, by an owned pk.
        partner = alice.membership.partner
        list(DealRegistration.objects.filter(partner=partner, customer_name__icontains="a"))
        own = factories.make_registration(alice)
        list(Comment.objects.filter(registration=own))
        list(DealRegistration.objects.filter(pk=own.pk))
        list(Comment.objects.filter(registration__partner_id=partner.pk))
        # An OR does not scope.
        from django.db.models import Q

        with pytest.raises(UnscopedQueryError):
            list(DealRegistration.objects.filter(Q(partner=partner) | Q(pk=foreign.pk)))
    finally:
        current_request.reset(token)
    assert len(unscoped_query_guard) == 3


def test_iso07_scoped_views_and_the_foreign_404_probe_pass(alice, own, foreign):
    client = Client()
    client.force_login(alice)
    assert client.get(f"/probe/scoped/{own.pk}/").status_code == 200
    # access_* answers 404 for a foreign id; its existence probe (security log) is exempt.
    assert client.get(f"/probe/scoped/{foreign.pk}/").status_code == 404
    assert client.get(f"/registrations/{foreign.pk}/").status_code == 404


def test_iso07_managers_are_not_partner_requests(manager, foreign):
    client = Client()
    client.force_login(manager)
    assert client.get(f"/probe/unscoped/{foreign.pk}/").status_code == 200
