"""The bot brings songs through the visitors' link rules and shares their downloads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from core.jobs import services as services_jobs
from core.jobs.models import Job, LinkImport, RemoteMedia
from shared_separation.tasks import import_link_task
from tests.audio import make_song
from tests.core.web.conftest import VR_HOST
from tests.httpsite import Site
from youtube_bot import services
from youtube_bot.models import Channel, Publication
from youtube_bot.services import Step

LINK_PORT = int(os.environ["STEMSPLIT_TEST_LINK_PORT"])
VIDEO = "bOtTuBe0001"
MEDIA = f"/media/{VIDEO}.mp3"


@pytest.fixture
def tube(tmp_path: Path) -> Iterator[Site]:
    """The local video site (its extractor: tests/ytdlp_plugins) with one 8-second song."""
    song = make_song(tmp_path / "song.mp3", 8).read_bytes()
    meta = b'{"title": "Bot Song", "artist": "The Bots", "duration": 8}'
    site = Site(
        {
            f"/api/{VIDEO}.json": (200, {"Content-Type": "application/json"}, meta),
            MEDIA: (200, {"Content-Type": "audio/mpeg"}, song),
        },
        port=LINK_PORT,
    )
    yield site
    site.close()


def test_a_video_a_visitor_brought_is_not_downloaded_again_by_the_bot(
    channels: tuple[Channel, Channel], tube: Site
) -> None:
    visitor = Client(HTTP_HOST=VR_HOST)
    visitor.post("/links/", {"url": f"{tube.base}/watch?v={VIDEO}&t=12"})
    link = LinkImport.objects.get()
    assert import_link_task(str(link.pk)) == "succeeded"
    link.refresh_from_db()
    assert tube.hits.count(MEDIA) == 1
    song = services.add_song(
        title="Bot Song", artist="The Bots", source_url=f"{tube.base}/shorts/{VIDEO}"
    )
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is not Step.FAILED
    pub.refresh_from_db()
    assert pub.job is not None
    assert pub.job.origin == Job.Origin.BOT
    assert pub.job.separation_id == link.job.separation_id  # type: ignore[union-attr]
    assert tube.hits.count(MEDIA) == 1


def test_a_video_the_bot_fetched_is_shared_with_visitors(
    channels: tuple[Channel, Channel], tube: Site
) -> None:
    song = services.add_song(
        title="Bot Song", artist="The Bots", source_url=f"{tube.base}/v/{VIDEO}"
    )
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is not Step.FAILED
    pub.refresh_from_db()
    assert pub.job is not None
    assert RemoteMedia.objects.get().fetches == 1
    response = Client(HTTP_HOST=VR_HOST).post("/links/", {"url": f"{tube.base}/embed/{VIDEO}"})
    assert response.status_code == 303
    visitor_job = Job.objects.exclude(pk=pub.job.pk).get()
    assert response["Location"] == f"/jobs/{visitor_job.pk}/"
    assert visitor_job.separation_id == pub.job.separation_id
    assert tube.hits.count(MEDIA) == 1


def test_the_bot_fetches_under_the_visitors_rules(
    channels: tuple[Channel, Channel], tube: Site, settings: Settings
) -> None:
    """Without LINK_ALLOW_GENERIC a direct file link is refused for the bot as for visitors."""
    settings.LINK_ALLOW_GENERIC = False
    tube.routes["/plain.mp3"] = tube.routes[MEDIA]
    song = services.add_song(title="Plain", artist="File", source_url=f"{tube.base}/plain.mp3")
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is Step.FAILED
    pub.refresh_from_db()
    assert pub.error_code == "link_unsupported_site"
    assert "/plain.mp3" not in tube.hits


def test_the_bot_brings_a_link_through_the_link_intake_under_the_house_plan(
    channels: tuple[Channel, Channel], tube: Site, settings: Settings
) -> None:
    """The bot's link is a LinkImport of its own; a song too long for visitors comes whole."""
    settings.ANON_MAX_DURATION = 5.0  # the 8-second song would be a visitor's preview
    song = services.add_song(
        title="Bot Song", artist="The Bots", source_url=f"{tube.base}/v/{VIDEO}"
    )
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is Step.ADVANCED
    pub.refresh_from_db()
    assert pub.link is not None and pub.job is not None
    assert (pub.link.origin, pub.link.status) == (Job.Origin.BOT, LinkImport.Status.SUCCEEDED)
    assert pub.link.job_id == pub.job.pk
    assert (pub.job.origin, pub.job.format, pub.job.preview) == (Job.Origin.BOT, "flac", False)
    assert pub.job.owner is None  # the house's song: nobody's credits


