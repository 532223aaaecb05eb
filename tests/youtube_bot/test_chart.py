"""The chart feed through google-api-python-client on HttpMockSequence, and the daily cap."""

from __future__ import annotations

import runpy
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django.test import override_settings
from django.utils import timezone

import core.settings
from core.celery import celery_app
from tests.youtube_bot.conftest import Recording, api_error, ok, token_ok, token_revoked
from youtube_bot import chart, quota, services, tasks
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, DeniedSource, Publication, Song
from youtube_bot.services import Runtime

VIDEOS_URL = "https://youtube.googleapis.com/youtube/v3/videos"


def item(
    video_id: str,
    title: str,
    channel: str = "Some Channel",
    *,
    channel_id: str = "UCsomechannel",
    duration: str | None = "PT3M33S",
    live: str = "none",
) -> dict[str, Any]:
    """A video resource as videos.list answers it with part=snippet,contentDetails."""
    resource: dict[str, Any] = {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {
            "title": title,
            "channelTitle": channel,
            "channelId": channel_id,
            "categoryId": "10",
            "liveBroadcastContent": live,
        },
        "contentDetails": {"definition": "hd"},
    }
    if duration is not None:
        resource["contentDetails"]["duration"] = duration
    return resource


def page(items: list[dict[str, Any]], next_token: str | None = None) -> tuple[Any, str]:
    """A videos.list answer."""
    body: dict[str, Any] = {"kind": "youtube#videoListResponse", "items": items}
    if next_token:
        body["nextPageToken"] = next_token
    return ok(body)


