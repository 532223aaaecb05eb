"""The catalogue and each step before the upload, with real link import, ffmpeg and storage."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from core.brands import registry
from core.jobs.models import Job
from tests.youtube_bot.conftest import Recording, rendered
from youtube_bot import crypto, metadata, quota, services
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, Publication, Song
from youtube_bot.services import ChartPosition, Runtime, Step


@pytest.fixture
def dead_site() -> Iterator[str]:
    """A local web server where every link is dead (404)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with override_settings(LINK_ALLOWED_PRIVATE=[f"127.0.0.1:{port}"]):
        yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_a_song_is_queued_once_on_every_channel(channels: tuple[Channel, Channel]) -> None:
    first = services.add_song(title="Hello", artist="Adele", source_url="https://example.com/a")
    second = services.add_song(title="Hello", artist="Adele", source_url="https://example.com/b")
    assert (first.slug, second.slug) == ("adele-hello", "adele-hello-2")
    states = sorted(first.publications.values_list("channel__slug", "status"))
    assert states == [("acapella-extractor", "queued"), ("vocals-remover", "queued")]
    assert services.queue_song(first) == 0  # never twice per channel


def test_a_dead_link_fails_that_song_with_the_reason_and_the_next_song_goes_on(
    channels: tuple[Channel, Channel], dead_site: str
) -> None:
    dead = services.add_song(title="Gone", artist="Nobody", source_url=f"{dead_site}/gone.mp3")
    alive = services.add_song(
        title="Here", artist="Somebody", audio=ContentFile(b"not audio", name="x.mp3")
    )
    vr, ae = channels
    pub = Publication.objects.get(song=dead, channel=vr)
    outcome = services.advance(pub.pk)
    assert outcome.step is Step.FAILED
    pub.refresh_from_db()
    assert pub.status == Publication.Status.FAILED
    assert pub.error_code == "link_not_found"
    assert "could not be fetched" in pub.error_message and "gone.mp3" in pub.error_message
    # The other channel's publication of the same song is untouched until its own turn.
    assert Publication.objects.get(song=dead, channel=ae).status == Publication.Status.QUEUED
    # The next song is served (and fails for its own reason: its file is not audio).
    other = Publication.objects.get(song=alive, channel=vr)
    assert services.advance(other.pk).step is Step.FAILED
    other.refresh_from_db()
    assert other.error_code == "not_audio"
    # Failed songs are not scheduled again; an admin may queue them again.
    assert pub.pk not in {p.pk for p in services.due_publications()}
    assert services.requeue(pub.pk)
    pub.refresh_from_db()
    assert pub.status == Publication.Status.QUEUED and pub.error_message == ""


def test_a_stored_song_is_fetched_and_submitted_as_a_bot_job(
    channels: tuple[Channel, Channel], tmp_path: Path
) -> None:
    from tests.audio import make_song

    path = make_song(tmp_path / "s.flac", 3.0)
    song = services.add_song(
        title="T", artist="A", audio=ContentFile(path.read_bytes(), name="s.flac")
    )
    vr, ae = channels
    jobs = []
    for channel in (vr, ae):
        pub = Publication.objects.get(song=song, channel=channel)
        outcome = services.advance(pub.pk)
        assert outcome.step is Step.ADVANCED, outcome
        pub.refresh_from_db()
        assert pub.status == Publication.Status.FETCHED and pub.job is not None
        jobs.append(pub.job)
        # Not separated yet: the publication waits.
        assert services.advance(pub.pk).step is Step.WAITING
    assert [(j.origin, j.brand, j.stem) for j in jobs] == [
        (Job.Origin.BOT, "vocals-remover", "accompaniment"),
        (Job.Origin.BOT, "acapella-extractor", "vocals"),
    ]
    # Both channels' jobs share one separation: the song is separated once.
    assert jobs[0].separation_id == jobs[1].separation_id


