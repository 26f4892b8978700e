"""Issue 17 §3: notifications about a registration go to its owner plus its watchers; when the
owner can no longer act, to the partner's admins (nothing goes nowhere); expiry reminders also
go to the partner's channel manager; a reassignment tells the new owner."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from deals.models import Notification, NotificationKind
from deals.registrations import ownership, services
from deals.registrations.sweeps import reminders_send_due
from partners import services as partner_services
from tests import factories
from tests.notifications.conftest import received

pytestmark = pytest.mark.django_db
K = NotificationKind


@pytest.fixture
def carl(partner_a):
    return factories.partner_user(partner_a, email="carl@acme-resellers.example")


def test_a_deactivated_submitters_approval_notice_reaches_the_new_owner(
    alice, alice_admin, carl, manager, deliver
):
    """The defect: the approval notice of a deactivated submitter had zero recipients."""
    registration = factories.make_registration(alice, manager=manager)
    partner_services.partner_user_deactivate(
        actor=alice_admin, partner=alice.membership.partner, user=alice, new_owner_id=carl.pk
    )
    Notification.objects.all().delete()
    mail.outbox.clear()
    with deliver():
        services.registration_approve(registration=registration, actor=manager)
    assert received(carl, K.APPROVED, "in_app").count() == 1
    assert [m.to for m in mail.outbox] == [[carl.email]]
    assert received(alice).count() == 0


def test_an_owner_deactivated_outside_the_portal_falls_back_to_the_partner_admins(
    alice, alice_admin, manager
):
    """Deactivated in the Django admin or a shell (no handover ran): the admins hear."""
    registration = factories.make_registration(alice, manager=manager)
    alice.is_active = False
    alice.save()
    Notification.objects.all().delete()
    services.registration_approve(registration=registration, actor=manager)
    assert received(alice_admin, K.APPROVED, "in_app").count() == 1
    assert received(alice).count() == 0


def test_the_owner_hears_not_the_submitter_after_a_reassignment(alice, alice_admin, carl, manager):
    registration = factories.make_registration(alice, manager=manager)
    ownership.registration_reassign(registration=registration, actor=alice_admin, owner_id=carl.pk)
    Notification.objects.all().delete()
    services.registration_reject(registration=registration, actor=manager, reason="not_qualified")
    assert received(carl, K.REJECTED, "in_app").count() == 1
    assert received(alice).count() == 0


def test_watchers_hear_what_the_owner_hears(alice, carl, bob, manager):
    registration = factories.make_registration(alice, manager=manager)
    ownership.registration_watch(registration=registration, actor=carl)
    Notification.objects.all().delete()
    services.registration_request_info(registration=registration, actor=manager, message="Who?")
    assert received(alice, K.INFO_REQUESTED, "in_app").count() == 1
    assert received(carl, K.INFO_REQUESTED, "in_app").count() == 1
    assert received(bob).count() == 0


def test_a_watcher_who_moved_to_another_partner_hears_nothing(alice, carl, partner_b, manager):
    from partners.models import Membership

    registration = factories.make_registration(alice, manager=manager)
    ownership.registration_watch(registration=registration, actor=carl)
    Membership.objects.filter(user=carl).update(partner=partner_b)
    Notification.objects.all().delete()
    services.registration_approve(registration=registration, actor=manager)
    assert received(carl).count() == 0
    assert received(alice, K.APPROVED).count() >= 1


def test_the_new_owner_is_told_and_the_admin_who_did_it_is_not(alice, alice_admin, carl, deliver):
    registration = factories.make_registration(alice)
    Notification.objects.all().delete()
    mail.outbox.clear()
    with deliver():
        ownership.registration_reassign(
            registration=registration, actor=alice_admin, owner_id=carl.pk
        )
    (row,) = received(carl, K.REASSIGNED, "in_app")
    assert registration.reference in row.title
    assert row.url == f"/registrations/{registration.pk}/"
    assert received(alice_admin).count() == 0
    assert received(alice).count() == 0
    assert [m.to for m in mail.outbox] == [[carl.email]]


def test_a_handover_tells_the_new_owner_why(alice, alice_admin, carl):
    factories.make_registration(alice)
    Notification.objects.all().delete()
    partner_services.partner_user_deactivate(
        actor=alice_admin, partner=alice.membership.partner, user=alice, new_owner_id=carl.pk
    )
    (row,) = received(carl, K.REASSIGNED, "in_app")
    assert alice.email in row.body and "no longer has access" in row.body


def test_expiry_reminders_also_reach_the_partners_channel_manager(
    partner_a, alice, manager, time_machine
):
    partner_a.channel_manager = manager
    partner_a.save()
    other_manager = factories.manager_user(mfa=False)
    start = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    registration = factories.make_registration(alice, status="approved", manager=manager)
    Notification.objects.all().delete()
    time_machine.move_to(registration.expires_at - dt.timedelta(days=13), tick=False)
    assert reminders_send_due() == 1
    assert received(alice, K.EXPIRY_REMINDER, "in_app").count() == 1
    (row,) = received(manager, K.EXPIRY_REMINDER, "in_app")
    assert partner_a.name in row.title
    assert row.url == f"/manage/registrations/{registration.pk}/"
    assert received(other_manager).count() == 0
