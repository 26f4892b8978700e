"""Fixtures for the browser-page tests (Django test client)."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def admin_client_a(client, alice_admin):
    client.force_login(alice_admin)
    return client


@pytest.fixture
def alice_registration(alice, product):
    return factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
