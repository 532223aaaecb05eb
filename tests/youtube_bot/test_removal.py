"""Taken-down videos deleted on YouTube (videos.delete) through HttpMockSequence's answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from core.jobs.services import blocks
from tests.youtube_bot.conftest import Recording, api_error, token_ok
from youtube_bot import services, tasks
from youtube_bot.models import Channel, Publication, Song
from youtube_bot.services import Runtime

DELETE_URL = "https://youtube.googleapis.com/youtube/v3/videos"


def _marked(channel: Channel, video_id: str = "vid-taken01") -> Publication:
    """Return an uploaded publication marked for takedown."""
    song = services.add_song(title="Taken", artist="A", source_url="https://e.com/taken")
    pub = Publication.objects.get(song=song, channel=channel)
    Publication.objects.filter(pk=pub.pk).update(
        status="uploaded", video_id=video_id, takedown_at=timezone.now()
    )
    pub.refresh_from_db()
    return pub


def _runtime(http: Recording) -> Runtime:
    """Talk through the mock, never sleeping between retries."""
    return Runtime(http=http, sleep=lambda _s: None, rand=lambda: 0.5)


def deleted() -> tuple[dict[str, str], str]:
    """videos.delete's answer: 204, no body."""
    return {"status": "204"}, ""


def test_a_marked_video_is_deleted_on_youtube_and_recorded(
    channels: tuple[Channel, Channel],
) -> None:
    pub = _marked(channels[0])
    http = Recording([token_ok(), deleted()])
    assert services.remove_from_youtube(pub.pk, runtime=_runtime(http))
    assert http.calls()[-1] == ("DELETE", DELETE_URL)
    assert "id=vid-taken01" in http.request_sequence[-1][0]
    pub.refresh_from_db()
    assert pub.takedown_done_at is not None and pub.takedown_error == ""
    assert pub not in services.pending_removals()
    # Done is done: nothing more is asked of YouTube.
    assert services.remove_from_youtube(pub.pk, runtime=_runtime(Recording([])))


def test_a_video_youtube_no_longer_has_counts_as_removed(
    channels: tuple[Channel, Channel],
) -> None:
    pub = _marked(channels[0])
    http = Recording([token_ok(), api_error(404, "videoNotFound")])
    assert services.remove_from_youtube(pub.pk, runtime=_runtime(http))
    pub.refresh_from_db()
    assert pub.takedown_done_at is not None


@pytest.mark.parametrize(
    "answers",
    [
        [api_error(403, "forbidden", "The request is not properly authorized")],
        [api_error(500, "backendError")] * 2,  # the in-request retry answered the same
    ],
    ids=["403", "500"],
)
@override_settings(YOUTUBE_MAX_RETRIES=1)
def test_a_refused_deletion_stays_marked_with_its_error_and_is_tried_again(
    channels: tuple[Channel, Channel], answers: list[tuple[dict[str, str], str]]
) -> None:
    pub = _marked(channels[0])
    assert not services.remove_from_youtube(
        pub.pk, runtime=_runtime(Recording([token_ok(), *answers]))
    )
    pub.refresh_from_db()
    assert pub.takedown_done_at is None and pub.takedown_attempts == 1
    assert pub.takedown_error.startswith(("forbidden", "http_500"))
    assert pub in services.pending_removals()
    # The next try (a task retry or the bot's run) succeeds and clears the error.
    assert services.remove_from_youtube(
        pub.pk, runtime=_runtime(Recording([token_ok(), deleted()]))
    )
    pub.refresh_from_db()
    assert pub.takedown_done_at is not None and pub.takedown_error == ""
    assert pub.takedown_attempts == 2


def test_blocking_the_audio_queues_the_removal_on_commit_and_the_run_sweeps_it(
    separated: Callable[..., tuple[Song, list[Publication]]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _song, (ae_pub, vr_pub) = separated(3.0, title="Swept Song")
    Publication.objects.filter(pk=vr_pub.pk).update(status="uploaded", video_id="vid-swept01")
    source_id = vr_pub.job.separation.source_id  # type: ignore[union-attr]
    queued: list[str] = []
    monkeypatch.setattr(tasks.remove_video, "delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        blocks.block_source(source_id, reason="notice")
        assert queued == []  # nothing is sent before the marks are stored
    # Only the uploaded one has a video to delete; the open one never reached YouTube.
    assert queued == [str(vr_pub.pk)]

    # Had Redis been down then, the bot's run sends it again until YouTube confirms.
    queued.clear()
    tasks.run.apply().get()
    assert queued == [str(vr_pub.pk)]
    assert ae_pub.pk not in {p.pk for p in services.pending_removals()}


def test_the_removal_task_goes_to_the_bot_queue() -> None:
    from core.celery import celery_app

    assert celery_app.amqp.router.route({}, "youtube_bot.remove_video")["queue"].name == "bot"


@override_settings(YOUTUBE_MAX_RETRIES=0)
def test_the_admin_shows_where_each_removal_stands(
    admin_client: Client, channels: tuple[Channel, Channel]
) -> None:
    pub = _marked(channels[0])
    admin_client.defaults["HTTP_HOST"] = "localhost"
    page = "/admin/youtube_bot/publication/"
    assert "to be removed from YouTube" in admin_client.get(page).content.decode()
    http = Recording([token_ok(), api_error(403, "forbidden", "Not the owner")])
    services.remove_from_youtube(pub.pk, runtime=_runtime(http))
    listing = admin_client.get(page).content.decode()
    assert "removal failed 1 time(s)" in listing and "Not the owner" in listing
    services.remove_from_youtube(pub.pk, runtime=_runtime(Recording([token_ok(), deleted()])))
    assert "removed from YouTube 20" in admin_client.get(page).content.decode()
