"""A copyright notice acted upon: the bot's videos of that song are marked for takedown."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from core.jobs.services import blocks
from tests.factories import stored_files
from youtube_bot import services
from youtube_bot.models import Publication, Song


def test_blocking_the_audio_marks_its_publications_and_the_bot_leaves_them(
    separated: Callable[..., tuple[Song, list[Publication]]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    song, (ae_pub, vr_pub) = separated(3.0, title="Taken Song")
    assert services.advance(vr_pub.pk).step is services.Step.ADVANCED  # rendered: a page
    Publication.objects.filter(pk=vr_pub.pk).update(status="uploaded", video_id="vid-vr")
    page = f"/t/{song.slug}/"
    assert Client().get(page, HTTP_HOST=settings.VOCALS_REMOVER_DOMAIN).status_code == 200
    source_id = Publication.objects.get(pk=ae_pub.pk).job.separation.source_id  # type: ignore[union-attr]

    vr_pub.refresh_from_db()
    renders = {vr_pub.video.name, vr_pub.thumbnail.name, services.preview_name(vr_pub)}
    assert renders <= stored_files() and default_storage.exists(song.audio.name)

    with django_capture_on_commit_callbacks(execute=True):
        blocks.block_source(source_id, reason="notice")

    # The renders and the song's own copy of the audio go with the audio's other files.
    assert not renders & stored_files()
    assert not default_storage.exists(song.audio.name)
    song.refresh_from_db()
    assert not song.audio
    ae_pub.refresh_from_db()
    vr_pub.refresh_from_db()
    assert ae_pub.takedown_at is not None and vr_pub.takedown_at is not None
    # The open one goes no further; the uploaded one stays recorded, its video to come down.
    assert (ae_pub.status, ae_pub.error_code) == (Publication.Status.FAILED, "blocked")
    assert vr_pub.status == Publication.Status.UPLOADED and vr_pub.takedown_done_at is None
    assert not services.requeue(ae_pub.pk)
    assert ae_pub not in services.due_publications() and vr_pub not in services.due_publications()
    assert Client().get(page, HTTP_HOST=settings.VOCALS_REMOVER_DOMAIN).status_code == 404


@pytest.mark.django_db
def test_blocking_audio_that_no_publication_uses_marks_nothing() -> None:
    assert services.mark_for_takedown([]) == 0


def test_a_notice_naming_a_song_page_or_the_bots_video_finds_its_audio(
    separated: Callable[..., tuple[Song, list[Publication]]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    from core.legal import services as legal

    song, (ae_pub, vr_pub) = separated(3.0, title="Noticed Song")
    Publication.objects.filter(pk=vr_pub.pk).update(status="uploaded", video_id="vidBot12345")
    source_id = Publication.objects.get(pk=ae_pub.pk).job.separation.source_id  # type: ignore[union-attr]
    page = f"https://{settings.ACAPELLA_EXTRACTOR_DOMAIN}/t/{song.slug}/"
    assert legal.resolve(page).source_ids == [source_id]
    assert legal.resolve("https://youtu.be/vidBot12345").source_ids == [source_id]
    assert legal.resolve("https://www.youtube.com/watch?v=someoneElse").source_ids == []

    notice = legal.receive_notice(
        brand="acapella-extractor", work="W", location=page, name="R", email="r@x.example",
        good_faith=True,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert legal.act_on_notice(notice.pk)
    assert Publication.objects.filter(takedown_at__isnull=False).count() == 2
