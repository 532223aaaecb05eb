"""The bot brings songs through the visitors' link rules and shares their downloads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

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