def test_a_file_link_is_downloaded_once_for_both_channels(
    channels: tuple[Channel, Channel], tube: Site
) -> None:
    """A link that names no video (no shared media) is still fetched once per song."""
    tube.routes["/plain.mp3"] = tube.routes[MEDIA]
    song = services.add_song(title="Plain", artist="File", source_url=f"{tube.base}/plain.mp3")
    made, hits = [], []
    for channel in channels:
        pub = Publication.objects.get(song=song, channel=channel)
        assert services.advance(pub.pk).step is Step.ADVANCED
        pub.refresh_from_db()
        assert pub.job is not None
        made.append((pub.job.brand, pub.job.stem, pub.job.separation_id))
        hits.append(tube.hits.count("/plain.mp3"))
    # yt-dlp's generic extractor opens a file link twice (a sniff, then the download).
    assert hits[0] > 0 and hits[1] == hits[0]
    assert LinkImport.objects.count() == 1
    assert made[0][:2] == ("vocals-remover", "accompaniment")
    assert made[1][:2] == ("acapella-extractor", "vocals")
    assert made[0][2] == made[1][2]  # one separation for both


def test_a_video_another_link_is_fetching_makes_the_bot_wait_then_go_on(
    channels: tuple[Channel, Channel], tube: Site
) -> None:
    """While a visitor's fetch of the same video holds its lease, the bot waits for it."""
    visitor = Client(HTTP_HOST=VR_HOST)
    visitor.post("/links/", {"url": f"{tube.base}/watch?v={VIDEO}"})
    first = LinkImport.objects.get()
    assert first.media_id is not None
    assert services_jobs.lease_media(first.media_id)  # the visitor's worker is downloading
    song = services.add_song(
        title="Bot Song", artist="The Bots", source_url=f"{tube.base}/v/{VIDEO}"
    )
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is Step.WAITING
    pub.refresh_from_db()
    assert pub.status == Publication.Status.QUEUED and pub.link is not None
    assert MEDIA not in tube.hits
    # The visitor's fetch ends; the bot's link attaches to that audio (the pool wakes it).
    services_jobs.release_media(first.media_id)
    assert import_link_task(str(first.pk)) == "succeeded"
    assert import_link_task(str(pub.link.pk)) in ("attached", "gone")
    assert services.advance(pub.pk).step is Step.ADVANCED
    pub.refresh_from_db()
    first.refresh_from_db()
    assert pub.job is not None and first.job is not None
    assert pub.job.separation_id == first.job.separation_id
    assert tube.hits.count(MEDIA) == 1


def test_a_requeued_publication_fetches_its_link_anew(
    channels: tuple[Channel, Channel], tube: Site, settings: Settings
) -> None:
    """Too long for the bot's limit; the operator raises it and queues the song again."""
    settings.YOUTUBE_MAX_DURATION = 5.0
    song = services.add_song(title="Long", artist="Song", source_url=f"{tube.base}/v/{VIDEO}")
    pub = Publication.objects.get(song=song, channel=channels[0])
    assert services.advance(pub.pk).step is Step.FAILED
    pub.refresh_from_db()
    assert (pub.error_code, pub.link) == ("link_too_long", None)
    failed = LinkImport.objects.get()
    assert failed.status == LinkImport.Status.FAILED and failed.origin == Job.Origin.BOT
    settings.YOUTUBE_MAX_DURATION = 60.0
    assert services.requeue(pub.pk)
    assert services.advance(pub.pk).step is Step.ADVANCED
    pub.refresh_from_db()
    assert pub.link is not None and pub.link.pk != failed.pk and pub.job is not None
    assert (pub.job.separation.source.duration or 0) > 5.0  # the whole song
