"""Issue 18 §6.4: the Users and API tokens pages fit a 390 px phone (no sideways scroll), and
the Deactivate button is not clipped on desktop once a deactivated user is listed."""

from __future__ import annotations

import pytest

from partners import services
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_with_team(partner_a):
    admin = factories.partner_user(partner_a, role="admin", email="ada@acme-resellers.example")
    factories.partner_user(partner_a, email="maximilian.vandenberghe-long@acme-resellers.example")
    gone = factories.partner_user(partner_a, email="gone.person@acme-resellers.example")
    services.partner_user_deactivate(actor=admin, partner=partner_a, user=gone)
    services.token_create(user=admin, name="CRM sync for the northern sales region")
    return admin


@pytest.mark.parametrize("path", ["/company/users/", "/settings/tokens/"])
def test_users_and_tokens_pages_do_not_scroll_sideways_on_a_phone(
    open_session, admin_with_team, path
):
    session = open_session(viewport={"width": 390, "height": 844})
    session.sign_in_as(admin_with_team)
    session.page.goto(path)
    width = session.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width


def test_deactivate_button_is_not_clipped_on_desktop(open_session, admin_with_team):
    session = open_session()
    session.sign_in_as(admin_with_team)
    page = session.page
    page.goto("/company/users/")
    button = page.get_by_role("button", name="Deactivate").first
    box = button.bounding_box()
    wrap = page.locator(".table-wrap").first
    clipped = wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    card = page.locator("section.card").first.bounding_box()
    assert not clipped
    assert box["x"] + box["width"] <= card["x"] + card["width"]
