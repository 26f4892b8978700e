"""PERF-02: every list endpoint runs the same number of queries at page sizes 1 and 200."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.models import Notification
from deals.registrations.collaboration import comment_create
from tests import factories
from tests.api.conftest import client_for

CEILING = 16  # a regression guard: no list needs more than this


@pytest.fixture
def data(alice, alice_admin, bob, manager, product, partner_a):
    registrations = []
    for n in range(3):
        factories.make_registration(
            bob, customer_name=f"Shared Customer {n}", customer_domain=f"shared{n}.com"
        )
        registrations.append(
            factories.make_registration(
                alice, customer_name=f"Shared Customer {n}", customer_domain=f"shared{n}.com"
            )
        )
        factories.make_opportunity()
        factories.ProductFactory(code=f"extra-{n}")
        factories.PartnerFactory(name=f"Extra {n} Partners")
        factories.partner_user(partner_a)
        Notification.objects.create(
            recipient=alice, kind="approved", channel="in_app", dedupe_key=f"qc:a:{n}", title="t"
        )
        Notification.objects.create(
            recipient=manager, kind="approved", channel="in_app", dedupe_key=f"qc:m:{n}", title="t"
        )
    first = registrations[0]
    for n in range(3):
        comment_create(registration=first, actor=alice if n % 2 else manager, body=f"c{n}")
        factories.make_attachment(alice, first, name=f"evidence-{n}.txt", content=b"x\n")
    return {"registration": first.pk, "partner": partner_a.pk}


LISTS = [
    ("partner", "/api/v1/registrations/"),
    ("manager", "/api/v1/registrations/"),
    ("partner", "/api/v1/registrations/{registration}/comments/"),
    ("manager", "/api/v1/registrations/{registration}/comments/"),
    ("partner", "/api/v1/registrations/{registration}/attachments/"),
    ("manager", "/api/v1/registrations/{registration}/attachments/"),
    ("partner", "/api/v1/notifications/"),
    ("manager", "/api/v1/notifications/"),
    ("manager", "/api/v1/partners/"),
    ("manager", "/api/v1/partners/{partner}/users/"),
    ("admin", "/api/v1/partners/{partner}/users/"),
    ("manager", "/api/v1/opportunities/"),
]


@pytest.mark.parametrize("role,url", LISTS, ids=[f"{r} {u}" for r, u in LISTS])
def test_list_query_count_is_constant(
    data, alice, alice_admin, manager, role, url, django_assert_max_num_queries
):
    user = {"partner": alice, "admin": alice_admin, "manager": manager}[role]
    client = client_for(user)
    url = url.format(**data)
    client.get("/api/v1/me/")  # token bookkeeping (last_used_at) happens on the first call
    with CaptureQueriesContext(connection) as small:
        one = client.get(url, {"page_size": 1})
    assert one.status_code == 200
    assert len(one.json()["results"]) == 1
    assert one.json()["count"] >= 3, (
        "the list needs several rows for the comparison to mean something"
    )
    k = len(small.captured_queries)
    assert k <= CEILING
    with django_assert_max_num_queries(k):
        full = client.get(url, {"page_size": 200})
    assert len(full.json()["results"]) == full.json()["count"] >= 3


# Lists that docs/api.md documents as bare arrays: the query count must not grow with their length.
ARRAYS = [
    ("partner", "/api/v1/registrations/{registration}/history/"),
    ("manager", "/api/v1/registrations/{registration}/history/"),
    ("partner", "/api/v1/products/"),
    ("partner", "/api/v1/tiers/"),
    ("manager", "/api/v1/conflicts/"),
]


def _grow(data, alice, bob, manager, n):
    from deals.models import DealRegistration

    first = DealRegistration.objects.get(pk=data["registration"])
    for i in range(n):
        factories.ProductFactory(code=f"more-{i}")
        factories.default_tier(f"tier-{i}")
        comment_create(registration=first, actor=alice, body=f"more {i}")
        factories.make_registration(
            bob, customer_name=f"Grown Customer {i}", customer_domain=f"grown{i}.com"
        )
        factories.make_registration(
            alice, customer_name=f"Grown Customer {i}", customer_domain=f"grown{i}.com"
        )


@pytest.mark.parametrize("role,url", ARRAYS, ids=[f"{r} {u}" for r, u in ARRAYS])
def test_array_query_count_does_not_grow(
    data, alice, alice_admin, bob, manager, role, url, django_assert_max_num_queries
):
    user = {"partner": alice, "admin": alice_admin, "manager": manager}[role]
    client = client_for(user)
    url = url.format(**data)
    client.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as small:
        before = client.get(url)
    assert before.status_code == 200 and isinstance(before.json(), list)
    k = len(small.captured_queries)
    assert k <= CEILING
    _grow(data, alice, bob, manager, 6)
    with django_assert_max_num_queries(k):
        after = client.get(url)
    assert len(after.json()) > len(before.json()), "the list must have grown"
