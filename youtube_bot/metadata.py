"""A video's title, description, tags and status, within YouTube's limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from core.brands.registry import Brand
from youtube_bot.models import Channel, Song

TITLE_MAX = 100
DESCRIPTION_MAX = 5000
TAGS_MAX = 500


def _clean(text: str) -> str:
    """Drop what YouTube refuses in titles and descriptions ("<" and ">") and extra spaces."""
    return " ".join(text.replace("<", "").replace(">", "").split())


def tracking_params(song: Song, channel: Channel) -> dict[str, str]:
    """Return the query that names the video a visitor came from."""
    return {
        "utm_source": "youtube",
        "utm_medium": "video",
        "utm_campaign": channel.slug,
        "utm_content": song.slug,
    }


def song_page_url(song: Song, brand: Brand, channel: Channel | None = None) -> str:
    """Return the song's page on the brand's site, with tracking parameters for a channel."""
    url = f"{settings.YOUTUBE_SITE_SCHEME}://{brand.domain}/t/{song.slug}/"
    return f"{url}?{urlencode(tracking_params(song, channel))}" if channel else url


def marker(song: Song, channel: Channel) -> str:
    """Return the text in a description that identifies the video as this song's on this channel."""
    return urlencode(tracking_params(song, channel))


def title(song: Song, brand: Brand) -> str:
    """Return "Artist - Title (Instrumental)", shortening the song's title to fit 100 characters."""
    suffix = f" ({'Acapella' if brand.stem == 'vocals' else 'Instrumental'})"
    artist, name = _clean(song.artist), _clean(song.title)
    head = f"{artist} - {name}"
    room = TITLE_MAX - len(suffix)
    if len(head) > room:
        head = head[: room - 1].rstrip() + "…"
    return head + suffix


def tags_length(tags: list[str]) -> int:
    """Return the length YouTube counts: quotes around tags with spaces, commas between."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def tags(song: Song, brand: Brand) -> list[str]:
    """Return the song's tags, dropping the last ones that do not fit 500 characters."""
    kind = "acapella" if brand.stem == "vocals" else "instrumental"
    candidates = [
        _clean(song.artist),
        _clean(song.title),
        f"{_clean(song.artist)} {_clean(song.title)} {kind}",
        f"{_clean(song.title)} {kind}",
        kind,
        "acapella" if kind == "acapella" else "karaoke",
        brand.name,
        *settings.YOUTUBE_EXTRA_TAGS,
    ]
    chosen: list[str] = []
    for tag in candidates:
        tag = tag.replace(",", " ").strip()[:100]
        if not tag or tag.lower() in {c.lower() for c in chosen}:
            continue
        if tags_length([*chosen, tag]) <= TAGS_MAX:
            chosen.append(tag)
    return chosen


def description(song: Song, brand: Brand, channel: Channel) -> str:
    """Return the description; its first line links to the song's page on the brand's site."""
    kind = "acapella (vocals only)" if brand.stem == "vocals" else "instrumental (no vocals)"
    lines = [
        f"▶ Make your own {brand.stem_label.lower()} with {brand.name}: "
        f"{song_page_url(song, brand, channel)}",
        "",
        f"{_clean(song.artist)} - {_clean(song.title)}, {kind}, separated by AI with {brand.name}.",
        f"{brand.name} turns any song into its {brand.stem_label.lower()} in a minute, free: "
        f"{settings.YOUTUBE_SITE_SCHEME}://{brand.domain}/",
        "",
        "All rights to the original recording belong to its owners. This video is for "
        "practice, karaoke and study.",
    ]
    text = "\n".join(line.replace("<", "").replace(">", "") for line in lines)
    return text[:DESCRIPTION_MAX]


def video_body(
    song: Song, brand: Brand, channel: Channel, *, now: datetime | None = None
) -> dict[str, Any]:
    """Return the `videos.insert` body: snippet and status, private unless configured."""
    status: dict[str, Any] = {
        "privacyStatus": settings.YOUTUBE_PRIVACY_STATUS,
        # Always sent: YouTube otherwise asks in Studio and holds the video.
        "selfDeclaredMadeForKids": bool(settings.YOUTUBE_MADE_FOR_KIDS),
        "embeddable": True,
        "license": "youtube",
    }
    hours = float(settings.YOUTUBE_PUBLISH_AFTER_HOURS)
    if hours > 0 and now is not None:
        # publishAt needs a private video; it goes public by itself at that time.
        status["privacyStatus"] = "private"
        status["publishAt"] = (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "snippet": {
            "title": title(song, brand),
            "description": description(song, brand, channel),
            "tags": tags(song, brand),
            "categoryId": settings.YOUTUBE_CATEGORY_ID,
        },
        "status": status,
    }