def test_render_step_stores_video_thumbnail_and_metadata(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> None:
    _song, (_ae_pub, vr_pub) = separated(3.0, title="Shape of You")
    outcome = services.advance(vr_pub.pk)
    assert outcome.step is Step.ADVANCED, outcome
    vr_pub.refresh_from_db()
    assert vr_pub.status == Publication.Status.RENDERED and vr_pub.rendered_at is not None
    assert default_storage.exists(vr_pub.video.name)
    assert default_storage.size(vr_pub.thumbnail.name) < 2 * 1024 * 1024
    stored = json.loads(default_storage.open(f"youtube/renders/{vr_pub.pk}/metadata.json").read())
    assert stored == vr_pub.metadata
    assert stored["snippet"]["title"] == "The Testers - Shape of You (Instrumental)"


def test_a_silent_stem_fails_that_channel_only(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> None:
    _song, (ae_pub, vr_pub) = separated(2.0, silent_vocals=True, title="Instrumental Only")
    assert services.advance(ae_pub.pk).step is Step.FAILED
    ae_pub.refresh_from_db()
    assert ae_pub.status == Publication.Status.FAILED and ae_pub.error_code == "silent_stem"
    assert "acapella is silent" in ae_pub.error_message
    # The instrumental of the same song is fine.
    assert services.advance(vr_pub.pk).step is Step.ADVANCED


def test_a_dry_run_renders_and_writes_metadata_without_uploading(
    separated: Callable[..., tuple[Song, list[Publication]]],
) -> None:
    _song, (_ae, vr_pub) = separated(2.0, title="Dry")
    outcome = services.run_publication(vr_pub.pk, dry_run=True)
    assert outcome.step is Step.DONE and "dry run" in outcome.detail
    vr_pub.refresh_from_db()
    assert vr_pub.status == Publication.Status.RENDERED and vr_pub.metadata


def test_a_lease_keeps_a_second_worker_out(channels: tuple[Channel, Channel]) -> None:
    _vr, _ = channels
    song = services.add_song(title="T", artist="A", source_url="https://e.com/x")
    pub = Publication.objects.get(song=song, channel=channels[1])
    Publication.objects.filter(pk=pub.pk).update(
        status="uploaded", video_id="v", thumbnail_set=True,
        lease_until=timezone.now() + timedelta(minutes=5), lease_owner="other-worker",
    )  # fmt: skip
    assert services.advance(pub.pk).step is Step.BUSY
    # The worker died: once its lease runs out another takes over.
    Publication.objects.filter(pk=pub.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.advance(pub.pk).step is Step.DONE
    assert Publication.objects.get(pk=pub.pk).lease_owner == ""


def test_refresh_tokens_are_encrypted_at_rest(channels: tuple[Channel, Channel]) -> None:
    vr, _ = channels
    vr.refresh_from_db()
    assert "1//refresh-vr" not in vr.refresh_token_encrypted
    assert crypto.decrypt(vr.refresh_token_encrypted) == "1//refresh-vr"
    assert yt.credentials_for(vr).refresh_token == "1//refresh-vr"
    with override_settings(YOUTUBE_TOKEN_KEY="another key"), pytest.raises(yt.YouTubeError) as err:
        yt.credentials_for(vr)
    assert err.value.kind is yt.Kind.AUTH and "authorize the channel again" in err.value.message


def test_quota_resets_at_midnight_pacific(channels: tuple[Channel, Channel]) -> None:
    vr, _ = channels
    Channel.objects.filter(pk=vr.pk).update(quota_budget=2000)
    vr.refresh_from_db()
    evening = datetime(2026, 3, 3, 7, 59, tzinfo=UTC)  # 23:59 in Los Angeles
    assert quota.reserve(vr, 1600, now=evening)
    assert not quota.reserve(vr, 1600, now=evening)
    assert quota.remaining(vr, evening) == 400
    assert quota.next_reset(evening) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    morning = datetime(2026, 3, 3, 8, 1, tzinfo=UTC)
    assert quota.reserve(vr, 1600, now=morning)
    assert vr.quota_used == 1600


def test_metadata_stays_within_youtube_limits(channels: tuple[Channel, Channel]) -> None:
    vr, ae = channels
    song = services.add_song(
        title="A <very> long title " * 12, artist="Artist " * 20, source_url="https://e.com/x"
    )
    for channel in (vr, ae):
        brand = registry.get(channel.brand)
        assert brand is not None
        body = metadata.video_body(song, brand, channel)
        snippet = body["snippet"]
        assert len(snippet["title"]) <= 100 and "<" not in snippet["title"]
        suffix = "(Instrumental)" if channel.stem == "accompaniment" else "(Acapella)"
        assert snippet["title"].endswith(suffix)
        assert len(snippet["description"]) <= 5000
        first = snippet["description"].splitlines()[0]
        assert f"https://{brand.domain}/t/{song.slug}/?utm_source=youtube" in first
        assert f"utm_campaign={channel.slug}" in first
        assert metadata.tags_length(snippet["tags"]) <= 500
        assert snippet["categoryId"] == "10"
        assert body["status"] == {
            "privacyStatus": "private",
            "selfDeclaredMadeForKids": False,
            "embeddable": True,
            "license": "youtube",
        }


def test_visits_with_the_tracking_parameters_are_counted_per_video(
    channels: tuple[Channel, Channel],
) -> None:
    vr, ae = channels
    song = services.add_song(title="T", artist="A", source_url="https://e.com/x")
    Publication.objects.filter(song=song, channel=vr).update(status="uploaded", video_id="v1")
    params: dict[str, Any] = metadata.tracking_params(song, vr)
    assert services.record_visit(song, params)
    assert services.record_visit(song, params)
    assert not services.record_visit(song, {"utm_source": "google"})
    assert not services.record_visit(song, metadata.tracking_params(song, ae))  # not uploaded
    assert Publication.objects.get(song=song, channel=vr).visits == 2


def test_a_run_takes_the_oldest_songs_per_channel_up_to_the_setting(
    channels: tuple[Channel, Channel],
) -> None:
    for n in range(4):
        services.add_song(title=f"S{n}", artist="A", source_url=f"https://e.com/{n}")
    with override_settings(YOUTUBE_SONGS_PER_RUN=2):
        due = services.due_publications()
    assert sorted((p.channel.slug, p.song.title) for p in due) == [
        ("acapella-extractor", "S0"),
        ("acapella-extractor", "S1"),
        ("vocals-remover", "S0"),
        ("vocals-remover", "S1"),
    ]


def _song(title: str, chart_day: date | None = None, rank: int = 0) -> Song:
    """Add a song, found on the US chart at that rank on that day when a day is given."""
    position = None
    if chart_day is not None:
        position = ChartPosition("youtube-music-mostpopular", "US", rank, chart_day)
    return services.add_song(
        title=title, artist="A", source_url=f"https://e.com/{title}", chart=position
    )


def test_a_run_takes_the_latest_charts_best_ranks_first_then_the_other_songs_oldest_first(
    channels: tuple[Channel, Channel],
) -> None:
    today = timezone.localdate()
    _song("Old1")
    _song("Rank5", today, 5)
    _song("Old2")
    _song("Rank1", today, 1)
    _song("Yesterday1", today - timedelta(days=1), 1)
    with override_settings(YOUTUBE_SONGS_PER_RUN=5):
        due = services.due_publications()
    for slug in ("vocals-remover", "acapella-extractor"):
        assert [p.song.title for p in due if p.channel.slug == slug] == [
            "Rank1",
            "Rank5",
            "Yesterday1",
            "Old1",
            "Old2",
        ]


def test_a_channel_uploads_at_most_its_daily_limit_most_popular_first(
    channels: tuple[Channel, Channel],
) -> None:
    vr, ae = channels
    today = timezone.localdate()
    now = timezone.now()
    done = [_song(f"Done{n}") for n in range(3)]
    top, second = _song("Top", today, 1), _song("Second", today, 2)
    _song("Queued")
    for song in (top, second):
        rendered(song, vr)
    # Two uploads already this quota day, one just before it began (it counts for yesterday).
    finished = {"status": "uploaded", "thumbnail_set": True, "playlist_item_id": "PLI"}
    Publication.objects.filter(song__in=done[:2], channel=vr).update(uploaded_at=now, **finished)
    Publication.objects.filter(song=done[2], channel=vr).update(
        uploaded_at=quota.day_start(now) - timedelta(seconds=1), **finished
    )

    def due_on_vr() -> list[str]:
        with override_settings(YOUTUBE_SONGS_PER_RUN=5, YOUTUBE_CHANNEL_DAILY_LIMIT=3):
            return [p.song.title for p in services.due_publications() if p.channel == vr]

    assert services.uploads_today(vr, now) == 2
    # One upload left today: the top song's; the second's video waits, the rest still render.
    assert due_on_vr() == ["Top", "Queued"]
    Publication.objects.filter(song=top, channel=vr).update(status="uploading")
    assert due_on_vr() == ["Top", "Queued"]  # under way: it counts, and it goes on
    Publication.objects.filter(song=top, channel=vr).update(uploaded_at=now, **finished)
    assert due_on_vr() == ["Queued"]
    with override_settings(YOUTUBE_CHANNEL_DAILY_LIMIT=0):  # no cap
        assert services.uploads_left(vr, now) is None
        assert {p.song.title for p in services.due_publications() if p.channel == vr} >= {"Second"}
    # The other channel has uploaded nothing today.
    with override_settings(YOUTUBE_CHANNEL_DAILY_LIMIT=3):
        assert services.uploads_left(ae, now) == 3
    # An upload asked for anyway is parked until the next quota day, without calling YouTube.
    http = Recording([])
    pub = Publication.objects.get(song=second, channel=vr)
    with override_settings(YOUTUBE_CHANNEL_DAILY_LIMIT=3):
        outcome = services.run_publication(pub.pk, runtime=Runtime(http=http))
    assert outcome.step is Step.PARKED and "YOUTUBE_CHANNEL_DAILY_LIMIT" in outcome.detail
    assert http.request_sequence == []
    pub.refresh_from_db()
    assert pub.status == Publication.Status.RENDERED and pub.error_code == "daily_limit"
    assert pub.parked_until == quota.next_reset()
    vr.refresh_from_db()
    assert vr.quota_used == 0  # nothing reserved for an upload that did not start
