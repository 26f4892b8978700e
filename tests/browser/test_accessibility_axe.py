"""axe-core in the browser (issue 18, tests): no serious or critical accessibility violation on
the main pages of each role. axe-core is vendored (tests/browser/vendor/axe.min.js, npm
axe-core 4.14.1, MPL-2.0) and injected into the page by the test; the session bypasses the CSP
only to let that test tool in, the pages themselves are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from conflicts.models import Conflict
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


@pytest.fixture
def world(partner_a, partner_b, product):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b, email="bob@other-partner.example")
    manager = factories.manager_user(email="maria@vendor.example")
    mine = factories.make_registration(
        alice, customer_name="Globex Corporation", customer_domain="globex.com"
    )
    factories.make_registration(bob, customer_name="Globex Corp", customer_domain="globex.com")
    factories.make_registration(alice, status="approved", manager=manager)
    conflict = Conflict.objects.filter(status="open").first()
    from partners.applications import application_submit

    application = application_submit(
        data={
            "company_name": "Northwind Channel",
            "legal_name": "Northwind Channel GmbH",
            "domain": "northwind-channel.de",
            "country": "DE",
            "contact_name": "Nora North",
            "contact_email": "nora@northwind-channel.de",
            "expected_focus": "CRM Pro in DACH.",
        },
        ip="192.0.2.1",
    )
    return {
        "alice": alice,
        "manager": manager,
        "mine": mine,
        "conflict": conflict,
        "application": application,
    }


def test_partner_pages_have_no_serious_accessibility_violations(open_session, world):
    session = open_session(bypass_csp=True)
    session.sign_in_as(world["alice"])
    problems = {}
    for path in (
        "/",
        "/registrations/",
        "/registrations/new/",
        f"/registrations/{world['mine'].pk}/",
        "/program/",
        "/notifications/",
        "/earnings/",
        "/scorecard/",
    ):
        response = session.page.goto(path)
        assert response.status == 200 and session.page.url.endswith(path), session.page.url
        found = _violations(session.page)
        if found:
            problems[path] = found
    assert problems == {}


def test_manager_pages_have_no_serious_accessibility_violations(open_session, world):
    session = open_session(bypass_csp=True)
    session.sign_in_as(world["manager"])
    problems = {}
    for path in (
        "/manage/",
        f"/manage/registrations/{world['mine'].pk}/",
        "/manage/conflicts/",
        "/manage/partners/",
        "/manage/opportunities/",
        "/manage/reports/",
        "/manage/rewards/",
        "/manage/applications/",
        f"/manage/applications/{world['application'].pk}/",
    ):
        response = session.page.goto(path)
        assert response.status == 200 and session.page.url.endswith(path), session.page.url
        found = _violations(session.page)
        if found:
            problems[path] = found
    assert problems == {}


def test_apply_terms_and_company_user_pages_have_no_serious_accessibility_violations(
    open_session, world, partner_a
):
    """Issue 18 §1: the public application page (empty and with errors), the thank-you page,
    the program terms to accept, and the partner admin's bulk invitation page."""
    from partners.models import ProgramTerms
    from partners.terms import terms_accept
    from prm.lib.time import timezone_now

    problems = {}
    public = open_session(bypass_csp=True)
    for path in ("/apply/", "/apply/thanks/"):
        response = public.page.goto(path)
        assert response.status == 200
        if found := _violations(public.page):
            problems[path] = found
    public.page.goto("/apply/")
    public.page.get_by_role("button", name="Send application").click()
    public.page.get_by_test_id("apply-error").wait_for()
    if found := _violations(public.page):
        problems["/apply/ (errors)"] = found

    ProgramTerms.objects.create(version=1, text="Be fair.", published_at=timezone_now())
    admin = factories.partner_user(partner_a, role="admin", email="ada@acme-resellers.example")
    session = open_session(bypass_csp=True)
    session.sign_in_as(admin)
    response = session.page.goto("/terms/")
    assert response.status == 200
    if found := _violations(session.page):
        problems["/terms/"] = found
    terms_accept(user=admin, version=1)
    for path in ("/company/users/", "/company/users/import/"):
        response = session.page.goto(path)
        assert response.status == 200 and session.page.url.endswith(path), session.page.url
        if found := _violations(session.page):
            problems[path] = found
    assert problems == {}


def test_the_axe_check_fails_on_a_violation(open_session, world):
    """The harness can fail: a button without a name is a critical violation."""
    session = open_session(bypass_csp=True)
    session.sign_in_as(world["alice"])
    session.page.goto("/program/")
    session.page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    assert any(v.startswith("button-name (critical)") for v in _violations(session.page))
