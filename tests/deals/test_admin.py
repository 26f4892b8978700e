"""The admin as a real tool: every page answers, registrations and events cannot be changed or
deleted (AUD-03), actions call the services, the rules of engagement are versioned with a
what-if preview, opportunities go through the opportunity services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conflicts.models import Conflict, IdentityEntry, IgnoredPair, KeyFrequency
from deals.customfields import field_create
from deals.models import (
    ConflictCheckLog,
    DealRegistration,
    DirectOpportunity,
    IncentiveRule,
    Notification,
    NotificationPreference,
    RegistrationEvent,
    RulesOfEngagement,
)
from deals.policy import POLICY_FIELDS, policy_current, policy_publish
from deals.registrations import services
from deals.registrations.collaboration import activity_create, comment_create
from deals.registrations.extensions import extension_request_create
from partners import services as partner_services
from partners.models import ApiToken, Partner, PartnerEmailException
from rewards.services import win_verify
from tests import factories

OUR_APPS = {"partners", "deals", "conflicts", "rewards"}


@pytest.fixture
def superuser(db):
    return factories.manager_user(email="root@vendor.example", superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def everything(alice, alice_admin, bob, manager, product, superuser):
    """At least one object of every model registered by the project."""
    customer = {"customer_name": "Everything Industries", "customer_domain": "everything.com"}
    approved = factories.make_registration(alice, status="approved", manager=manager, **customer)
    comment_create(registration=approved, actor=alice, body="Kick-off done.")
    activity_create(
        registration=approved, actor=alice, kind="meeting", occurred_on="2026-01-05", summary="Met."
    )
    extension_request_create(registration=approved, actor=alice, reason="Delay.")
    factories.make_attachment(alice, approved)
    contested = factories.make_registration(bob, **customer)
    conflict = Conflict.objects.get(registration_id=contested.pk)
    other = factories.make_registration(bob, customer_name="Everything Else", customer_domain="")
    opportunity = factories.make_opportunity(account_name="Everything Else Corp")
    services.conflict_resolve(
        conflict=Conflict.objects.filter(registration_id=other.pk).first()
        or Conflict.objects.create(
            registration_id=other.pk,
            kind="direct_opportunity",
            other_id=opportunity.pk,
            other_label="x",
            score=90,
        ),
        actor=manager,
        resolution="not_a_conflict",
    )
    # A co-sell agreement (issue 14) for its admin page.
    services.conflict_resolve(conflict=conflict, actor=manager, resolution="co_sell")
    # A verified win's accrual (issue 19) for its admin page.
    win_verify(
        registration=factories.make_registration(alice, status="won", manager=manager),
        actor=manager,
    )
    partner_services.token_create(user=alice, name="CRM sync")
    partner_services.integration_create(
        actor=manager, name="Warehouse", scopes=["registrations:read"]
    )
    partner_services.partner_user_create(
        actor=alice_admin, partner=alice.membership.partner, email="newbie@acme-resellers.example"
    )
    NotificationPreference.objects.create(user=alice, kind="comment", email_enabled=False)
    PartnerEmailException.objects.create(
        partner=alice.membership.partner, value="acme-group.example", created_by=manager
    )
    ConflictCheckLog.objects.create(
        user=alice, partner_id=1, customer_key_hash="0" * 64, verdict="clear"
    )
    if not Notification.objects.exists():
        Notification.objects.create(
            recipient=alice, kind="comment", channel="in_app", dedupe_key="t1", title="Hello"
        )
    Group.objects.create(name="Reviewers")
    # An incentive rule (issue 19), carried into v2 by the publish below.
    IncentiveRule.objects.create(
        policy_version=policy_current().version,
        tier=alice.membership.partner.tier,
        kind="percent_of_won",
        value="5.00",
    )
    policy_publish(actor=superuser, change_note="v2")
    # The reporting currency and a rate (issue 18 §5).
    from deals.models import ExchangeRate, ReportingCurrency

    ReportingCurrency.objects.create(code="USD", changed_by=superuser)
    ExchangeRate.objects.create(
        reporting_currency="USD", currency="EUR", month="2026-10-01", rate="1.1"
    )
    # A custom registration field and its form version (issue 17 §1).
    field_create(
        actor=manager,
        data={"key": "budget", "label": "Budget confirmed", "type": "boolean"},
    )
    # A partner application and an accepted version of the program terms (issue 18 §1).
    from partners.applications import application_submit
    from partners.models import ProgramTerms
    from partners.terms import terms_accept
    from prm.lib.time import timezone_now

    application_submit(
        data={
            "company_name": "Everything Channel",
            "legal_name": "Everything Channel Ltd",
            "domain": "everything-channel.com",
            "country": "GB",
            "contact_name": "Eve",
            "contact_email": "eve@everything-channel.com",
            "expected_focus": "Everything.",
        },
        ip="192.0.2.1",
    )
    ProgramTerms.objects.create(version=1, text="Be fair.", published_at=timezone_now())
    terms_accept(user=alice, version=1)
    # A partner's single sign-on provider (issue 18 §2).
    from partners.models import IdentityProvider

    IdentityProvider.objects.create(
        name="Acme SSO",
        slug="acme",
        partner=alice.membership.partner,
        server_url="https://login.acme.example/",
        client_id="dealbridge",
        client_secret="s3cret",
    )
    # Approval routing (issue 17 §4): a team, a rule, a second step, a delegation.
    from deals.models import ApprovalTeam, Delegation, RoutingRule, SecondStepRule

    team = ApprovalTeam.objects.create(name="Directors")
    team.members.add(manager)
    RoutingRule.objects.create(order=1, name="DACH", countries=["DE"], assign_team=team)
    SecondStepRule.objects.create(
        name="Above 250k", thresholds={"USD": "250000.00"}, approver_manager=manager
    )
    Delegation.objects.create(
        manager=manager,
        delegate=superuser,
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(days=3),
    )
    assert conflict and IgnoredPair.objects.exists() and KeyFrequency.objects.exists()
    return approved


def _registered():
    return sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)


def test_every_admin_page_answers_for_a_superuser(admin_client, superuser, everything):
    request = type("R", (), {"user": superuser})()
    assert admin_client.get(reverse("admin:index")).status_code == 200
    checked = set()
    for model, model_admin in _registered():
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        response = admin_client.get(reverse(f"{prefix}_changelist"))
        assert response.status_code == 200, (opts.label, "changelist", response.status_code)
        add = admin_client.get(reverse(f"{prefix}_add"))
        expected = 200 if model_admin.has_add_permission(request) else 403
        assert add.status_code == expected, (opts.label, "add", add.status_code)
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            assert opts.app_label not in OUR_APPS, f"no {opts.label} to open"
            continue
        change = admin_client.get(reverse(f"{prefix}_change", args=[obj.pk]))
        assert change.status_code == 200, (opts.label, "change", change.status_code)
        checked.add(opts.label)
    ours = {m._meta.label for m, _ in _registered() if m._meta.app_label in OUR_APPS}
    assert ours <= checked
    assert {"deals.DealRegistration", "deals.RegistrationEvent", "deals.RulesOfEngagement"} <= ours


def test_changelists_search_filter_and_date_hierarchy(admin_client, everything):
    url = reverse("admin:deals_dealregistration_changelist")
    for query in (
        "?q=Everything",
        f"?q={everything.reference}",
        "?q=everything.com",
        "?q=Acme",
        "?status__exact=approved",
        "?conflict_status__exact=conflict",
        "?partner__tier__id__exact=1",
        "?overdue=yes",
        "?submitted_at__year=2026",
    ):
        response = admin_client.get(url + query)
        assert response.status_code == 200, query
    response = admin_client.get(url + f"?q={everything.reference}")
    assert everything.reference in response.content.decode()
    assert "Everything Industries" in response.content.decode()


def test_registration_changelist_query_count_is_constant(
    admin_client, alice, product, django_assert_max_num_queries
):
    url = reverse("admin:deals_dealregistration_changelist")
    factories.make_registration(alice)
    admin_client.get(url)
    with django_assert_max_num_queries(30) as small:
        admin_client.get(url)
    for _ in range(15):
        factories.make_registration(alice)
    with django_assert_max_num_queries(len(small.captured_queries)):
        admin_client.get(url)


# --- Registrations: never edited or deleted here ----------------------------------------------------


def test_registrations_and_events_cannot_be_deleted_or_changed(admin_client, superuser, everything):
    request = type("R", (), {"user": superuser})()
    for model in (DealRegistration, RegistrationEvent):
        model_admin = admin.site._registry[model]
        assert model_admin.has_delete_permission(request, None) is False
        assert model_admin.has_delete_permission(request, model.objects.first()) is False
        assert model_admin.has_change_permission(request, model.objects.first()) is False
        assert model_admin.has_add_permission(request) is False
        assert "delete_selected" not in model_admin.get_actions(
            type("R", (), {"user": superuser, "GET": {}, "POST": {}})()
        )
    change = reverse("admin:deals_dealregistration_change", args=[everything.pk])
    response = admin_client.post(change, {"status": "won"})
    assert response.status_code == 403
    delete = reverse("admin:deals_dealregistration_delete", args=[everything.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    everything.refresh_from_db()
    assert everything.status == "approved"
    page = admin_client.get(change).content.decode()
    assert 'name="status"' not in page
    event = RegistrationEvent.objects.filter(registration=everything).first()
    assert (
        admin_client.post(
            reverse("admin:deals_registrationevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_registration_change_page_shows_events_and_comments(admin_client, everything):
    page = admin_client.get(
        reverse("admin:deals_dealregistration_change", args=[everything.pk])
    ).content.decode()
    assert "Kick-off done." in page
    assert "extension_requested" in page or "Extension requested" in page


# --- Actions call the services ------------------------------------------------------------------------


def _action(client, action, registrations):
    return client.post(
        reverse("admin:deals_dealregistration_changelist"),
        {"action": action, "_selected_action": [r.pk for r in registrations]},
        follow=True,
    )


def test_approve_action_calls_the_service(admin_client, superuser, alice, product):
    pending = [factories.make_registration(alice) for _ in range(2)]
    draft = factories.make_registration(alice, status="draft")
    response = _action(admin_client, "approve_selected", [*pending, draft])
    assert response.status_code == 200
    text = response.content.decode()
    assert "2 registration(s) approved." in text
    assert "You cannot approve a registration that is draft." in text
    for registration in pending:
        registration.refresh_from_db()
        assert registration.status == "approved"
        event = RegistrationEvent.objects.get(registration=registration, action="approved")
        assert event.actor == superuser
        assert registration.expires_at is not None
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_reject_action_calls_the_service(admin_client, superuser, alice, product):
    registration = factories.make_registration(alice)
    response = _action(admin_client, "reject_selected_not_qualified", [registration])
    assert "1 registration(s) rejected." in response.content.decode()
    registration.refresh_from_db()
    assert (registration.status, registration.rejection_reason) == ("rejected", "not_qualified")
    event = RegistrationEvent.objects.get(registration=registration, action="rejected")
    assert event.details["reason"] == "not_qualified"


def test_review_actions_need_the_review_permission(client, alice, product):
    staff = factories.UserFactory(email="helpdesk@vendor.example", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_dealregistration"))
    factories.enrol_totp(staff)
    client.force_login(staff)
    registration = factories.make_registration(alice)
    response = _action(client, "approve_selected", [registration])
    assert response.status_code == 200
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert not RegistrationEvent.objects.filter(
        registration=registration, action="approved"
    ).exists()


def test_extension_request_actions_call_the_service(admin_client, alice, manager, product):
    registration = factories.make_registration(alice, status="approved", manager=manager)
    before = registration.expires_at
    request = extension_request_create(registration=registration, actor=alice, reason="x")
    response = admin_client.post(
        reverse("admin:deals_extensionrequest_changelist"),
        {"action": "approve_selected", "_selected_action": [request.pk]},
        follow=True,
    )
    assert "1 extension request(s) approved." in response.content.decode()
    registration.refresh_from_db()
    assert registration.expires_at > before
    assert RegistrationEvent.objects.filter(
        registration=registration, action="extension_approved"
    ).exists()


# --- Rules of engagement -------------------------------------------------------------------------------


def _policy_post(**overrides):
    """The admin form as an administrator fills it in: reminder days "14, 3", one holiday per
    line, one "CUR amount" per line, the required fields as ticked boxes."""
    current = policy_current()
    data = {}
    for name in POLICY_FIELDS:
        value = getattr(current, name)
        if name == "reminder_days":
            value = ", ".join(str(d) for d in value)
        elif name == "holidays":
            value = "\n".join(value)
        elif name == "min_deal_values":
            value = "\n".join(f"{c} {a}" for c, a in value.items())
        elif name == "required_fields":
            data[name] = list(value)
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = str(value)
    data["change_note"] = "Tighter thresholds"
    data.update(overrides)
    return data


def test_policy_add_publishes_a_new_version(admin_client, superuser):
    v1 = policy_current()
    url = reverse("admin:deals_rulesofengagement_add")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.context["adminform"].form.initial["protection_days"] == v1.protection_days
    response = admin_client.post(url, _policy_post(protection_days="60"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    v2 = policy_current()
    assert v2.version == v1.version + 1
    assert (v2.protection_days, v2.created_by, v2.change_note) == (
        60,
        superuser,
        "Tighter thresholds",
    )
    v1.refresh_from_db()
    assert v1.protection_days == 90


def test_policy_versions_are_read_only_with_history(admin_client, superuser):
    v1 = policy_current()
    policy_publish(actor=superuser, protection_days=45, change_note="Shorter")
    url = reverse("admin:deals_rulesofengagement_change", args=[v1.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Create a new version from this" in text
    assert "Version history" in text and "Shorter" in text
    assert 'name="protection_days"' not in text
    assert admin_client.post(url, _policy_post(protection_days="5")).status_code == 403
    v1.refresh_from_db()
    assert v1.protection_days == 90
    # "Create a new version from this" starts from that version's values.
    add = admin_client.get(reverse("admin:deals_rulesofengagement_add") + f"?from={v1.pk}")
    assert add.context["adminform"].form.initial["protection_days"] == 90
    assert (
        admin_client.post(
            reverse("admin:deals_rulesofengagement_delete", args=[v1.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_policy_add_refuses_invalid_thresholds(admin_client):
    versions = RulesOfEngagement.objects.count()
    response = admin_client.post(
        reverse("admin:deals_rulesofengagement_add"),
        _policy_post(review_threshold="96", certain_threshold="95"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert RulesOfEngagement.objects.count() == versions


def test_policy_preview_shows_impact_and_saves_nothing(admin_client, alice, bob, product):
    factories.make_registration(alice, customer_name="Zephyrine, Inc.", customer_domain="")
    near = factories.make_registration(
        bob, customer_name="Zephyrine Industries", customer_domain=""
    )
    assert near.conflict_status in ("potential_conflict", "conflict")
    versions = RulesOfEngagement.objects.count()
    response = admin_client.post(
        reverse("admin:deals_rulesofengagement_add"),
        _policy_post(review_threshold="99", certain_threshold="100", _preview="Preview"),
    )
    assert response.status_code == 200
    assert RulesOfEngagement.objects.count() == versions
    what_if = response.context["what_if"]
    assert what_if["evaluated"] == 2
    assert what_if["changed"] == 1
    text = response.content.decode()
    assert "Impact preview" in text
    assert near.reference in text
    # The form keeps the proposed values for saving.
    assert response.context["adminform"].form.data["review_threshold"] == "99"


# --- Partners, users and tokens -----------------------------------------------------------------------


def test_partner_suspend_action_revokes_tokens(admin_client, alice, partner_a):
    token, _ = partner_services.token_create(user=alice)
    response = admin_client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "suspend_selected", "_selected_action": [partner_a.pk]},
        follow=True,
    )
    assert response.status_code == 200
    partner_a.refresh_from_db()
    token.refresh_from_db()
    assert partner_a.status == Partner.Status.SUSPENDED
    assert token.revoked_at is not None


def test_partner_change_through_the_service(admin_client, alice, partner_a):
    token, _ = partner_services.token_create(user=alice)
    url = reverse("admin:partners_partner_change", args=[partner_a.pk])
    data = {
        "name": partner_a.name,
        "legal_name": "Acme Resellers Inc.",
        "domains": "https://www.acme-resellers.com/",
        "country": "us",
        "tier": partner_a.tier_id,
        "status": "suspended",
        "channel_manager": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
        "email_exceptions-TOTAL_FORMS": "0",
        "email_exceptions-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner_a.refresh_from_db()
    token.refresh_from_db()
    assert partner_a.domains == ["acme-resellers.com"]
    assert partner_a.country == "US"
    assert token.revoked_at is not None


def test_partner_add_validates_country(admin_client):
    response = admin_client.post(
        reverse("admin:partners_partner_add"),
        {
            "name": "Nowhere Partners",
            "country": "XX",
            "tier": factories.default_tier("gold").pk,
            "status": "active",
            "domains": "[]",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
            "email_exceptions-TOTAL_FORMS": "0",
            "email_exceptions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "country" in response.context["adminform"].form.errors
    assert not Partner.objects.filter(name="Nowhere Partners").exists()


def test_api_token_admin_never_shows_the_key_and_revokes(admin_client, alice):
    token, raw = partner_services.token_create(user=alice, name="CRM")
    page = admin_client.get(reverse("admin:partners_apitoken_change", args=[token.pk]))
    text = page.content.decode()
    assert token.prefix in text
    assert raw not in text and token.key_hash not in text
    admin_client.post(
        reverse("admin:partners_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not ApiToken.objects.get(pk=token.pk).is_live


def test_user_admin_adds_a_user_by_email(admin_client):
    from partners.models import User

    response = admin_client.post(
        reverse("admin:partners_user_add"),
        {
            "email": "New.Person@Vendor.example",
            "name": "New Person",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase-9",
            "password2": "a-long-enough-passphrase-9",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.person@vendor.example")
    assert user.check_password("a-long-enough-passphrase-9")


def test_user_deactivation_in_admin_revokes_tokens(admin_client, alice):
    token, _ = partner_services.token_create(user=alice)
    admin_client.post(
        reverse("admin:partners_user_changelist"),
        {"action": "deactivate_selected", "_selected_action": [alice.pk]},
    )
    alice.refresh_from_db()
    token.refresh_from_db()
    assert alice.is_active is False
    assert token.revoked_at is not None


# --- Direct opportunities through the services -----------------------------------------------------------


def _opportunity_post(**overrides):
    data = {
        "external_id": "CRM-ADMIN-1",
        "account_name": "Admin Created Corp",
        "account_domain": "admin-created.com",
        "country": "US",
        "owner_email": "rep@vendor.example",
        "products": [],
        "amount": "50000.00",
        "currency": "USD",
        "stage": "Discovery",
        "close_date": "",
        "status": "open",
    }
    data.update(overrides)
    return data


def test_opportunity_add_goes_through_the_service(admin_client, alice, product):
    registration = factories.make_registration(
        alice, customer_name="Admin Created Corp", customer_domain="admin-created.com"
    )
    response = admin_client.post(
        reverse("admin:deals_directopportunity_add"), _opportunity_post(products=[product.pk])
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    opportunity = DirectOpportunity.objects.get(external_id="CRM-ADMIN-1")
    assert list(opportunity.products.all()) == [product]
    assert IdentityEntry.objects.filter(
        kind="direct_opportunity", record_id=opportunity.pk
    ).exists()
    # The sync that lands after a registration still records the conflict (CONC-04).
    assert Conflict.objects.filter(
        registration_id=registration.pk, kind="direct_opportunity", other_id=opportunity.pk
    ).exists()


def test_opportunity_add_uses_the_shared_validation(admin_client, product):
    response = admin_client.post(
        reverse("admin:deals_directopportunity_add"),
        _opportunity_post(country="XX", currency="ABC", account_domain="not a domain"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"country", "currency", "account_domain"} <= set(errors)
    assert not DirectOpportunity.objects.exists()


def test_opportunity_delete_leaves_a_snapshot_event(admin_client, product):
    opportunity = factories.make_opportunity(account_name="Short Lived Corp")
    response = admin_client.post(
        reverse("admin:deals_directopportunity_delete", args=[opportunity.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not DirectOpportunity.objects.filter(pk=opportunity.pk).exists()
    event = RegistrationEvent.objects.get(chain=f"o:{opportunity.pk}")
    assert event.action == "opportunity_deleted"
    assert event.details["account_name"] == "Short Lived Corp"


def test_csv_import_page_answers(admin_client):
    page = admin_client.get(reverse("admin:deals_directopportunity_import_csv"))
    assert page.status_code == 200
    assert "external_id" in page.content.decode()
    changelist = admin_client.get(reverse("admin:deals_directopportunity_changelist"))
    assert reverse("admin:deals_directopportunity_import_csv") in changelist.content.decode()


def test_csv_import_creates_opportunities(admin_client, product):
    content = (
        b"external_id,account_name,account_domain,country,amount,currency,products,status\n"
        b"CSV-1,Imported One,imported-one.com,US,10000.00,USD,crm-pro,open\n"
        b"CSV-2,Imported Two,,DE,20000.00,EUR,,open\n"
    )
    response = admin_client.post(
        reverse("admin:deals_directopportunity_import_csv"),
        {"file": SimpleUploadedFile("opps.csv", content, content_type="text/csv")},
        follow=True,
    )
    assert response.status_code == 200
    assert "Opportunities imported" in response.content.decode()
    assert set(DirectOpportunity.objects.values_list("external_id", flat=True)) == {
        "CSV-1",
        "CSV-2",
    }


def test_csv_import_shows_row_errors_and_writes_nothing(admin_client, product):
    content = (
        b"external_id,account_name,country,amount,currency\n"
        b"CSV-1,Good Row,US,10000.00,USD\n"
        b"CSV-2,Bad Row,XX,10000.00,USD\n"
    )
    response = admin_client.post(
        reverse("admin:deals_directopportunity_import_csv"),
        {"file": SimpleUploadedFile("opps.csv", content, content_type="text/csv")},
    )
    assert response.status_code == 200
    assert "Nothing was imported" in response.content.decode()
    assert not DirectOpportunity.objects.exists()


def test_notification_admin_lists_failed_deliveries(admin_client, alice):
    Notification.objects.create(
        recipient=alice,
        kind="approved",
        channel="email",
        dedupe_key="failed-1",
        title="Your registration was approved",
        status="failed",
        attempts=10,
        last_error="SMTP 554",
    )
    response = admin_client.get(
        reverse("admin:deals_notification_changelist") + "?status__exact=failed"
    )
    assert response.status_code == 200
    assert alice.email in response.content.decode()
    request = type("R", (), {"user": alice})()
    assert admin.site._registry[Notification].has_change_permission(request) is False


# --- Issue 18 §6.10: the policy's lists and mappings have proper fields -------------------------


def test_policy_lists_are_typed_as_text_not_json(admin_client):
    url = reverse("admin:deals_rulesofengagement_add")
    page = admin_client.get(url).content.decode()
    assert 'type="checkbox" name="required_fields"' in page
    assert "14, 3" in page  # reminder days as an administrator writes them
    response = admin_client.post(
        url,
        _policy_post(
            reminder_days="30; 7 1",
            holidays="2026-12-25\r\n2026-12-24\r\n",
            min_deal_values="usd 7,500\nJPY 500000",
            required_fields=["customer_name", "customer_domain", "products"],
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = policy_current()
    assert policy.reminder_days == [30, 7, 1]
    assert policy.holidays == ["2026-12-24", "2026-12-25"]
    assert policy.min_deal_values == {"USD": "7500.00", "JPY": "500000.00"}
    assert policy.required_fields == ["customer_name", "customer_domain", "products"]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("holidays", "25/12/2026", "is not a date as YYYY-MM-DD"),
        ("min_deal_values", "XYZ 100", "is not an ISO 4217 currency code"),
        ("min_deal_values", "USD", "write a currency and an amount"),
        ("reminder_days", "fourteen", "is not a number of days"),
        ("required_fields", ["status"], "Select a valid choice"),
    ],
)
def test_policy_form_errors_are_plain_words_and_save_nothing(admin_client, field, value, message):
    versions = RulesOfEngagement.objects.count()
    response = admin_client.post(
        reverse("admin:deals_rulesofengagement_add"), _policy_post(**{field: value})
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert message in text
    assert "valid JSON" not in text
    assert RulesOfEngagement.objects.count() == versions


def test_policy_threshold_error_names_no_constraint(admin_client):
    response = admin_client.post(
        reverse("admin:deals_rulesofengagement_add"),
        _policy_post(review_threshold="96", certain_threshold="95"),
    )
    text = response.content.decode()
    assert "policy_thresholds_ordered" not in text
    assert "The review threshold must be below the certain threshold" in text


def test_policy_shapes_are_checked_on_every_way_in(superuser):
    from deals.policy import policy_publish
    from prm.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        policy_publish(actor=superuser, holidays=["tomorrow"], reminder_days="14")
    assert set(caught.value.fields) == {"holidays", "reminder_days"}


def test_requirable_fields_are_the_partner_editable_fields():
    from deals.models import REQUIRABLE_REGISTRATION_FIELDS
    from deals.registrations.validation import PARTNER_EDITABLE_FIELDS

    # Custom fields carry their own "required" flag (issue 17 §1), so "custom" is not one.
    editable = tuple(name for name in PARTNER_EDITABLE_FIELDS if name != "custom")
    assert tuple(REQUIRABLE_REGISTRATION_FIELDS) == editable


def test_tier_discount_error_names_no_constraint(admin_client):
    from partners.models import Tier

    tier = Tier.objects.create(code="bronze", name="Bronze", rank=9)
    response = admin_client.post(
        reverse("admin:partners_tier_change", args=[tier.pk]),
        {"code": "bronze", "name": "Bronze", "rank": "9", "discount_percent": "150"},
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "tier_discount_percent_range" not in text
    assert "The discount is a percentage between 0 and 100." in text


def test_partner_domains_one_per_line(admin_client, partner_a):
    url = reverse("admin:partners_partner_change", args=[partner_a.pk])
    assert 'name="domains"' in admin_client.get(url).content.decode()
    data = {
        "name": partner_a.name,
        "legal_name": "",
        "domains": "www.acme-resellers.com\r\nhttps://shop.acme-two.com/",
        "country": "US",
        "tier": partner_a.tier_id,
        "status": "active",
        "channel_manager": "",
    }
    for prefix in ("memberships", "email_exceptions", "invitations"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner_a.refresh_from_db()
    assert partner_a.domains == ["acme-resellers.com", "acme-two.com"]
    page = admin_client.get(url).content.decode()
    assert "acme-resellers.com\nacme-two.com" in page  # shown back one per line
    bad = admin_client.post(url, {**data, "domains": "not a domain"})
    assert bad.status_code == 200
    assert "Not a website domain" in bad.content.decode()
    assert "valid JSON" not in bad.content.decode()


def test_admin_index_puts_business_data_before_system_tables(admin_client):
    text = admin_client.get(reverse("admin:index")).content.decode()
    assert text.index("Deals") < text.index("System: scheduled jobs (Celery beat)")
    assert text.index("Partners") < text.index("System: scheduled jobs (Celery beat)")
