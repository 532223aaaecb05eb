"""Blocks: audio removed after a copyright notice is gone everywhere and refused when it returns."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.jobs import services
from core.jobs.models import AudioSource, Block, Job, LinkImport, RemoteMedia, Separation
from core.jobs.services import blocks
from tests.audio import make_song
from tests.core.web.conftest import AE_HOST, VR_HOST
from tests.factories import finished_job, stored_files

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

pytestmark = pytest.mark.django_db

Committed = Callable[[], AbstractContextManager[object]]


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Committed:
    """Run the on-commit callbacks (file deletions) of a block, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _bytes_of(source: AudioSource) -> bytes:
    with source.file.open("rb") as fh:
        return fh.read()


def test_blocking_removes_the_files_of_every_job_on_both_sites(
    tmp_path: Path, committed: Committed
) -> None:
    job = finished_job(tmp_path)
    other_site = services.derive_job(job, brand="acapella-extractor", stem="vocals")
    source = AudioSource.objects.get()
    data = _bytes_of(source)
    files = {source.file.name, job.separation.vocals.name, job.separation.accompaniment.name}
    assert files <= stored_files()

    with committed():
        removal = blocks.block_source(source.pk, reason="notice 1")

    assert removal.expired_separations == 1 and removal.hashes == [source.sha256]
    assert not files & stored_files()
    for each in (job, other_site):
        each.refresh_from_db()
        assert each.status == Job.Status.EXPIRED
    assert Separation.objects.get().status == Separation.Status.EXPIRED
    assert Block.objects.filter(sha256=source.sha256).exists()

    # The same bytes, uploaded again on either site, are refused with a clear message.
    for host in (VR_HOST, AE_HOST):
        answer = Client(HTTP_HOST=host).post("/", {"file": SimpleUploadedFile("again.wav", data)})
        assert answer.status_code == 451
        assert "removed after a copyright notice" in answer.content.decode()
    assert Job.objects.count() == 2 and not stored_files() & files


def test_a_blocked_song_is_refused_by_the_intake_with_the_blocked_code(tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    data = _bytes_of(job.separation.source)
    blocks.block_source(job.separation.source_id, reason="notice")
    order = services.Order(stem="vocals", brand="acapella-extractor")
    with pytest.raises(services.Refusal) as refused:
        services.take_many([(ContentFile(data, name="x.wav"), "x.wav")], order)
    assert refused.value.code == "blocked" and refused.value.status == 451


def test_a_running_separation_is_cancelled_and_its_credits_released(
    tmp_path: Path, committed: Committed
) -> None:
    song = make_song(tmp_path / "song.wav", 3, seed=3)
    with song.open("rb") as fh:
        job = services.submit(
            File(fh, name="s.wav"),
            services.Submission(original_name="s.wav", stem="vocals", duration=3.0),
        )
    services.claim_separation(job.separation_id, "worker")
    with committed():
        removal = blocks.block_source(job.separation.source_id, reason="notice")
    job.refresh_from_db()
    assert removal.cancelled_jobs == 1 and job.status == Job.Status.CANCELLED
    assert not AudioSource.objects.get().file
    assert not default_storage.exists(job.separation.source.file.name or "sources/none")


def test_blocking_a_preview_blocks_the_whole_song_too(tmp_path: Path) -> None:
    whole = make_song(tmp_path / "long.wav", 8, seed=5)
    order = services.Order(stem="vocals", brand="acapella-extractor")
    with whole.open("rb") as fh:
        content = File(fh, name="long.wav")
        preview = services.admit(content, "long.wav", services.Examined(8.0, preview=True), order)
    assert preview.preview and preview.full_source is not None
    removal = blocks.block_source(preview.separation.source_id, reason="notice")
    assert set(removal.hashes) == {preview.separation.source.sha256, preview.full_source.sha256}
    with whole.open("rb") as fh, pytest.raises(services.Refusal) as refused:
        content = File(fh, name="long.wav")
        services.admit(content, "long.wav", services.Examined(8.0, preview=True), order)
    assert refused.value.code == "blocked"


def test_a_blocked_video_is_refused_when_pasted_and_never_fetched_when_queued() -> None:
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    media = services.media_for_url(url)  # no DNS here: the link as it stood once checked
    assert media is not None
    queued = LinkImport.objects.create(url=url, stem="vocals", brand="vocals-remover", media=media)
    blocks.block_media(media.extractor, media.media_id, reason="notice")

    for form in (url, "https://youtu.be/dQw4w9WgXcQ"):
        answer = Client(HTTP_HOST=VR_HOST).post("/links/", {"url": form})
        assert answer.status_code == 451
        assert "removed after a copyright notice" in answer.content.decode()
    # The link pasted before the block fails without a download.
    assert services.fetch_link(queued.pk) == "blocked"
    queued.refresh_from_db()
    assert (queued.status, queued.error_code) == (LinkImport.Status.FAILED, "blocked")
    assert RemoteMedia.objects.get().fetches == 0
