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
    return {"alice": alice, "manager": manager, "mine": mine, "conflict": conflict}


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
    ):
        response = session.page.goto(path)
        assert response.status == 200 and session.page.url.endswith(path), session.page.url
        found = _violations(session.page)
        if found:
            problems[path] = found
    assert problems == {}


def test_the_axe_check_fails_on_a_violation(open_session, world):
    """The harness can fail: a button without a name is a critical violation."""
    session = open_session(bypass_csp=True)
    session.sign_in_as(world["alice"])
    session.page.goto("/program/")
    session.page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    assert any(v.startswith("button-name (critical)") for v in _violations(session.page))
