"""Evidence in a real browser (issue 17 §2), one screenshot per step under test-artifacts/browser/:

1. a partner registers a deal and attaches a PDF on its page (an unsupported file first, which
   is refused beside the file input);
2. a manager opens the review, sees the file in the Evidence section and downloads it: the
   same bytes, as a download;
3. another partner asks for the same download and gets 404.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from deals.models import Attachment, DealRegistration
from tests import factories
from tests.browser.test_deal_registration_journey import fill_deal, fill_registration

pytestmark = pytest.mark.django_db(transaction=True)

CSP_ERROR = re.compile(r"Content Security Policy|Refused to (apply|execute|load)", re.I)


def test_partner_attaches_a_pdf_the_manager_downloads_it_another_partner_gets_404(
    open_session, partner_a, partner_b, product
):
    alice = factories.partner_user(partner_a, email="alice@acme-resellers.example")
    bob = factories.partner_user(partner_b, email="bob@bravo-solutions.example")
    manager = factories.manager_user(email="carol@vendor.example")
    close_date = dt.date.today() + dt.timedelta(days=90)

    # --- 1. The partner registers a deal and attaches the proposal -----------------------------
    partner = open_session()
    partner.sign_in_as(alice)
    page = partner.page
    page.goto("/registrations/new/")
    fill_registration(
        page, customer="Globex Corporation", domain="globex.com", close_date=close_date
    )
    fill_deal(page, close_date)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Corporation")
    registration = DealRegistration.objects.get(customer_name="Globex Corporation")

    evidence = page.locator("#evidence")
    expect(evidence.get_by_role("heading", name="Evidence")).to_be_visible()
    evidence.get_by_label("File").set_input_files(
        {"name": "proposal.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" * 20}
    )
    evidence.get_by_role("button", name="Attach file").click()
    expect(page.locator("#id_file_error")).to_contain_text("Only PDF, PNG, JPEG")
    partner.screenshot("evidence-01-unsupported-file-refused")
    assert not Attachment.objects.exists()

    evidence = page.locator("#evidence")
    evidence.get_by_label("File").set_input_files(
        {"name": "proposal.pdf", "mimeType": "application/pdf", "buffer": factories.PDF_BYTES}
    )
    evidence.get_by_role("button", name="Attach file").click()
    expect(page.get_by_test_id("attachment")).to_contain_text("proposal.pdf")
    partner.screenshot("evidence-02-partner-attached-a-pdf")
    attachment = Attachment.objects.get(registration=registration)
    assert attachment.content_type == "application/pdf"

    # --- 2. The manager sees it in the review and downloads it ---------------------------------
    reviewer = open_session()
    reviewer.sign_in_as(manager)
    review = reviewer.page
    review.goto(f"/manage/registrations/{registration.pk}/")
    link = review.locator("#evidence").get_by_role("link", name="proposal.pdf")
    expect(link).to_be_visible()
    reviewer.screenshot("evidence-03-manager-review-lists-the-file")
    with review.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "proposal.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == factories.PDF_BYTES

    # --- 3. Another partner asks for the same file ----------------------------------------------
    other = open_session()
    other.sign_in_as(bob)
    response = other.page.goto(f"/attachments/{attachment.pk}/download/")
    assert response is not None and response.status == 404
    assert "proposal.pdf" not in other.page.content()
    other.screenshot("evidence-04-other-partner-404")

    for session in (partner, reviewer, other):
        assert not [e for e in session.console_errors if CSP_ERROR.search(e)]
