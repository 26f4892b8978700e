"""Versioned partner program terms (issue 18 §1): the latest published version is in force; a
partner user accepts it (time, user, partner, version recorded) before registering deals; the
portal sends them to the terms page, the API answers 403 `terms_not_accepted`; nothing is asked
while no version is published."""

from __future__ import annotations

import pytest
from django.urls import reverse

from deals.registrations import services as deal_services
from partners import terms as program_terms
from partners.models import ProgramTerms, TermsAcceptance
from prm.exceptions import PermissionDeniedError, StateConflict
from prm.lib.time import timezone_now
from tests import factories
from tests.api.conftest import client_for


def publish(version: int, text: str = "Be fair.") -> ProgramTerms:
    return ProgramTerms.objects.create(version=version, text=text, published_at=timezone_now())


def test_nothing_is_required_while_no_version_is_published(alice, product):
    ProgramTerms.objects.create(version=1, text="Draft only")  # a draft is not in force
    assert program_terms.terms_pending_for(alice) is None
    registration = deal_services.registration_create(
        actor=alice, data=factories.registration_data()
    )
    assert registration.pk


def test_latest_published_version_is_in_force(db):
    publish(1)
    publish(2)
    ProgramTerms.objects.create(version=3, text="Draft")
    assert program_terms.terms_in_force().version == 2


def test_registering_deals_needs_the_terms_in_force_accepted(alice, product):
    publish(1)
    with pytest.raises(PermissionDeniedError) as caught:
        deal_services.registration_create(actor=alice, data=factories.registration_data())
    assert caught.value.code == "terms_not_accepted"
    assert "version 1" in caught.value.detail
    program_terms.terms_accept(user=alice, version=1)
    assert deal_services.registration_create(actor=alice, data=factories.registration_data())


def test_acceptance_is_recorded_with_time_user_partner_and_version(alice, partner_a):
    publish(1)
    before = timezone_now()
    acceptance = program_terms.terms_accept(user=alice, version="1")
    assert acceptance.user == alice
    assert acceptance.partner == partner_a
    assert acceptance.terms.version == 1
    assert acceptance.accepted_at >= before
    # Accepting again records nothing new.
    assert program_terms.terms_accept(user=alice, version=1).pk == acceptance.pk
    assert TermsAcceptance.objects.count() == 1


def test_every_later_version_must_be_accepted_again(alice, product):
    publish(1)
    program_terms.terms_accept(user=alice, version=1)
    assert program_terms.terms_pending_for(alice) is None
    publish(2, "Be fairer.")
    assert program_terms.terms_pending_for(alice).version == 2
    with pytest.raises(PermissionDeniedError):
        deal_services.registration_create(actor=alice, data=factories.registration_data())


def test_submitting_a_draft_also_needs_the_terms(alice, product):
    draft = deal_services.registration_create(
        actor=alice, data=factories.registration_data(), submit=False
    )
    publish(1)
    with pytest.raises(PermissionDeniedError):
        deal_services.registration_submit(registration=draft, actor=alice)


def test_accepting_an_outdated_version_is_refused(alice):
    publish(1)
    publish(2)
    with pytest.raises(StateConflict):
        program_terms.terms_accept(user=alice, version=1)
    assert not TermsAcceptance.objects.exists()


def test_managers_never_accept_terms(manager):
    publish(1)
    assert program_terms.terms_pending_for(manager) is None
    with pytest.raises(PermissionDeniedError):
        program_terms.terms_accept(user=manager, version=1)


def test_api_create_answers_403_terms_not_accepted_until_accepted(alice, product):
    publish(4)
    api = client_for(alice)
    response = api.post("/api/v1/registrations/", factories.registration_data(), format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "terms_not_accepted"
    assert body["terms_version"] == 4
    program_terms.terms_accept(user=alice, version=4)
    response = api.post("/api/v1/registrations/", factories.registration_data(), format="json")
    assert response.status_code == 201


def test_portal_sends_a_partner_user_with_terms_pending_to_the_terms_page(client, alice, product):
    terms = publish(1, "Rule one: register before you sell.")
    client.force_login(alice)
    response = client.get(reverse("registration_create"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("program_terms") + "?next=")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Rule one: register before you sell." in page.content.decode()
    # Not ticking the box records nothing.
    refused = client.post(reverse("program_terms"), {"version": "1", "next": "/registrations/new/"})
    assert refused.status_code == 400
    assert not TermsAcceptance.objects.exists()
    accepted = client.post(
        reverse("program_terms"),
        {"version": "1", "accept": "on", "next": "/registrations/new/"},
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == "/registrations/new/"
    assert TermsAcceptance.objects.filter(user=alice, terms=terms).exists()
    assert client.get(reverse("registration_create")).status_code == 200


def test_terms_page_never_redirects_elsewhere(client, alice):
    publish(1)
    client.force_login(alice)
    response = client.post(
        reverse("program_terms"),
        {"version": "1", "accept": "on", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("home")


def test_managers_are_not_redirected(client, manager):
    publish(1)
    client.force_login(manager)
    assert client.get(reverse("manage_queue")).status_code == 200


def test_published_version_is_read_only_in_the_admin(client, db):
    admin = factories.manager_user(email="root@vendor.example", superuser=True)
    client.force_login(admin)
    terms = publish(1, "Original text")
    response = client.post(
        reverse("admin:partners_programterms_change", args=[terms.pk]),
        {"version": "1", "title": "Changed", "text": "Changed text"},
    )
    assert response.status_code in (200, 302)
    terms.refresh_from_db()
    assert terms.text == "Original text"
    add = client.get(reverse("admin:partners_programterms_add"))
    assert add.status_code == 200
    assert 'value="2"' in add.content.decode()


def test_terms_in_force_is_cached_and_forgotten_on_publish(alice, django_assert_num_queries):
    from django.core.cache import cache

    publish(1)
    program_terms.terms_accept(user=alice, version=1)
    cache.clear()  # the publication's tombstone has expired (prm.lib.hotcache.FORGET_SECONDS)
    assert program_terms.terms_pending_version(alice) is None
    with django_assert_num_queries(0):
        assert program_terms.terms_pending_version(alice) is None
    publish(2)
    assert program_terms.terms_pending_version(alice) == 2


def test_terms_page_shows_when_the_user_accepted(client, alice):
    publish(3)
    program_terms.terms_accept(user=alice, version=3)
    client.force_login(alice)
    body = client.get(reverse("program_terms")).content.decode()
    assert "You accepted version 3 on" in body
    assert 'data-testid="terms-form"' not in body
