"""Name the one video a link points to, offline, with yt-dlp's own URL matching.

youtu.be/ID, watch?v=ID&t=42, music., m., shorts/, embed/ and live/ links are all one YouTube
video; a key of (extractor, id) lets every paste of it, on either site, the API or the bot,
share one download. Nothing here touches the network: only the extractors' URL patterns run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that make yt-dlp treat a video link as a playlist; the importer fetches one
# item (noplaylist), the video named by v=, so they do not change what is downloaded.
_PLAYLIST_PARAMS = frozenset({"list", "index", "start_radio", "pp", "playnext"})
# Links of these extractors are fetched again from a standard address, whatever form was pasted.
_WATCH_URLS = {"Youtube": "https://www.youtube.com/watch?v={id}"}
_MAX_ID_LENGTH = 128

_lock = threading.Lock()
_classes: list[Any] | None = None


@dataclass(frozen=True)
class MediaKey:
    """One video or song page: the yt-dlp extractor that reads it and its id there."""

    extractor: str
    media_id: str
    url: str  # the address to fetch it from

    def __str__(self) -> str:
        return f"{self.extractor}:{self.media_id}"


def _extractors() -> list[Any]:
    """Return yt-dlp's extractor classes in matching order (plugins first), loaded once."""
    global _classes
    with _lock:
        if _classes is None:
            from yt_dlp.extractor import gen_extractor_classes
            from yt_dlp.globals import all_plugins_loaded
            from yt_dlp.plugins import load_all_plugins

            if not all_plugins_loaded.value:
                load_all_plugins()
            _classes = [ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic"]
        return _classes


def reload_extractors() -> None:
    """Forget the extractor list, so that plugins loaded since are matched too."""
    global _classes
    with _lock:
        _classes = None


def _without_playlist(url: str) -> str | None:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k in _PLAYLIST_PARAMS for k, _ in query):
        return None
    kept = [(k, v) for k, v in query if k not in _PLAYLIST_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def identify(url: str) -> MediaKey | None:
    """Return the key of the single video `url` names, or None (direct files, playlists, pages).

    The first extractor whose pattern matches is the one yt-dlp would use, as when fetching;
    an extractor of playlists or channels gives no key, since it names no single song.
    """
    # Without its playlist parameters first: one item is fetched, the video the link names.
    for candidate in filter(None, (_without_playlist(url), url)):
        for ie in _extractors():
            if not ie.suitable(candidate):
                continue
            # "video", or None for an extractor without test cases (a plugin's, say).
            if getattr(ie, "_RETURN_TYPE", None) not in ("video", None):
                break
            media_id = ie.get_temp_id(candidate)
            if not media_id or len(str(media_id)) > _MAX_ID_LENGTH:
                break
            extractor = str(ie.ie_key())
            watch = _WATCH_URLS.get(extractor)
            fetch = watch.format(id=media_id) if watch else candidate
            return MediaKey(extractor=extractor, media_id=str(media_id), url=fetch)
    return None
