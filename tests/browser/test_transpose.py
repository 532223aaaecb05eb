"""A new key and tempo in real headless Chromium, desktop and phone: by keyboard, then heard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.jobs.models import Job, Separation
from core.jobs.services import analysis, submission
from tests.audio import make_song
from tests.browser.test_sites import (
    UNLABELLED,
    VIEWPORTS,
    _no_horizontal_scroll,
    _shot,
    _tab_to,
    _wait_until,
    browser,
    site,
)
from tests.core.api.helpers import finish

__all__ = ["browser", "site"]  # the fixtures, shared with test_sites

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_a_singer_moves_the_key_by_keyboard_and_hears_the_preview(
    browser: Any, site: str, tmp_path: Path, viewport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # To a queue no worker consumes: `finish` stands in for the worker (as in test_preview).
    monkeypatch.setattr(submission, "QUEUE", "tests-nobody-consumes")
    # And the analysis too: a light worker left running by an earlier test would otherwise
    # store the tones' real tempo and key over the ones this test sets.
    monkeypatch.setattr(analysis, "LIGHT_QUEUE", "tests-nobody-consumes")
    song = make_song(tmp_path / "Blue Hour.mp3", 3, seed=5)
    host = f"vocals-remover.localhost:{site}"
    response = Client(HTTP_HOST=host).post(
        "/", {"file": SimpleUploadedFile(song.name, song.read_bytes())}
    )
    assert response.status_code == 303
    job = Job.objects.get()
    finish(job, tmp_path)
    # The song's tempo and key, as the light task stores them (its own tests measure them).
    Separation.objects.filter(pk=job.separation_id).update(
        analysis={"bpm": 100.0, "bpm_confidence": 0.9, "key": "C major", "tonic": "C",
                  "mode": "major", "camelot": "8B", "key_confidence": 0.9}
    )  # fmt: skip

    context = browser.new_context(**VIEWPORTS[viewport])
    page = context.new_page()
    try:
        page.goto(f"http://{host}/jobs/{job.pk}/")
        assert page.get_by_role("heading", name="Sing it in another key or tempo").is_visible()
        assert page.evaluate(UNLABELLED) == []
        _no_horizontal_scroll(page)
        _tab_to(page, "transpose-pitch", limit=30)
        page.keyboard.press("ArrowDown")  # from the original key to +1 semitone
        _wait_until(page, "document.getElementById('transpose-pitch').value === '1'", 10)
        _wait_until(page, "document.getElementById('transpose-result').textContent !== ''", 10)
        assert page.locator("#transpose-result").inner_text() == "Now in D♭ major at 100 BPM."
        _tab_to(page, "transpose-tempo")
        page.keyboard.press("Control+A")
        page.keyboard.type("120")
        assert page.locator("#transpose-result").inner_text() == "Now in D♭ major at 120 BPM."
        page.keyboard.press("Enter")  # sends the GET form, as it would without JavaScript
        page.wait_for_url(f"http://{host}/jobs/{job.pk}/key-and-tempo/?pitch=1&tempo=120")
        assert page.locator("#transpose-result").inner_text() == "Now in D♭ major at 120 BPM."
        # The button said "Hear": the preview plays by itself, rendered as it is first asked.
        _wait_until(page, "document.getElementById('transpose-audio').currentTime > 0", 60)
        length = page.evaluate("document.getElementById('transpose-audio').duration")
        assert length == pytest.approx(3.0 / 1.2, abs=0.1)
        assert page.evaluate(UNLABELLED) == []
        _no_horizontal_scroll(page)
        _shot(page, f"key-and-tempo-{viewport}", tmp_path, full_page=True)
    finally:
        context.close()
