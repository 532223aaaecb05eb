"""The chart feed: a region's most popular music videos on YouTube, added to the catalogue.

`videos.list chart=mostPopular videoCategoryId=10` is read page by page (at most 50 videos a
page, each page one `videos.list` call paid by the reading channel's budget). Live and upcoming
broadcasts, videos longer than YOUTUBE_MAX_DURATION (or of no known length), artists and
channels on the deny-list and songs already in the catalogue are skipped; the others become
songs that remember their chart, region, rank and day.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from youtube_bot import quota, services
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, DeniedSource, Song

logger = logging.getLogger(__name__)

CHART = "youtube-music-mostpopular"
MUSIC_CATEGORY = "10"
PAGE_MAX = 50  # videos.list's largest maxResults

_DURATION = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: str | None) -> float | None:
    """Return the seconds of an ISO 8601 duration ("PT3M33S", "PT1H2M", "P0D"), else None."""
    match = _DURATION.fullmatch((value or "").strip())
    if match is None or not any(match.groups()):
        return None
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


class Skip(StrEnum):
    """Why a chart video was not added, in the order the checks run."""

    LIVE = "live"
    TOO_LONG = "too long"
    NO_DURATION = "no duration"
    DENIED = "denied"
    KNOWN = "known"


@dataclass
class Tally:
    """What a page of the chart, or the whole chart, gave."""

    read: int = 0
    added: int = 0
    skipped: Counter[Skip] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        """Count another page in."""
        self.read += other.read
        self.added += other.added
        self.skipped.update(other.skipped)

    def __str__(self) -> str:
        text = f"{self.read} read, {self.added} added, {self.skipped.total()} skipped"
        reasons = ", ".join(f"{self.skipped[r]} {r}" for r in Skip if self.skipped[r])
        return f"{text} ({reasons})" if reasons else text


@dataclass
class ChartImport:
    """The outcome of reading one region's chart."""

    region: str
    day: date
    songs: list[Song]
    total: Tally
    pages: int
    units: int


# Between the names of a song's artists: "A & B", "A, B", "A feat. B", "A x B"...
_JOINERS = r",|&|\+|/|\band\b|\bvs\.?|\bfeat\.?|\bft\.?|\bfeaturing\b|\bwith\b"
_SPLIT = re.compile(rf"\s*(?:{_JOINERS})\s*", re.IGNORECASE)
_SPLIT_X = re.compile(rf"\s*(?:{_JOINERS}|\s+x\s+)\s*", re.IGNORECASE)
# Credits in the title: "(feat. B)", "[with B]", "ft. B" at the end.
_TITLE_CREDITS = re.compile(
    r"[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s+([^)\]]+)|\b(?:feat\.|ft\.|featuring)\s+(.+)$",
    re.IGNORECASE,
)


def credited_names(artist: str, title: str) -> set[str]:
    """Return the casefolded names of everyone a song credits, its artist and featured ones."""
    texts = [artist, *(a or b for a, b in _TITLE_CREDITS.findall(title))]
    names = {artist.strip().casefold()}
    for text in texts:
        # Split both with and without " x ", which joins collaborators and ends "Lil Nas X".
        for split in (_SPLIT, _SPLIT_X):
            names.update(name.strip().casefold() for name in split.split(text))
    names.discard("")
    return names


@dataclass(frozen=True)
class DenyList:
    """The artists and channels that asked not to be used, casefolded."""

    artists: frozenset[str]
    channels: frozenset[str]

    @classmethod
    def load(cls) -> DenyList:
        """Read the operator's deny-list."""
        rows = list(DeniedSource.objects.values_list("kind", "value"))
        return cls(
            artists=frozenset(
                v.strip().casefold() for k, v in rows if k == DeniedSource.Kind.ARTIST
            ),
            channels=frozenset(
                v.strip().casefold() for k, v in rows if k == DeniedSource.Kind.CHANNEL
            ),
        )

    def denies(self, *, artist: str, title: str, channel_id: str, channel_title: str) -> bool:
        """Return whether the uploader's channel or any credited artist is denied."""
        if {channel_id.casefold(), channel_title.strip().casefold()} & self.channels:
            return True
        return bool(credited_names(artist, title) & self.artists)


def default_channel() -> Channel | None:
    """Return the channel that reads the chart when none is named: the first active one."""
    return (
        Channel.objects.filter(status=Channel.Status.ACTIVE)
        .exclude(refresh_token_encrypted="")
        .order_by("slug")
        .first()
    )


