"""The legal pages in a real Chromium: readable on a phone, no cookie but the forms' CSRF token,
and a takedown notice sent with the keyboard-and-touch form."""

from __future__ import annotations

from typing import Any

import pytest

from core.legal.models import TakedownNotice
from tests.browser.test_sites import (
    UNLABELLED,
    VIEWPORTS,
    _no_horizontal_scroll,
    _shot,
    browser,
    site,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

__all__ = ["browser", "site"]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("brand", ["vocals-remover", "acapella-extractor"])
def test_the_legal_pages_read_well_set_no_cookie_and_take_a_notice(
    browser: Any, site: str, brand: str, viewport: str, tmp_path: Any
) -> None:
    base = f"http://{brand}.localhost:{site}"
    context = browser.new_context(**VIEWPORTS[viewport])
    page = context.new_page()
    for path in ("/terms/", "/privacy/", "/contact/"):
        page.goto(base + path)
        assert page.locator("h1").count() == 1
        _no_horizontal_scroll(page)
    assert context.cookies() == []  # reading the texts sets no cookie at all
    _shot(page, f"{brand}-privacy-{viewport}", tmp_path, full_page=True)

    # Every page's footer leads to them.
    page.goto(base + "/")
    footer = page.locator("footer nav[aria-label=Legal] a")
    assert footer.all_inner_texts() == [
        "Pricing", "Terms of service", "Privacy policy", "Copyright", "Contact",
    ]  # fmt: skip
    assert {c["name"] for c in context.cookies()} == {"csrftoken"}  # the upload form's

    page.goto(base + "/copyright/")
    _no_horizontal_scroll(page)
    assert page.evaluate(UNLABELLED) == []
    page.get_by_label("The copyrighted work").fill("Song of Songs by The Owners")
    page.get_by_label("Address of the job page, song page or video").fill(
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    )
    page.get_by_label("Your name").fill("Rita Rights")
    page.get_by_label("Your e-mail address").fill("rita@label.example")
    page.get_by_label("I state in good faith", exact=False).check()
    page.get_by_role("button", name="Send the notice").click()
    page.wait_for_selector("text=Notice received")
    assert {c["name"] for c in context.cookies()} == {"csrftoken"}
    notice = TakedownNotice.objects.get()
    assert (notice.brand, notice.name) == (brand, "Rita Rights")
    context.close()
