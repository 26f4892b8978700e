"""Each notification kind reaches the right people, and never the wrong ones (tenant!)."""

from __future__ import annotations

import pytest
from django.core import mail

from deals.models import Notification, NotificationKind
from deals.registrations import services
from deals.registrations.collaboration import comment_create
from deals.registrations.extensions import extension_request_create, extension_request_decide
from deals.registrations.sweeps import registrations_expire_due
from partners.models import Membership
from partners.roles import is_manager, membership_of
from tests import factories
from tests.notifications.conftest import kinds_for, received

pytestmark = pytest.mark.django_db

K = NotificationKind


def _emails_to(address):
    return [m for m in mail.outbox if address in m.to]


class TestSubmissionReceived:
    def test_partner_and_all_managers_without_channel_manager(
        self, alice, bob, manager, deliver, product
    ):
        other_manager = factories.manager_user(email="dan@vendor.example")
        with deliver():
            registration = factories.make_registration(alice)
        for user in (alice, manager, other_manager):
            assert received(user, K.SUBMISSION_RECEIVED, "in_app").count() == 1, user
            assert received(user, K.SUBMISSION_RECEIVED, "email").count() == 1, user
        assert received(bob).count() == 0
        row = received(alice, K.SUBMISSION_RECEIVED, "in_app").get()
        assert row.status == "sent" and row.sent_at is not None, "in-app rows are sent at once"
        assert row.url == f"/registrations/{registration.pk}/"
        assert received(manager, K.SUBMISSION_RECEIVED, "in_app").get().url == (
            f"/manage/registrations/{registration.pk}/"
        )
        # The after-commit task delivered every e-mail row exactly once.
        assert not Notification.objects.filter(channel="email").exclude(status="sent").exists()
        assert len(_emails_to(alice.email)) == 1
        assert len(_emails_to(manager.email)) == 1
        assert len(_emails_to(bob.email)) == 0

    def test_only_the_channel_manager_when_assigned(self, partner_a, alice, manager, deliver):
        other_manager = factories.manager_user(email="dan@vendor.example")
        partner_a.channel_manager = other_manager
        partner_a.save()
        with deliver():
            factories.make_registration(alice)
        assert received(other_manager, K.SUBMISSION_RECEIVED).count() == 2
        assert received(manager).count() == 0

    def test_a_channel_manager_who_lost_the_role_falls_back_to_all(
        self, partner_a, alice, manager, deliver
    ):
        former = factories.UserFactory(email="former@vendor.example", is_staff=True)
        assert not is_manager(former)
        partner_a.channel_manager = former
        partner_a.save()
        factories.make_registration(alice)
        assert received(former).count() == 0
        assert received(manager, K.SUBMISSION_RECEIVED).count() == 2


class TestDecisions:
    def test_approved_reaches_the_submitter_only(self, alice, alice_admin, bob, manager, deliver):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        with deliver():
            services.registration_approve(registration=registration, actor=manager, note="Go!")
        assert kinds_for(alice) == [K.APPROVED]
        assert kinds_for(alice, "email") == [K.APPROVED]
        for user in (alice_admin, bob, manager):
            assert received(user).count() == 0, user
        (message,) = mail.outbox
        assert message.to == [alice.email]
        assert "approved" in message.subject and "Go!" in message.body

    def test_rejected_with_reason_and_note(self, alice, bob, manager, deliver):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        with deliver():
            services.registration_reject(
                registration=registration,
                actor=manager,
                reason="outside_territory",
                note="We only cover EMEA.",
            )
        row = received(alice, K.REJECTED, "in_app").get()
        assert "Outside territory" in row.body
        (message,) = mail.outbox
        assert "Reason: Outside territory" in message.body
        assert "We only cover EMEA." in message.body
        assert received(bob).count() == 0 and received(manager).count() == 0

    def test_info_requested_then_resubmitted(self, alice, bob, manager, deliver):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        with deliver():
            services.registration_request_info(
                registration=registration, actor=manager, message="Which department?"
            )
        assert kinds_for(alice) == [K.INFO_REQUESTED]
        assert "Which department?" in mail.outbox[0].body
        assert received(manager).count() == 0
        with deliver():
            services.registration_submit(registration=registration, actor=alice)
        assert kinds_for(manager) == [K.RESUBMITTED]
        assert kinds_for(alice) == [K.INFO_REQUESTED], "the partner is not told of own resubmit"
        assert received(bob).count() == 0

    def test_auto_approval_tells_the_partner(self, partner_a, alice, manager):
        partner_a.tier.auto_approve_ceiling = "1000000.00"
        partner_a.tier.save()
        factories.make_registration(alice)
        assert kinds_for(alice) == sorted([K.SUBMISSION_RECEIVED, K.APPROVED])
        assert "automatically" in received(alice, K.APPROVED, "in_app").get().body


