"""The bot for real: beat's task on the bot queue, a bot worker, the separation worker."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from tests.audio import make_song
from tests.conftest import WorkerProcess, start_worker, wait_for
from tests.youtube_bot.conftest import (
    CHUNK,
    Recording,
    ok,
    resume_incomplete,
    session_started,
    token_ok,
    video,
)
from youtube_bot import services, tasks
from youtube_bot.models import Channel, Publication

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bot_worker(
    celery_worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker on the bot queue only, in dry-run mode: it never talks to YouTube."""
    worker = start_worker(tmp_path_factory.mktemp("bot"), queues="bot", YOUTUBE_DRY_RUN="true")
    try:
        worker.wait_ready(timeout=120)
        yield worker
    finally:
        worker.stop()


def test_a_song_goes_from_the_catalogue_to_youtube(
    channels: tuple[Channel, Channel], bot_worker: WorkerProcess, tmp_path: Path
) -> None:
    vr, _ae = channels
    path = make_song(tmp_path / "song.flac", 8.0)
    with path.open("rb") as fh:
        from django.core.files import File

        song = services.add_song(title="End To End", artist="The Testers", audio=File(fh))
    pubs = list(song.publications.all())

    def rendered() -> bool:
        # Beat's task: each run sends the due publications to the bot queue.
        tasks.run()
        return all(
            p.status == Publication.Status.RENDERED
            for p in Publication.objects.filter(pk__in=[p.pk for p in pubs])
        )

    wait_for(rendered, timeout=400, interval=5)
    log = bot_worker.log()
    assert "youtube_bot.advance" in log
    pub = Publication.objects.select_related("job__separation").get(song=song, channel=vr)
    # Both channels' jobs went through core.jobs and share one separation.
    assert {p.job.separation_id for p in Publication.objects.filter(song=song)} == {  # type: ignore[union-attr]
        pub.job.separation_id  # type: ignore[union-attr]
    }
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         default_storage.path(pub.video.name)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    assert float(probe.stdout) == pytest.approx(8.0, abs=0.2)

    # The upload itself, here, against the mock: the real video in chunks.
    size = default_storage.size(pub.video.name)
    chunks = [resume_incomplete(end - 1) for end in range(CHUNK, size, CHUNK)]
    http = Recording(
        [token_ok(), session_started(), *chunks, video("vid-e2e"), token_ok(),
         ok({"kind": "youtube#thumbnailSetResponse"}), ok({"id": "PLI-e2e"})]
    )  # fmt: skip
    outcome = services.run_publication(
        pub.pk, runtime=services.Runtime(http=http, sleep=lambda s: None)
    )
    assert outcome.step is services.Step.DONE, outcome
    pub.refresh_from_db()
    assert pub.video_id == "vid-e2e" and http.inserts() == 1
