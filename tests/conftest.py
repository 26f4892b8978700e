"""Personas (after healthchecks' Alice/Bob/Charlie) and shared fixtures.

- alice: partner user at Partner A; alice_admin: partner admin at A
- bob: partner user at Partner B (the tenant-leak probe)
- manager: channel manager (staff + review permission, TOTP enrolled)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import TransactionTestCase

from deals.db import event_purge_allowed
from prm.lib.msgfmt import compile_stale
from tests import factories

# The translations are built by make; a bare `pytest` after editing a .po builds them here.
compile_stale(Path(settings.BASE_DIR) / "locale")

# The test runner's table flush must get through the SQLite append-only trigger.
_original_fixture_teardown = TransactionTestCase._fixture_teardown


def _fixture_teardown(self):
    with event_purge_allowed():
        result = _original_fixture_teardown(self)
    _restore_reference_data()
    return result


def _restore_reference_data():
    """A flush also empties what data migrations created (tiers, policy v1); later tests in the
    same process expect a database as `migrate` leaves it, so put those rows back."""
    from deals.models import ReportCell
    from deals.policy import policy_current

    # SQLite's flush deletes registrations row by row, so the rollup triggers leave their
    # negative deltas behind; the cells of an empty database are none.
    ReportCell.objects.all().delete()
    for code in ("registered", "silver", "gold", "platinum"):
        factories.default_tier(code)
    policy_current()


TransactionTestCase._fixture_teardown = _fixture_teardown


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache: the database rolls back between tests without
    the services that would forget what the cache holds (prm.lib.hotcache)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_attachments_storage():
    """Every test starts with an empty attachments storage: the test settings keep attachments
    in memory, one storage per process; a change of STORAGES makes Django build a new one.
    (override_settings on STORAGES alone, not pytest-django's `settings`, whose teardown would
    come after the tests' own fixtures and restore their settings too late.)"""
    from django.conf import settings
    from django.test import override_settings

    with override_settings(STORAGES={**settings.STORAGES}):
        yield


@pytest.fixture
def partner_a(db):
    return factories.PartnerFactory(name="Acme Resellers", domains=["acme-resellers.example"])


@pytest.fixture
def partner_b(db):
    return factories.PartnerFactory(name="Bravo Solutions", domains=["bravo-solutions.example"])


@pytest.fixture
def alice(partner_a):
    return factories.partner_user(partner_a, email="alice@acme-resellers.example")


@pytest.fixture
def alice_admin(partner_a):
    return factories.partner_user(partner_a, role="admin", email="ada@acme-resellers.example")


@pytest.fixture
def bob(partner_b):
    return factories.partner_user(partner_b, email="bob@bravo-solutions.example")


@pytest.fixture
def manager(db):
    return factories.manager_user(email="carol@vendor.example")


@pytest.fixture
def product(db):
    return factories.ProductFactory(code="crm-pro", name="CRM Pro", product_line__code="crm")


@pytest.fixture
def other_line_product(db):
    return factories.ProductFactory(code="erp-core", name="ERP Core", product_line__code="erp")


from tests.security.guard import *  # noqa: E402,F403 - ISO-07 unscoped-query guard (autouse)