class TestComments:
    def test_manager_comment_reaches_the_partner_not_the_author(self, alice, bob, manager):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        comment_create(registration=registration, actor=manager, body="Any update?")
        assert kinds_for(alice) == [K.COMMENT]
        assert received(manager).count() == 0 and received(bob).count() == 0
        assert received(alice, K.COMMENT, "email").get().context["note"] == "Any update?"

    def test_partner_comment_reaches_managers_not_the_author(self, alice, alice_admin, manager):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        comment_create(registration=registration, actor=alice_admin, body="Demo done.")
        assert kinds_for(manager) == [K.COMMENT]
        assert received(alice_admin).count() == 0
        assert received(alice).count() == 0, "same side: partners are not told of each other"

    def test_internal_notes_never_reach_partners(self, alice, manager, deliver):
        other_manager = factories.manager_user(email="dan@vendor.example")
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        with deliver():
            comment_create(
                registration=registration, actor=manager, body="SECRET-NOTE-42", internal=True
            )
        assert received(alice).count() == 0
        assert not Notification.objects.filter(body__contains="SECRET-NOTE-42").exists()
        assert not Notification.objects.filter(context__icontains="SECRET-NOTE-42").exists()
        assert all("SECRET-NOTE-42" not in m.body for m in mail.outbox)
        assert received(other_manager).count() == 0


class TestConflicts:
    def test_conflict_reaches_managers_never_partners(self, alice, bob, manager, deliver):
        factories.make_registration(
            alice, customer_name="Globex Corporation", customer_domain="globex.com"
        )
        Notification.objects.all().delete()
        with deliver():
            second = factories.make_registration(
                bob, customer_name="Globex Corp", customer_domain="globex.com"
            )
        assert second.conflict_status == "conflict"
        assert kinds_for(manager) == sorted([K.CONFLICT_DETECTED, K.SUBMISSION_RECEIVED])
        assert kinds_for(bob) == [K.SUBMISSION_RECEIVED]
        assert received(alice).count() == 0
        # Nothing bob receives names Alice's company.
        for row in received(bob):
            assert "Acme" not in row.title + row.body + str(row.context)
        assert all("Acme" not in m.body for m in _emails_to(bob.email))

    def test_direct_rep_hears_when_staff(self, alice, manager):
        rep = factories.UserFactory(email="rep@vendor.example", is_staff=True)
        outsider = factories.UserFactory(email="notstaff@vendor.example")
        factories.make_opportunity(
            account_name="Initech", account_domain="initech.com", owner_email="REP@vendor.example"
        )
        factories.make_opportunity(
            account_name="Initech Labs", account_domain="initech.com", owner_email=outsider.email
        )
        registration = factories.make_registration(
            alice, customer_name="Initech", customer_domain="initech.com"
        )
        assert registration.conflict_status == "conflict"
        assert kinds_for(rep) == [K.CONFLICT_DETECTED]
        assert "direct opportunity you own" in received(rep, channel="in_app").get().body
        assert received(outsider).count() == 0, "an opportunity owner who is not staff"
        assert K.CONFLICT_DETECTED in kinds_for(manager)


