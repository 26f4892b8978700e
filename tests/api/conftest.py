"""API test helpers: token clients per persona, a clean limiter cache, table hashing."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.apps import apps
from django.core.cache import cache
from rest_framework.test import APIClient

from partners.services import token_create
from tests import factories

# The schemathesis run takes minutes: only collected with RUN_FUZZ=1 (.ci/run sets it).
collect_ignore = [] if os.environ.get("RUN_FUZZ") else ["test_schemathesis.py"]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def client_for(user=None) -> APIClient:
    """An API client authenticated with a real (hashed) token of `user`, or anonymous."""
    client = APIClient()
    if user is not None:
        _, raw = token_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def as_alice(alice):
    return client_for(alice)


@pytest.fixture
def as_alice_admin(alice_admin):
    return client_for(alice_admin)


@pytest.fixture
def as_bob(bob):
    return client_for(bob)


@pytest.fixture
def as_manager(manager):
    return client_for(manager)


@pytest.fixture
def bob_admin(partner_b):
    return factories.partner_user(partner_b, role="admin", email="bea@bravo-solutions.example")


# Columns that change on reads by design (token bookkeeping) are left out of the table hash.
VOLATILE_COLUMNS = {"last_used_at"}


def hash_all_tables() -> dict[str, str]:
    """A digest of every row of every table (ISO-01 "0 rows changed")."""
    digests = {}
    for model in apps.get_models():
        fields = [
            f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_COLUMNS
        ]
        rows = model._base_manager.order_by("pk").values_list(*fields)
        digest = hashlib.sha256()
        for row in rows.iterator():
            digest.update(repr(row).encode())
        digests[model._meta.label] = digest.hexdigest()
    return digests


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))