def query(uri: str) -> dict[str, str]:
    """Return a request's query parameters, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}


def chart_requests(http: Recording) -> list[dict[str, str]]:
    """Return the parameters of each videos.list request the mock received."""
    return [query(u) for u, m, _b, _h in http.request_sequence if u.startswith(VIDEOS_URL)]


def _runtime(http: Recording) -> Runtime:
    return Runtime(http=http, sleep=lambda _s: None, rand=lambda: 0.5)


def test_a_chart_adds_only_the_new_allowed_short_songs_with_their_rank(
    channels: tuple[Channel, Channel],
) -> None:
    vr, _ae = channels
    known = services.add_song(
        title="Old Song", artist="Known", source_url="https://www.youtube.com/watch?v=known1",
        origin=Song.Origin.PLAYLIST, source_video_id="known1",
    )  # fmt: skip
    DeniedSource.objects.create(kind="artist", value="DENIED artist", note="asked by e-mail")
    DeniedSource.objects.create(kind="channel", value="ucdeniedchannel")
    first = [
        item("good1", "Sabrina Carpenter - Espresso (Official Video) [4K]", "SabrinaCarpenterVEVO"),
        item("live1", "Big Concert LIVE", duration="P0D", live="live"),
        item("soon1", "Premiere tonight", duration="P0D", live="upcoming"),
        item("long1", "Band - Epic Song (Official Audio)", duration="PT15M1S"),
        item("known1", "Known - Old Song (Official Video)"),
        item("deny1", "Denied Artist - A Song (Official Music Video)"),
        item("deny2", "Someone - Else (Lyric Video)", channel_id="UCDeniedChannel"),
        item("good2", "Post Malone - I Had Some Help ft. Morgan Wallen (Official Video)",
             "PostMaloneVEVO", duration="PT2M58S"),
    ]  # fmt: skip
    second = [
        item("good3", "Die With A Smile", "Lady Gaga - Topic", duration="PT4M12S"),
        item("nodur", "Artist - No Length"),
        item("deny3", "Someone - Track (feat. Denied Artist)"),
        item("good4", "ROSÉ & Bruno Mars - APT. | Official Music Video", "ROSÉ"),
    ]
    for entry in second:
        if entry["id"] == "nodur":
            del entry["contentDetails"]["duration"]
    http = Recording([token_ok(), page(first, "CAgQAA"), page(second)])
    pages: list[tuple[int, str]] = []
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)

    result = chart.import_chart(
        vr, "gb", limit=12, runtime=_runtime(http), now=now,
        on_page=lambda n, tally: pages.append((n, str(tally))),
    )  # fmt: skip

    first_request, second_request = chart_requests(http)
    assert first_request == {
        "part": "snippet,contentDetails",
        "chart": "mostPopular",
        "videoCategoryId": "10",
        "regionCode": "GB",
        "maxResults": "12",
        "alt": "json",
    }
    assert second_request["pageToken"] == "CAgQAA" and second_request["maxResults"] == "4"
    assert second_request["chart"] == "mostPopular" and second_request["regionCode"] == "GB"
    songs = {
        s.source_video_id: (s.artist, s.title, s.chart, s.chart_region, s.chart_rank, s.chart_date)
        for s in Song.objects.filter(origin=Song.Origin.CHART)
    }
    day = date(2026, 3, 3)
    chart_name = "youtube-music-mostpopular"
    assert songs == {
        "good1": ("Sabrina Carpenter", "Espresso", chart_name, "GB", 1, day),
        "good2": ("Post Malone", "I Had Some Help ft. Morgan Wallen", chart_name, "GB", 8, day),
        "good3": ("Lady Gaga", "Die With A Smile", chart_name, "GB", 9, day),
        "good4": ("ROSÉ & Bruno Mars", "APT.", chart_name, "GB", 12, day),
    }
    assert [s.source_video_id for s in result.songs] == ["good1", "good2", "good3", "good4"]
    assert Song.objects.get(source_video_id="good1").source_url == (
        "https://www.youtube.com/watch?v=good1"
    )
    # Queued on both channels like any new song; the known song is left as it was.
    assert Publication.objects.filter(song__origin=Song.Origin.CHART, status="queued").count() == 8
    known.refresh_from_db()
    assert known.origin == Song.Origin.PLAYLIST and known.chart_rank is None
    assert pages == [
        (1, "8 read, 2 added, 6 skipped (2 live, 1 too long, 2 denied, 1 known)"),
        (2, "4 read, 2 added, 2 skipped (1 no duration, 1 denied)"),
    ]
    assert str(result.total) == (
        "12 read, 4 added, 8 skipped (2 live, 1 too long, 1 no duration, 3 denied, 1 known)"
    )
    # One videos.list reservation per page, from the reading channel's budget.
    assert (result.pages, result.units) == (2, 2 * quota.cost("videos.list"))
    vr.refresh_from_db()
    assert vr.quota_used == 2 * quota.cost("videos.list")


def test_the_chart_stops_at_the_limit_and_at_the_last_page(
    channels: tuple[Channel, Channel],
) -> None:
    vr, _ = channels
    many = [item(f"v{n}", f"Artist {n} - Song {n}") for n in range(5)]
    http = Recording([token_ok(), page(many, "more")])
    result = chart.import_chart(vr, "US", limit=3, runtime=_runtime(http))
    # The answer held more than asked for: only the top 3 count, and no second page is read.
    assert [s.chart_rank for s in result.songs] == [1, 2, 3]
    assert len(chart_requests(http)) == 1 and chart_requests(http)[0]["maxResults"] == "3"


def test_a_chart_song_seen_again_takes_the_latest_best_rank(
    channels: tuple[Channel, Channel],
) -> None:
    vr, _ = channels
    monday = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    tuesday = monday + timedelta(days=1)
    http = Recording([token_ok(), page([item("a", "A - One"), item("b", "B - Two")])])
    chart.import_chart(vr, "US", runtime=_runtime(http), now=monday)
    # Tuesday's US chart has them the other way round, GB's has "a" lower; the best rank holds.
    http = Recording([token_ok(), page([item("b", "B - Two"), item("a", "A - One")])])
    again = chart.import_chart(vr, "US", runtime=_runtime(http), now=tuesday)
    http = Recording([token_ok(), page([item("x", "X - Other"), item("y", "Y - Other"),
                                        item("a", "A - One")])])  # fmt: skip
    chart.import_chart(vr, "GB", runtime=_runtime(http), now=tuesday)
    assert again.songs == [] and again.total.skipped[chart.Skip.KNOWN] == 2
    ranks = {
        s.source_video_id: (s.chart_region, s.chart_rank, s.chart_date)
        for s in Song.objects.filter(source_video_id__in=["a", "b"])
    }
    assert ranks == {"a": ("US", 2, tuesday.date()), "b": ("US", 1, tuesday.date())}


def test_the_same_song_from_another_source_is_known(channels: tuple[Channel, Channel]) -> None:
    vr, _ = channels
    services.add_song(title="Hello", artist="Adele", source_url="https://e.com/hello.mp3")
    http = Recording([token_ok(), page([item("hello", "ADELE - hello (Official Video)")])])
    result = chart.import_chart(vr, "US", runtime=_runtime(http))
    assert result.songs == [] and result.total.skipped[chart.Skip.KNOWN] == 1
    assert Song.objects.count() == 1


def test_no_budget_means_no_request(channels: tuple[Channel, Channel]) -> None:
    vr, _ = channels
    Channel.objects.filter(pk=vr.pk).update(quota_budget=0)
    vr.refresh_from_db()
    http = Recording([])
    with pytest.raises(yt.YouTubeError) as err:
        chart.import_chart(vr, "US", runtime=_runtime(http))
    assert err.value.kind is yt.Kind.QUOTA and err.value.code == "quota_budget"
    assert http.request_sequence == [] and Song.objects.count() == 0


def test_youtubes_quota_answer_spends_the_budget_and_a_revoked_token_blocks_the_channel(
    channels: tuple[Channel, Channel],
) -> None:
    vr, ae = channels
    http = Recording([token_ok(), api_error(403, "quotaExceeded", "You have exceeded your quota.")])
    with pytest.raises(yt.YouTubeError, match="exceeded"):
        chart.import_chart(vr, "US", runtime=_runtime(http))
    vr.refresh_from_db()
    assert quota.remaining(vr) == 0
    with pytest.raises(yt.YouTubeError) as err:
        chart.import_chart(ae, "US", runtime=_runtime(Recording([token_revoked()])))
    assert err.value.kind is yt.Kind.AUTH
    ae.refresh_from_db()
    assert ae.status == Channel.Status.NEEDS_AUTHORIZATION and "invalid_grant" in ae.error


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("PT3M33S", 213.0),
        ("PT1H2M", 3720.0),
        ("P0D", 0.0),
        ("PT45.5S", 45.5),
        ("P1DT2H", 93600.0),
        ("P1W", 604800.0),
        ("", None),
        (None, None),
        ("3:33", None),
        ("PT", None),
        ("P", None),
        ("P1DT", None),
        ("PT3M33", None),
    ],
)
def test_parse_duration(value: str | None, seconds: float | None) -> None:
    assert chart.parse_duration(value) == seconds


def test_credited_names_cover_every_artist_of_a_song() -> None:
    assert chart.credited_names("Lil Nas X & Billy Ray Cyrus", "Old Town Road") >= {
        "lil nas x",
        "billy ray cyrus",
    }
    assert chart.credited_names("Tiësto x Ava Max", "The Motto (feat. Someone, Other)") >= {
        "tiësto",
        "ava max",
        "someone",
        "other",
    }
    assert chart.credited_names("A", "Dancing with Myself") == {"a"}


def test_a_denied_value_is_unique_whatever_its_case(db: None) -> None:
    DeniedSource.objects.create(kind="artist", value="Adele")
    DeniedSource.objects.create(kind="channel", value="adele")  # another kind
    with pytest.raises(IntegrityError):
        DeniedSource.objects.create(kind="artist", value="ADELE")


# -- the command ---------------------------------------------------------------------------------


def test_the_command_reads_with_the_first_active_channel_and_reports_each_page(
    channels: tuple[Channel, Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    vr, ae = channels
    services.add_song(
        title="Known", artist="K", source_url="https://e.com/k", source_video_id="known"
    )
    items = [
        item("one", "One - First (Official Video)"),
        item("live", "Live now", live="live", duration="P0D"),
        item("known", "K - Known"),
        item("two", "Two - Second", duration="PT20M"),
    ]
    http = Recording([token_ok(), page(items, "p2"), page([item("three", "Three - Third")])])
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: http)
    out = StringIO()
    call_command("youtube_import_chart", "--region", "us", "--limit", "5", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "page 1: 4 read, 1 added, 3 skipped (1 live, 1 too long, 1 known)"
    assert lines[1] == "page 2: 1 read, 1 added, 0 skipped"
    assert "added #1 One - First (one-first)" in lines
    assert "added #5 Three - Third (three-third)" in lines
    assert lines[-1] == (
        f"US chart of {timezone.localdate()}: 5 read, 2 added, 3 skipped "
        "(1 live, 1 too long, 1 known); 2 pages read by acapella-extractor for 2 API units"
    )
    assert [q["maxResults"] for q in chart_requests(http)] == ["5", "1"]
    ae.refresh_from_db()
    vr.refresh_from_db()
    assert (ae.quota_used, vr.quota_used) == (2, 0)  # the first active channel by slug paid


def test_the_command_uses_the_named_channel_and_refuses_what_it_cannot_do(
    channels: tuple[Channel, Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    vr, ae = channels
    http = Recording([token_ok(), page([])])
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: http)
    call_command("youtube_import_chart", "--channel", "vocals-remover", stdout=StringIO())
    vr.refresh_from_db()
    assert vr.quota_used == 1 and chart_requests(http)[0]["regionCode"] == "US"
    with pytest.raises(CommandError, match="No channel 'nope'"):
        call_command("youtube_import_chart", "--channel", "nope")
    with pytest.raises(CommandError, match="two-letter code"):
        call_command("youtube_import_chart", "--region", "USA")
    Channel.objects.filter(pk=vr.pk).update(status=Channel.Status.PAUSED)
    Channel.objects.filter(pk=ae.pk).update(refresh_token_encrypted="")
    with pytest.raises(CommandError, match="No active channel with credentials"):
        call_command("youtube_import_chart")


# -- beat and the task ---------------------------------------------------------------------------


def test_the_chart_task_goes_to_the_bot_queue() -> None:
    route = celery_app.amqp.router.route({}, "youtube_bot.import_charts")
    assert route["queue"].name == "bot"


def _fresh_settings() -> dict[str, Any]:
    """Run the settings module again, reading the environment as it is now."""
    return runpy.run_path(core.settings.__file__)


def test_beat_reads_the_charts_daily_only_when_regions_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("YOUTUBE_CHART_REGIONS", raising=False)
    assert "youtube-bot-charts" not in _fresh_settings()["CELERY_BEAT_SCHEDULE"]
    monkeypatch.setenv("YOUTUBE_CHART_REGIONS", "us, GB")
    monkeypatch.setenv("YOUTUBE_CHART_HOUR", "6")
    fresh = _fresh_settings()
    assert fresh["YOUTUBE_CHART_REGIONS"] == ["US", "GB"]
    entry = fresh["CELERY_BEAT_SCHEDULE"]["youtube-bot-charts"]
    assert entry["task"] == "youtube_bot.import_charts"
    assert entry["schedule"] == crontab(minute=0, hour=6)
    monkeypatch.setenv("YOUTUBE_CHART_REGIONS", "USA")
    with pytest.raises(ImproperlyConfigured, match="not a region code: USA"):
        _fresh_settings()


def test_the_task_reads_each_region_and_does_nothing_without_regions(
    channels: tuple[Channel, Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    us = page([item("us1", "A - US Song")])
    gb = page([item("gb1", "B - GB Song"), item("us1", "A - US Song")])
    http = Recording([token_ok(), us, token_ok(), gb])  # each region refreshes the token
    monkeypatch.setattr(httplib2, "Http", lambda *a, **kw: http)
    with override_settings(YOUTUBE_CHART_REGIONS=[]):
        assert tasks.import_charts.apply().get() == 0
    assert http.request_sequence == []
    with override_settings(YOUTUBE_CHART_REGIONS=["US", "GB"], YOUTUBE_CHART_LIMIT=7):
        assert tasks.import_charts.apply().get() == 2
    requests = chart_requests(http)
    assert [(q["regionCode"], q["maxResults"]) for q in requests] == [("US", "7"), ("GB", "7")]
    regions = dict(Song.objects.values_list("source_video_id", "chart_region"))
    assert regions == {"us1": "US", "gb1": "GB"}