def _is_known(video_id: str, artist: str, title: str) -> bool:
    """Return whether the catalogue has this video, or this song from another video or source."""
    return Song.objects.filter(
        Q(source_video_id=video_id) | Q(artist__iexact=artist, title__iexact=title)
    ).exists()


def _seen_again(video_id: str, position: services.ChartPosition) -> None:
    """Give a chart song still on the chart today's best rank: the latest chart orders uploads."""
    Song.objects.filter(source_video_id=video_id, origin=Song.Origin.CHART).filter(
        Q(chart_date__lt=position.day) | Q(chart_date=position.day, chart_rank__gt=position.rank)
    ).update(chart_region=position.region, chart_rank=position.rank, chart_date=position.day)


def _take(item: dict[str, Any], position: services.ChartPosition, deny: DenyList) -> Skip | Song:
    """Add one chart video as a song, or say why not."""
    snippet = item.get("snippet") or {}
    details = item.get("contentDetails") or {}
    video_id = str(item["id"])
    if snippet.get("liveBroadcastContent", "none") != "none":
        return Skip.LIVE
    seconds = parse_duration(details.get("duration"))
    if not seconds:  # unparsable, missing, or P0D (what a broadcast reports)
        return Skip.NO_DURATION
    if seconds > settings.YOUTUBE_MAX_DURATION:
        return Skip.TOO_LONG
    channel_title = str(snippet.get("channelTitle", ""))
    artist, title = services.split_video_title(str(snippet.get("title", "")), channel_title)
    if deny.denies(
        artist=artist,
        title=title,
        channel_id=str(snippet.get("channelId", "")),
        channel_title=channel_title,
    ):
        return Skip.DENIED
    if _is_known(video_id, artist, title):
        _seen_again(video_id, position)
        return Skip.KNOWN
    try:
        return services.add_song(
            title=title,
            artist=artist,
            source_url=f"https://www.youtube.com/watch?v={video_id}",
            origin=Song.Origin.CHART,
            source_video_id=video_id,
            chart=position,
        )
    except IntegrityError:
        return Skip.KNOWN  # added meanwhile by another import


def import_chart(
    channel: Channel,
    region: str,
    *,
    limit: int = 20,
    runtime: services.Runtime | None = None,
    on_page: Callable[[int, Tally], None] | None = None,
    now: datetime | None = None,
) -> ChartImport:
    """Add the new songs among the region's `limit` most popular music videos."""
    runtime = runtime or services.Runtime()
    backoff = runtime.backoff()
    region = region.strip().upper()
    day = timezone.localdate(now)
    deny = DenyList.load()
    songs: list[Song] = []
    total = Tally()
    pages = units = seen = 0
    page: str | None = None
    try:
        client = yt.build_client(channel, runtime.http)
        while seen < limit:
            if not quota.reserve(channel, quota.cost("videos.list"), now=now):
                raise yt.YouTubeError(
                    yt.Kind.QUOTA,
                    "quota_budget",
                    f"Channel {channel.slug} has no API budget left today.",
                )
            units += quota.cost("videos.list")
            answer = yt.call(
                client.videos().list(
                    part="snippet,contentDetails",
                    chart="mostPopular",
                    videoCategoryId=MUSIC_CATEGORY,
                    regionCode=region,
                    maxResults=min(PAGE_MAX, limit - seen),
                    pageToken=page,
                ),
                f"Reading the {region} chart",
                backoff,
            )
            pages += 1
            tally = Tally()
            for item in answer.get("items", [])[: limit - seen]:
                seen += 1  # the chart position, whether or not the video is taken
                if not item.get("id"):
                    continue
                tally.read += 1
                taken = _take(item, services.ChartPosition(CHART, region, seen, day), deny)
                if isinstance(taken, Song):
                    songs.append(taken)
                    tally.added += 1
                else:
                    tally.skipped[taken] += 1
            total.add(tally)
            if on_page is not None:
                on_page(pages, tally)
            page = answer.get("nextPageToken")
            if not page:
                break
    except yt.YouTubeError as error:
        if error.kind is yt.Kind.AUTH:
            services.block_channel(channel, error.message)
        elif error.kind is yt.Kind.QUOTA and error.code != "quota_budget":
            quota.exhaust(channel, now)  # YouTube says so: the budget's count was behind
        raise
    logger.info("chart %s %s via %s: %s", region, day, channel.slug, total)
    return ChartImport(region, day, songs, total, pages, units)
