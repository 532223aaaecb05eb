"""The catalogue: songs added and queued on the channels, video titles read, playlists imported."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from youtube_bot import quota
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, Publication, Song
from youtube_bot.services.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChartPosition:
    """Where a song stood on a chart on the day the chart was read."""

    chart: str
    region: str
    rank: int
    day: date


def _unique_slug(artist: str, title: str) -> str:
    base = slugify(f"{artist} {title}")[:100] or "song"
    slug, n = base, 1
    while Song.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def add_song(
    *,
    title: str,
    artist: str,
    source_url: str = "",
    audio: File | None = None,
    origin: str = Song.Origin.COMMAND,
    source_video_id: str = "",
    chart: ChartPosition | None = None,
) -> Song:
    """Add a song to the catalogue and queue it on every channel that is not paused."""
    if not source_url and audio is None:
        raise ValueError("a song needs a link or a file")
    with transaction.atomic():
        song = Song(
            title=title.strip()[:200],
            artist=artist.strip()[:200],
            slug=_unique_slug(artist, title),
            source_url=source_url.strip(),
            origin=origin,
            source_video_id=source_video_id,
        )
        if chart is not None:
            song.chart, song.chart_region = chart.chart, chart.region
            song.chart_rank, song.chart_date = chart.rank, chart.day
        if audio is not None:
            song.audio.save(Path(audio.name or "audio").name, audio, save=False)
        song.save()
        queue_song(song)
    logger.info("song %s added (%s)", song.slug, origin)
    return song


def queue_song(song: Song, channels: QuerySet[Channel] | None = None) -> int:
    """Create the song's missing publications on channels; return how many were created."""
    if channels is None:
        channels = Channel.objects.exclude(status=Channel.Status.PAUSED)
    created = 0
    for channel in channels:
        _, new = Publication.objects.get_or_create(song=song, channel=channel)
        created += int(new)
    return created


# -- video titles ----------------------------------------------------------------------------

# A bracketed part naming one of these is packaging ("(Official Music Video)", "[4K]"), not
# part of the song's name; credits ("(feat. X)", "(with X)") are kept whatever they name.
_PACKAGING = re.compile(
    r"\b(official|officiel|oficial|video|videoclip|clip|audio|lyrics?|visuali[sz]er|hd|hq|4k|8k"
    r"|mv|m/v)(?!\w)",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\]|\u3010[^\u3010\u3011]*\u3011)")
_CREDIT = re.compile(r"^.\s*(feat\.?|ft\.?|featuring|with|prod\.?)\s", re.IGNORECASE)
_TRAILING_PACKAGING = re.compile(r"\s+(hd|hq|4k|mv|m/v)$", re.IGNORECASE)
_QUOTES = {"'": "'", '"': '"', "\u2018": "\u2019", "\u201c": "\u201d"}
_TOPIC = re.compile(r"\s+-\s+Topic$")


def _drop_packaging(match: re.Match[str]) -> str:
    part = match.group(1)
    return match.group(0) if _CREDIT.match(part) or not _PACKAGING.search(part) else ""


def _unquote(text: str) -> str:
    if len(text) > 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def split_video_title(video_title: str, owner: str) -> tuple[str, str]:
    """Return (artist, title) from "Artist - Title (Official Video)", else the owner's name."""
    # What follows " | " is packaging too ("| Official Video", an album's name).
    text = video_title.split(" | ", 1)[0]
    while (cleaner := _BRACKETED.sub(_drop_packaging, text)) != text:
        text = cleaner  # again for "(Official Video (HD))"
    text = _TRAILING_PACKAGING.sub("", " ".join(text.split())).strip()
    text = text or " ".join(video_title.split())
    owner = owner.strip()
    owner_artist = re.sub(r"VEVO$", "", _TOPIC.sub("", owner)).strip()
    # A " - Topic" channel is YouTube's own for one artist, and titles its videos with the
    # song's name alone: a dash there is part of the name ("Something - Remastered 2009").
    if not _TOPIC.search(owner):
        for dash in (" - ", " \u2013 ", " \u2014 "):  # hyphen, en dash, em dash
            if dash in text:
                artist, title = (part.strip() for part in text.split(dash, 1))
                if artist and title:
                    return artist, _unquote(title)
    return owner_artist or "Unknown artist", _unquote(text)


# -- playlist import -------------------------------------------------------------------------


def playlist_id_from(value: str) -> str:
    """Return the playlist id of an id or a playlist address."""
    query = parse_qs(urlsplit(value).query)
    return query["list"][0] if "list" in query else value.strip()


def import_playlist(
    channel: Channel, playlist: str, *, limit: int = 50, runtime: Runtime | None = None
) -> list[Song]:
    """Add a playlist's videos to the catalogue, each video once; return the new songs."""
    runtime = runtime or Runtime()
    backoff = runtime.backoff()
    client = yt.build_client(channel, runtime.http)
    playlist_id = playlist_id_from(playlist)
    added: list[Song] = []
    seen = 0
    page: str | None = None
    while seen < limit:
        if not quota.reserve(channel, quota.cost("playlistItems.list")):
            raise yt.YouTubeError(yt.Kind.QUOTA, "quota_budget", "No API budget left today.")
        answer = yt.call(
            client.playlistItems().list(
                part="snippet", playlistId=playlist_id, maxResults=min(50, limit - seen),
                pageToken=page,
            ),
            "Reading the playlist",
            backoff,
        )  # fmt: skip
        for item in answer.get("items", []):
            seen += 1
            snippet = item.get("snippet", {})
            video_id = snippet.get("resourceId", {}).get("videoId", "")
            name = snippet.get("title", "")
            if not video_id or name in ("Deleted video", "Private video"):
                continue
            if Song.objects.filter(source_video_id=video_id).exists():
                continue
            artist, title = split_video_title(name, snippet.get("videoOwnerChannelTitle", ""))
            try:
                added.append(
                    add_song(
                        title=title, artist=artist, origin=Song.Origin.PLAYLIST,
                        source_url=f"https://www.youtube.com/watch?v={video_id}",
                        source_video_id=video_id,
                    )
                )  # fmt: skip
            except IntegrityError:
                continue  # imported meanwhile by another run
        page = answer.get("nextPageToken")
        if not page:
            break
    logger.info("playlist %s: %d new songs", playlist_id, len(added))
    return added
