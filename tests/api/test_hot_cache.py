"""The hot reads cached in the shared cache (prm.lib.hotcache, issue 13): API token lookups by
the key's hash, the policy in force, the active catalogue and the managers list. Each test
warms the cache first, then changes the data the way the product does, and requires the next
read to see the change at once (no waiting for the TTL).
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals import catalog
from deals import policy as policies
from deals.notifications import outbox as notifications
from partners import services as partner_services
from partners.authentication import _cache_key
from partners.models import ApiToken, Membership, hash_token
from prm.lib import hotcache
from tests import factories
from tests.api.conftest import client_for

ME = "/api/v1/me/"


def _settle() -> None:
    """Forget the tombstones the fixtures' writes left (hotcache.FORGET_SECONDS): without
    this, every read of the test would go to the database and nothing would be proved."""
    cache.clear()


def _warm(client) -> None:
    _settle()
    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 200  # served from the cache
    assert isinstance(cache.get(_cache_key(hash_token(_raw(client)))), ApiToken)


def _raw(client) -> str:
    return client._credentials["HTTP_AUTHORIZATION"].split()[1]


# --- The mechanism ------------------------------------------------------------------------------


def test_read_stores_and_serves_from_the_cache(db):
    calls = []
    assert hotcache.read("t:k", lambda: calls.append(1) or "v1") == "v1"
    assert hotcache.read("t:k", lambda: calls.append(1) or "v2") == "v1"
    assert calls == [1]


def test_forget_beats_a_reader_that_loaded_the_old_value_before_the_change(db):
    """The race a plain delete loses: a reader loads the old row, the change commits and
    forgets, then the reader stores what it loaded. The tombstone makes its add() fail."""
    stale = "old row"
    hotcache.forget(["t:race"])  # the change, between the reader's load and its store
    assert cache.add("t:race", stale, 60) is False  # what read() does with what it loaded
    assert hotcache.read("t:race", lambda: "new row") == "new row"
    assert hotcache.read("t:race", lambda: "newer row") == "newer row"  # not stored meanwhile


def test_nothing_is_cached_for_a_missing_row(db):
    assert hotcache.read("t:none", lambda: None) is None
    assert cache.get("t:none") is None


def test_entries_expire_after_the_ttl(db, settings):
    settings.HOT_CACHE_SECONDS = 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        hotcache.read("t:ttl", lambda: "v1")
        traveller.shift(dt.timedelta(seconds=61))
        assert hotcache.read("t:ttl", lambda: "v2") == "v2"


# --- API tokens ---------------------------------------------------------------------------------


def test_a_cached_token_lookup_costs_no_query(alice):
    client = client_for(alice)
    _warm(client)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ME).status_code == 200
    assert not [q for q in queries.captured_queries if "partners_apitoken" in q["sql"]]


def test_the_cache_holds_no_password_hash(alice):
    client = client_for(alice)
    _warm(client)
    token = cache.get(_cache_key(hash_token(_raw(client))))
    assert token.user_id == alice.pk
    assert "password" not in token.user.__dict__


def test_revoking_a_token_is_401_on_the_next_request(alice):
    client = client_for(alice)
    _warm(client)
    partner_services.token_revoke(token=ApiToken.objects.get(key_hash=hash_token(_raw(client))))
    assert client.get(ME).status_code == 401


def test_revoking_from_the_tokens_page_is_401_on_the_next_request(alice):
    from django.test import Client

    client = client_for(alice)
    _warm(client)
    token = ApiToken.objects.get(key_hash=hash_token(_raw(client)))
    browser = Client()
    browser.force_login(alice)
    browser.post(f"/settings/tokens/{token.pk}/revoke/")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get(ME).status_code == 401


def test_deactivation_is_401_on_the_next_request(alice, alice_admin):
    client = client_for(alice)
    _warm(client)
    partner_services.partner_user_deactivate(
        actor=alice_admin, partner=alice.membership.partner, user=alice
    )
    assert client.get(ME).status_code == 401


def test_password_change_is_401_on_the_next_request(alice):
    client = client_for(alice)
    _warm(client)
    alice.set_password("a-brand-new-password-77")
    alice.save()
    assert client.get(ME).status_code == 401


def test_partner_suspension_is_401_on_the_next_request(alice, manager):
    client = client_for(alice)
    _warm(client)
    partner_services.partner_update(
        actor=manager, partner=alice.membership.partner, status="suspended"
    )
    assert client.get(ME).status_code == 401


def test_partner_suspended_by_a_save_outside_the_services_is_401_at_once(alice):
    client = client_for(alice)
    _warm(client)
    partner = alice.membership.partner
    partner.status = "suspended"
    partner.save()  # the admin or a shell
    assert client.get(ME).status_code == 401


def test_a_raw_update_behind_every_hook_still_ends_within_the_ttl(alice, settings):
    """queryset.update() sends no signal: the cached lookup keeps the old partner status until
    it expires (HOT_CACHE_SECONDS), never longer."""
    settings.HOT_CACHE_SECONDS = 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(alice)
        _warm(client)
        partner = alice.membership.partner
        type(partner).objects.filter(pk=partner.pk).update(status="suspended")
        traveller.shift(dt.timedelta(seconds=61))
        assert client.get(ME).status_code == 401


def test_token_expiry_needs_no_forgetting(alice):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token, raw = partner_services.token_create(user=alice, ttl=dt.timedelta(seconds=30))
        client = client_for()
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        _warm(client)
        traveller.shift(dt.timedelta(seconds=31))
        assert client.get(ME).status_code == 401


def test_deleting_the_user_is_401_on_the_next_request(alice):
    client = client_for(alice)
    _warm(client)
    alice.delete()
    assert client.get(ME).status_code == 401


def test_a_role_change_shows_on_the_next_request(alice, alice_admin):
    client = client_for(alice)
    _warm(client)
    assert client.get(ME).json()["role"] == "partner"
    partner_services.partner_user_set_role(
        actor=alice_admin, partner=alice.membership.partner, user=alice, role="admin"
    )
    assert client.get(ME).json()["role"] == "partner_admin"
    Membership.objects.filter(user=alice).get().delete()
    assert client.get(ME).json()["role"] is None


def test_last_used_at_is_written_once_per_interval_with_a_cached_token(alice):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(alice)
        _warm(client)
        token = ApiToken.objects.get(key_hash=hash_token(_raw(client)))
        first = token.last_used_at
        assert first is not None
        traveller.shift(dt.timedelta(seconds=301))
        with CaptureQueriesContext(connection) as queries:
            for _ in range(3):
                assert client.get(ME).status_code == 200
        writes = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
        assert len(writes) == 1
        assert ApiToken.objects.get(pk=token.pk).last_used_at > first


# --- The policy in force ------------------------------------------------------------------------


def test_the_policy_in_force_is_read_once(db):
    _settle()
    policies.policy_current()
    with CaptureQueriesContext(connection) as queries:
        policy = policies.policy_current()
    assert len(queries.captured_queries) == 0
    assert policy.version >= 1


def test_a_published_policy_is_in_force_at_once(manager):
    _settle()
    before = policies.policy_current()
    assert cache.get(policies.POLICY_KEY).version == before.version
    policies.policy_publish(actor=manager, change_note="longer", protection_days=123)
    now = policies.policy_current()
    assert now.version == before.version + 1
    assert now.protection_days == 123


# --- The active catalogue -----------------------------------------------------------------------


def test_a_deactivated_product_is_refused_at_once(alice, product):
    client = client_for(alice)
    data = factories.registration_data(products=[product.code])
    _settle()
    assert client.post("/api/v1/registrations/", data, format="json").status_code == 201
    assert product.code in cache.get(catalog.ACTIVE_PRODUCTS_KEY)
    product.active = False
    product.save()  # the admin
    data = factories.registration_data(products=[product.code])
    response = client.post("/api/v1/registrations/", data, format="json")
    assert response.status_code == 400
    assert "products" in response.json()["fields"]


def test_a_new_product_is_accepted_at_once(alice, manager, product):
    client = client_for(alice)
    data = factories.registration_data(products=[product.code])
    _settle()
    assert client.post("/api/v1/registrations/", data, format="json").status_code == 201
    assert "erp-new" not in cache.get(catalog.ACTIVE_PRODUCTS_KEY)
    catalog.product_create(actor=manager, code="erp-new", name="ERP New", product_line="erp")
    data = factories.registration_data(products=["erp-new"])
    assert client.post("/api/v1/registrations/", data, format="json").status_code == 201


def test_active_products_keep_the_catalogue_order(db):
    b = factories.ProductFactory(code="b-1", name="Beta", product_line__code="zz", active=True)
    a = factories.ProductFactory(code="a-1", name="Alpha", product_line__code="aa", active=True)
    assert catalog._active_products(["b-1", "a-1", "b-1", "gone"]) == sorted(
        [a, b], key=lambda p: (p.product_line.name, p.name)
    )
    assert catalog._active_products(["b-1"])[0].product_line.code == "zz"  # line joined


# --- The managers list --------------------------------------------------------------------------


@pytest.fixture
def review_permission(db):
    return Permission.objects.get(codename="review_registration")


def _manager_ids() -> set[int]:
    return {user.pk for user in notifications._managers()}


def _warm_managers() -> set[int]:
    """Settle, read, and check the list is now cached: each change below is then seen only if
    it forgot the list."""
    _settle()
    ids = _manager_ids()
    assert {user.pk for user in cache.get(notifications.MANAGERS_KEY)} == ids
    return ids


def test_the_managers_list_is_read_once(manager):
    _warm_managers()
    with CaptureQueriesContext(connection) as queries:
        assert manager.pk in _manager_ids()
    assert len(queries.captured_queries) == 0


def test_the_cached_managers_carry_no_password_hash(manager):
    _warm_managers()
    assert all("password" not in user.__dict__ for user in cache.get(notifications.MANAGERS_KEY))


def test_permission_and_group_changes_reach_the_managers_list_at_once(manager, review_permission):
    group = Group.objects.create(name="Reviewers")
    assert manager.pk in _warm_managers()
    manager.user_permissions.remove(review_permission)
    assert manager.pk not in _manager_ids()

    assert manager.pk not in _warm_managers()
    manager.groups.add(group)
    assert manager.pk not in _manager_ids()
    assert manager.pk not in _warm_managers()
    group.permissions.add(review_permission)
    assert manager.pk in _manager_ids()

    assert manager.pk in _warm_managers()
    group.permissions.remove(review_permission)
    assert manager.pk not in _manager_ids()

    group.permissions.add(review_permission)
    assert manager.pk in _warm_managers()
    manager.groups.remove(group)
    assert manager.pk not in _manager_ids()


def test_staff_flag_and_deactivation_reach_the_managers_list_at_once(manager):
    assert manager.pk in _warm_managers()
    manager.is_active = False
    manager.save()
    assert manager.pk not in _manager_ids()

    assert manager.pk not in _warm_managers()
    manager.is_active = True
    manager.save()
    assert manager.pk in _manager_ids()

    assert manager.pk in _warm_managers()
    manager.is_staff = False
    manager.save()
    assert manager.pk not in _manager_ids()


def test_a_new_manager_is_notified_at_once(manager):
    assert _warm_managers() == {manager.pk}
    newcomer = factories.manager_user(email="dave@vendor.example", mfa=False)
    assert _manager_ids() == {manager.pk, newcomer.pk}
