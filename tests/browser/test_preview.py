"""A preview's page in real headless Chromium, desktop and phone: marked, playable, priced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.jobs.models import Job
from core.jobs.services import submission
from tests.audio import make_song
from tests.browser.test_sites import (
    CONTRAST,
    UNLABELLED,
    VIEWPORTS,
    _no_horizontal_scroll,
    _shot,
    browser,
    site,
)
from tests.core.api.helpers import finish

__all__ = ["browser", "site"]  # the fixtures, shared with test_sites

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_preview_page_is_marked_playable_and_priced(
    browser: Any,
    site: str,
    settings: Settings,
    tmp_path: Path,
    viewport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The job is committed and sent: to a queue no worker consumes, so that the session's real
    # worker (started by other browser tests) cannot take it while `finish` stands in for it.
    monkeypatch.setattr(submission, "QUEUE", "tests-nobody-consumes")
    settings.ANON_MAX_DURATION = 20.0
    song = make_song(tmp_path / "Long Night.mp3", 70, seed=9)
    host = f"vocals-remover.localhost:{site}"
    response = Client(HTTP_HOST=host).post(
        "/", {"file": SimpleUploadedFile(song.name, song.read_bytes())}
    )
    assert response.status_code == 303
    job = Job.objects.get()
    assert job.preview
    finish(job, tmp_path)  # two short tones stand in for the worker's stems

    context = browser.new_context(**VIEWPORTS[viewport])
    page = context.new_page()
    try:
        page.goto(f"http://{host}/jobs/{job.pk}/")
        note = page.get_by_role("complementary", name="Preview: first 30 seconds")
        assert note.is_visible()
        assert note.get_by_role("heading", name="Preview: first 30 seconds").is_visible()
        assert page.locator("#preview-price").inner_text() == "2 credits"
        whole = note.get_by_role("link", name="Separate the whole song with Pro")
        assert whole.is_visible() and whole.get_attribute("href") == "/pricing/"
        assert page.locator("#result-audio").is_visible()  # the preview plays here, free
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(CONTRAST, "#preview-price") >= 4.5
        assert page.evaluate(CONTRAST, "#preview-title") >= 4.5
        _no_horizontal_scroll(page)
        _shot(page, f"preview-{viewport}", tmp_path, full_page=True)
        whole.click()
        page.wait_for_url(f"http://{host}/pricing/")
    finally:
        context.close()