class TestExtensionsAndExpiry:
    def test_extension_requested_then_decided(self, alice, alice_admin, bob, manager, deliver):
        registration = factories.make_registration(alice, status="approved", manager=manager)
        Notification.objects.all().delete()
        request = extension_request_create(
            registration=registration, actor=alice_admin, reason="Customer procurement slipped."
        )
        assert kinds_for(manager) == [K.EXTENSION_REQUESTED]
        assert received(alice).count() == 0 and received(alice_admin).count() == 0
        with deliver():
            extension_request_decide(request=request, actor=manager, approve=True)
        assert kinds_for(alice_admin) == [K.EXTENSION_DECIDED], "the requester"
        assert kinds_for(alice) == [K.EXTENSION_DECIDED], "and the submitter"
        assert "Approved" in mail.outbox[0].body
        assert received(bob).count() == 0

    def test_expired_reaches_the_partner(self, alice, bob, manager, time_machine):
        registration = factories.make_registration(alice, status="approved", manager=manager)
        Notification.objects.all().delete()
        time_machine.move_to(registration.expires_at + __import__("datetime").timedelta(seconds=1))
        assert registrations_expire_due() == 1
        assert kinds_for(alice) == [K.EXPIRED]
        assert received(bob).count() == 0 and received(manager).count() == 0


class TestTenantIsolation:
    def test_no_partner_user_ever_hears_about_another_partners_registration(
        self, alice, alice_admin, bob, manager, deliver, product
    ):
        bob_colleague = factories.partner_user(bob.membership.partner, role="admin")
        with deliver():
            r1 = factories.make_registration(alice, manager=manager)
            comment_create(registration=r1, actor=manager, body="Hi Acme")
            services.registration_request_info(registration=r1, actor=manager, message="More?")
            comment_create(registration=r1, actor=alice_admin, body="Here you go")
            services.registration_submit(registration=r1, actor=alice)
            services.registration_approve(registration=r1, actor=manager)
            ext = extension_request_create(registration=r1, actor=alice, reason="Slip")
            extension_request_decide(request=ext, actor=manager, approve=False)
            r2 = factories.make_registration(bob, manager=manager)
            services.registration_reject(registration=r2, actor=manager, reason="not_qualified")
            factories.make_registration(
                bob, customer_name=r1.customer_name, customer_domain=r1.customer_domain
            )
        assert Notification.objects.count() > 20
        checked = 0
        for row in Notification.objects.select_related("recipient", "registration"):
            membership = membership_of(row.recipient)
            if membership is not None and not is_manager(row.recipient):
                assert membership.partner_id == row.registration.partner_id, (
                    f"{row.recipient} got {row.kind} about another partner's registration"
                )
                checked += 1
        assert checked >= 10
        acme = r1.partner.name
        for user in (bob, bob_colleague):
            for message in _emails_to(user.email):
                assert acme not in message.body and r1.reference not in message.body
                assert r1.customer_name not in message.subject

    def test_a_user_who_moved_partner_stops_hearing_about_the_old_one(
        self, alice, partner_b, manager
    ):
        registration = factories.make_registration(alice, manager=manager)
        Membership.objects.filter(user=alice).update(partner=partner_b)
        alice.refresh_from_db()
        Notification.objects.all().delete()
        services.registration_approve(registration=registration, actor=manager)
        assert received(alice).count() == 0

    def test_deactivated_users_get_nothing(self, alice, manager):
        registration = factories.make_registration(alice, manager=manager)
        Notification.objects.all().delete()
        alice.is_active = False
        alice.save()
        services.registration_approve(registration=registration, actor=manager)
        assert received(alice).count() == 0


def test_query_count_does_not_grow_with_the_number_of_managers(alice, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def submit_queries():
        with CaptureQueriesContext(connection) as queries:
            factories.make_registration(alice, manager=manager)
        return len(queries)

    submit_queries()  # warm caches (policy, content types)
    few = submit_queries()
    for _ in range(8):
        factories.manager_user(mfa=False)
    many = submit_queries()
    assert received(manager, K.SUBMISSION_RECEIVED, "in_app").count() == 3
    assert many == few, f"{few} queries with 1 manager, {many} with 9"
