"""A live stream whose job fails midway, in real headless Chromium: it stops, the page says why.

The song is a FLAC whose header claims 20 s but which holds 4 minutes, sent to a worker of its
own whose limit is 3 minutes: the upload passes, the stem starts playing, and decoding stops
the separation at the limit, after about three minutes of audio were streamed (issue 10, "a
stream stops cleanly if the job fails midway, and the page says why").
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.jobs.models import Job, Separation
from core.jobs.services import submission
from tests.audio import make_song
from tests.browser.test_live_playback import LIVE, browser, site, upload_and_listen
from tests.browser.test_sites import VIEWPORTS, _no_horizontal_scroll
from tests.conftest import WorkerProcess, start_worker
from tests.shared_separation.engine.test_failures import _claim_samples

__all__ = ["browser", "site"]  # the fixtures, shared with test_live_playback

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUEUE = "tests-live-failure"
LIMIT_S = 180  # the worker's SEPARATION_MAX_DURATION
HOLDS_S = 240
CLAIMS_S = 20


@pytest.fixture
def limited_worker(
    redis_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WorkerProcess]:
    """A real worker of its own, with a 3-minute limit, on a queue only it consumes."""
    monkeypatch.setattr(submission, "QUEUE", QUEUE)
    worker = start_worker(tmp_path, queues=QUEUE, SEPARATION_MAX_DURATION=str(LIMIT_S))
    try:
        worker.wait_ready(timeout=180)
        yield worker
    finally:
        worker.stop()


def _lying_flac(tmp_path: Path) -> Path:
    """A 4-minute song as FLAC whose STREAMINFO claims 20 seconds."""
    song = make_song(tmp_path / "song.wav", HOLDS_S, seed=41)
    flac = tmp_path / "Endless Encore.flac"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(song), "-c:a", "flac", str(flac)], check=True
    )
    song.unlink()
    _claim_samples(flac, CLAIMS_S * 44100)
    return flac


def test_a_job_failing_midway_stops_the_stream_and_the_page_says_why(
    browser: Any, site: str, limited_worker: WorkerProcess, tmp_path: Path
) -> None:
    song = _lying_flac(tmp_path)
    context = browser.new_context(**VIEWPORTS["phone"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        job_id = upload_and_listen(page, f"http://acapella-extractor.localhost:{site}/", song)
        deadline = time.monotonic() + 120
        while page.evaluate(f"{LIVE}.currentTime") == 0:
            assert time.monotonic() < deadline, limited_worker.log()[-3000:]
            time.sleep(0.05)
        heard_while = Job.objects.select_related("separation").get(pk=job_id).separation.status
        assert heard_while == Separation.Status.RUNNING

        # The worker stops at the limit; the page reloads into the failure and says why.
        alert = page.get_by_role("alert")
        alert.wait_for(timeout=120_000)
        assert "We could not separate this song" in alert.inner_text()
        assert "longer than the limit of 3:00" in alert.inner_text()
        assert "Cut the song shorter" in alert.inner_text()
        assert page.locator("#live-audio").count() == 0  # the player is gone, nothing plays
        assert page.get_by_role("link", name="Upload a song").is_visible()
        _no_horizontal_scroll(page)
        assert errors == []
    finally:
        context.close()
    separation = Job.objects.select_related("separation").get(pk=job_id).separation
    assert separation.status == Separation.Status.FAILED
    assert separation.error_code == "too_long"
