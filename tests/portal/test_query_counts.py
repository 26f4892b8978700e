"""Every page runs a constant number of queries whatever the list length: each is measured
with 2 rows and with 20 rows, and the counts must be equal."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals.models import Notification
from deals.opportunities.services import opportunity_delete
from deals.registrations import services
from deals.registrations.collaboration import activity_create, comment_create
from partners.services import token_create
from tests import factories

pytestmark = pytest.mark.django_db


def queries_for(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context)


def assert_constant(client, url_for, grow):
    """Measure with 2 rows, grow to 20, measure again."""
    grow(2)
    small = queries_for(client, url_for())
    grow(18)
    large = queries_for(client, url_for())
    assert small == large, f"{url_for()}: {small} queries with 2 rows, {large} with 20"
    assert small <= 30


def test_dashboard(client, alice, manager, product):
    client.force_login(alice)

    def grow(n):
        for _ in range(n):
            registration = factories.make_registration(alice)
            services.registration_approve(
                registration=registration, actor=manager, protection_days=10
            )
            factories.make_registration(alice, status="draft")

    assert_constant(client, lambda: reverse("home"), grow)


def test_registration_list(client, alice, product):
    client.force_login(alice)
    assert_constant(
        client,
        lambda: reverse("registration_list"),
        lambda n: [factories.make_registration(alice) for _ in range(n)],
    )


def test_registration_list_for_manager(client, alice, bob, manager, product):
    client.force_login(manager)
    assert_constant(
        client,
        lambda: reverse("registration_list"),
        lambda n: [factories.make_registration(alice if i % 2 else bob) for i in range(n)],
    )


def test_registration_detail(client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    client.force_login(alice)
    today = timezone.localdate().isoformat()

    def grow(n):
        for i in range(n):
            comment_create(registration=registration, actor=alice, body=f"Comment {i}")
            comment_create(
                registration=registration, actor=manager, body=f"Note {i}", internal=True
            )
            # Evidence (issue 17 §2): a file per round, each pointed to by an activity.
            attachment = factories.make_attachment(
                alice, registration, name=f"call-{i}.txt", content=f"notes {i}\n".encode()
            )
            activity_create(
                registration=registration,
                actor=alice,
                kind="call",
                occurred_on=today,
                summary=f"Call {i}",
                attachment_id=attachment.pk,
            )

    assert_constant(client, lambda: reverse("registration_detail", args=[registration.pk]), grow)


def test_notifications(client, alice, alice_registration):
    client.force_login(alice)
    counter = iter(range(1000))

    def grow(n):
        for _ in range(n):
            Notification.objects.create(
                recipient=alice,
                kind="approved",
                channel="in_app",
                dedupe_key=f"q-{next(counter)}",
                title="Approved",
                registration=alice_registration,
            )

    assert_constant(client, lambda: reverse("notification_list"), grow)


def test_review_queue(client, alice, bob, manager, product, other_line_product):
    client.force_login(manager)

    def grow(n):
        for i in range(n):
            factories.make_registration(alice if i % 2 else bob, products=["crm-pro", "erp-core"])
            factories.make_opportunity()

    assert_constant(client, lambda: reverse("manage_queue"), grow)


def test_review_page(client, alice, manager, product):
    registration = factories.make_registration(
        alice, customer_name="Hooli", customer_domain="hooli.com"
    )
    client.force_login(manager)
    counter = iter(range(1000))

    def grow(n):
        # Each new direct opportunity for the same customer adds a conflict to the registration.
        for _ in range(n):
            i = next(counter)
            opportunity = factories.make_opportunity(
                account_name="Hooli", account_domain="hooli.com", external_id=f"H-{i}"
            )
            if i % 3 == 0:
                opportunity_delete(opportunity=opportunity, actor=manager)
            comment_create(registration=registration, actor=manager, body=f"n{i}", internal=True)
            factories.make_attachment(
                registration.submitted_by, registration, name=f"{i}.txt", content=b"quote\n"
            )

    assert_constant(client, lambda: reverse("manage_registration", args=[registration.pk]), grow)


def test_review_page_with_registration_conflicts(client, manager, product):
    target = {}

    def grow(n):
        for _ in range(n):
            partner = factories.PartnerFactory()
            user = factories.partner_user(partner)
            registration = factories.make_registration(
                user, customer_name="Initech", customer_domain="initech.com"
            )
            activity_create(
                registration=registration,
                actor=user,
                kind="demo",
                occurred_on=timezone.localdate().isoformat(),
                summary="demo",
            )
            target.setdefault("last", registration)
            target["last"] = registration

    client.force_login(manager)
    grow(2)
    small = queries_for(client, reverse("manage_registration", args=[target["last"].pk]))
    grow(18)
    large = queries_for(client, reverse("manage_registration", args=[target["last"].pk]))
    assert small == large


def test_partner_list_and_detail(client, manager, partner_a, product):
    client.force_login(manager)

    def grow(n):
        for _ in range(n):
            partner = factories.PartnerFactory()
            factories.partner_user(partner)
            user = factories.partner_user(partner_a)
            factories.make_registration(user)

    assert_constant(client, lambda: reverse("manage_partner_list"), grow)
    assert_constant(client, lambda: reverse("manage_partner_detail", args=[partner_a.pk]), grow)


def test_opportunity_list(client, manager, product):
    client.force_login(manager)
    assert_constant(
        client,
        lambda: reverse("manage_opportunity_list"),
        lambda n: [factories.make_opportunity() for _ in range(n)],
    )


def test_company_users_and_tokens(client, alice_admin, partner_a):
    client.force_login(alice_admin)
    assert_constant(
        client,
        lambda: reverse("company_users"),
        lambda n: [factories.partner_user(partner_a) for _ in range(n)],
    )
    assert_constant(
        client,
        lambda: reverse("token_list"),
        lambda n: [token_create(user=alice_admin, name="t") for _ in range(n)],
    )
