"""Issue 18 §6.2: pressing Enter in a registration field submits the registration; it no longer
runs "Check availability" (the form's first submit button was the check)."""

from __future__ import annotations

import pytest

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_enter_in_a_registration_field_submits_instead_of_checking(
    open_session, partner_a, product
):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    session = open_session()
    session.sign_in_as(alice)
    page = session.page
    page.goto("/registrations/new/")
    posted: list[str] = []
    page.on(
        "request",
        lambda request: (
            posted.append(request.post_data or "")
            if request.method == "POST" and request.url.endswith("/registrations/new/")
            else None
        ),
    )
    name = page.get_by_label("Customer name")
    name.fill("Vandelay Industries")
    with page.expect_navigation():
        name.press("Enter")
    assert posted and "intent=submit" in posted[-1], posted
    assert "intent=check" not in posted[-1]
    # The default button is not a second visible "Submit" for sighted or screen-reader users.
    default = page.get_by_test_id("default-submit")
    assert default.get_attribute("aria-hidden") == "true"
    assert default.get_attribute("tabindex") == "-1"
